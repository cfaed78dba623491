"""Trained per-criterion heads on frozen MiniLM embeddings: the artefact format and numpy-only inference.

A head reads a feature vector built from the customer line's embedding and statistics of the reply's sentence
embeddings, at several encoder layers (the "recipe"), and gives a probability for each level; its score is the expected level
divided by the top level. Applied to one sentence at a time (the sentence standing in for the reply) the same
head says which sentences drove the score.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from simulator import settings
from simulator.scoring.base import ScorerError
from simulator.scoring.encoder import LAYERS

FORMAT = 3
"""2: a head may be a small neural network (kind "mlp": its hidden layer stored as "<id>.hidden_weights" and
"<id>.hidden_bias"). 3: heads that share one network (the red flags' outputs of `train.fit_flag_network`) store
its hidden layer and standardisation once, under the first of them; the others name it in "hidden_of". Format 1
artefacts (linear heads only, e.g. from an older `frontline calibrate`) and format 2 ones still load."""
READABLE_FORMATS = (1, 2, 3)
EVIDENCE_PREFIX = "evidence:"
"""Evidence taggers ("evidence:<criterion>:high" / ":low") are stored beside the heads too: word-level
logistic regressions on `attribution.word_features`, saying which words carry a top (or a bottom) level."""
FLAG_PREFIX = "flag:"
"""A red flag's learned head is stored beside the criteria's heads under "flag:<red flag id>"; its score is the
probability that the reply raises the flag, compared with the threshold in its info. A flag's head is a logistic
regression or, where grouped CV says it catches more at the same precision, a one-hidden-layer network (kind
"mlp")."""
FLAG_ALSO = ":also"
"""A red flag may have a second head, stored as "flag:<id>:also": the flag is raised when either head's
probability reaches its own threshold (a logistic head and the flags' network each catch replies the other
misses)."""
BLOCKS = ("c", "x", "smax", "smin", "smean")
"""Feature blocks, each at a layer ("smax@6"): c the customer line, smax/smin/smean the per-dimension max/min/mean
over the reply's sentences, x = smean * c (how the reply relates to what the customer said)."""


_BLAS_CONTROL: tuple[int, Any] = (-1, None)
"""(len(sys.modules) when built, the threadpoolctl controller or False): rebuilt once a module has been imported
since, because an import can load another BLAS (scipy brings its own OpenBLAS) that an older controller does not
know of."""


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Every BLAS numpy and scipy use held to one thread while it runs (threadpoolctl; the controller costs
    ~1 ms to build and is kept until something new is imported; entering and leaving costs ~10 µs). The heads'
    products are small, so BLAS threads only add synchronisation: after each product OpenBLAS leaves them
    spinning on the cores ONNX Runtime is about to encode the next reply on (with the insult flag's network, a
    3,840 x 128 product, the pipe's p95 went from 7.8 to 13.6 ms on two cores), and on a busy CPU each product
    waited for a preempted thread (one `frontline calibrate` took minutes instead of seconds). Without
    threadpoolctl nothing is limited."""
    global _BLAS_CONTROL
    built_at, control = _BLAS_CONTROL
    if built_at != len(sys.modules):
        try:
            from threadpoolctl import ThreadpoolController

            control = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl is a dependency
            control = False
        _BLAS_CONTROL = (len(sys.modules), control)
    if not control:
        return contextlib.nullcontext()
    return control.limit(limits=1, user_api="blas")


def heads_dir() -> Path:
    return settings.models_dir() / "heads"


def artefact_paths(rubric_id: str, folder: Path | None = None) -> tuple[Path, Path]:
    folder = folder or heads_dir()
    return folder / f"{rubric_id}.npz", folder / f"{rubric_id}.json"


def build_features(recipe: Sequence[str], context: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Feature rows for a batch. context: (n, len(LAYERS), D); stats: (n, 3, len(LAYERS), D) from sentence_stats."""
    blocks: list[np.ndarray] = []
    for item in recipe:
        name, _, layer_text = item.partition("@")
        try:
            at = LAYERS.index(int(layer_text))
        except ValueError:
            raise ValueError(f"feature {item!r}: layer must be one of {LAYERS}") from None
        if name == "c":
            blocks.append(context[:, at])
        elif name == "x":
            blocks.append(stats[:, 2, at] * context[:, at])
        elif name == "smax":
            blocks.append(stats[:, 0, at])
        elif name == "smin":
            blocks.append(stats[:, 1, at])
        elif name == "smean":
            blocks.append(stats[:, 2, at])
        else:
            raise ValueError(f"unknown feature block {name!r}; known: {', '.join(BLOCKS)}")
    return np.concatenate(blocks, axis=1).astype(np.float32)


def sentence_stats(per_reply: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 3, L, D): per-dimension max, min and mean over each reply's sentence embeddings, each (k_i >= 1, L, D)."""
    first = per_reply[0]
    out = np.empty((len(per_reply), 3, *first.shape[1:]), dtype=np.float32)
    for i, sentences in enumerate(per_reply):
        out[i, 0] = sentences.max(axis=0)
        out[i, 1] = sentences.min(axis=0)
        out[i, 2] = sentences.mean(axis=0)
    return out


@dataclass(frozen=True)
class ReplyRows:
    """Every feature row a batch of replies is scored from, under one recipe, in one matrix, so that the heads
    sharing that recipe (usually all of a rubric's) each make one `predict` call on features built once.
    Rows [0, n) are the replies whole; `alone[i]` are reply i's sentences each read as the whole reply;
    `without[i]` are reply i without each of its sentences in turn (empty for a one-sentence reply, and for
    every reply unless `leave_one_out` was asked for: only sentence-level evidence reads them)."""

    matrix: np.ndarray
    alone: list[slice]
    without: list[slice]

    @classmethod
    def build(cls, recipe: Sequence[str], contexts: np.ndarray, sentences: Sequence[np.ndarray], *,
              leave_one_out: bool = True) -> "ReplyRows":
        """contexts (n, L, D); sentences[i] (k_i >= 1, L, D)."""
        context_rows: list[np.ndarray] = [contexts]
        stat_rows: list[np.ndarray] = [sentence_stats(sentences)]
        alone: list[slice] = []
        without: list[slice] = []
        at = len(sentences)
        for context, layers in zip(contexts, sentences):
            k = len(layers)
            repeated = np.broadcast_to(context, (k, *context.shape))
            context_rows.append(repeated)
            stat_rows.append(np.stack([layers] * 3, axis=1))  # one sentence: its max = min = mean
            alone.append(slice(at, at + k))
            at += k
            if k > 1 and leave_one_out:
                context_rows.append(repeated)
                stat_rows.append(sentence_stats([np.delete(layers, j, axis=0) for j in range(k)]))
                without.append(slice(at, at + k))
                at += k
            else:
                without.append(slice(at, at))
        matrix = build_features(recipe, np.concatenate(context_rows), np.concatenate(stat_rows))
        return cls(matrix=matrix, alone=alone, without=without)


@dataclass
class Head:
    """One criterion's head: standardise, then a linear softmax over levels (or a linear score)."""

    criterion: str
    recipe: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    """(levels, features) for kind "softmax"; (1, features) for kind "linear"."""
    bias: np.ndarray
    max_level: int
    kind: str = "softmax"
    """"softmax" (levels), "linear" (a clipped linear score) or "mlp" (one ReLU hidden layer, then a sigmoid:
    the probability of a binary label, e.g. a red flag; `weights` (1, hidden) and `bias` (1,) are its output)."""
    combine: str = "whole"
    """How the reply's score is made: "whole" (head on the whole reply), "max" (best sentence), "blend" (mean)."""
    info: dict[str, Any] = field(default_factory=dict)
    hidden_weights: np.ndarray | None = None
    """(hidden, features) for kind "mlp", else None."""
    hidden_bias: np.ndarray | None = None

    def predict(self, features: np.ndarray, shared: dict | None = None) -> np.ndarray:
        """0–1 scores for rows of features built with this head's recipe (`build_features`). `shared`, one dict
        for one batch of rows, keeps an "mlp" head's hidden layer activations for the other heads of its network
        (they share its arrays once loaded), so a network read by several flags runs its hidden layer once."""
        if self.kind == "mlp":
            key = (id(self.hidden_weights), id(self.mean), self.recipe)
            hidden = None if shared is None else shared.get(key)
            if hidden is None:
                x = (features - self.mean) / self.scale
                hidden = np.maximum(x @ self.hidden_weights.T + self.hidden_bias, 0.0)
                if shared is not None:
                    shared[key] = hidden
            return 0.5 * (1.0 + np.tanh(0.5 * (hidden @ self.weights[0] + self.bias[0])))  # sigmoid, no overflow
        x = (features - self.mean) / self.scale
        logits = x @ self.weights.T + self.bias
        if self.kind == "linear":
            return np.clip(logits[:, 0], 0.0, 1.0)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs @ np.arange(self.max_level + 1, dtype=np.float32) / self.max_level

    def sensitivity(self, features: np.ndarray) -> np.ndarray:
        """(F,) how much the score of this one row of features moves per unit of each (unstandardised) feature,
        at this row: the softmax's gradient folded over the levels. What phrase-level evidence is weighed by, for
        a criterion's head (softmax or linear; red flags, the only "mlp" heads, have no evidence)."""
        x = (features - self.mean) / self.scale
        logits = x @ self.weights.T + self.bias
        if self.kind == "linear":
            return self.weights[0] / self.scale
        logits = logits - logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        levels = np.arange(self.max_level + 1, dtype=np.float64) / self.max_level
        gradient = probs * (levels - float(probs @ levels))
        return (gradient @ self.weights) / self.scale

    def score(self, context: np.ndarray, stats: np.ndarray) -> np.ndarray:
        """0–1 scores for a batch: context (n, L, D), stats (n, 3, L, D) as from sentence_stats."""
        return self.predict(build_features(self.recipe, context, stats))

    def combined(self, whole: float, per_sentence: np.ndarray) -> float:
        if self.combine == "whole" or per_sentence.size == 0:
            return whole
        best = float(per_sentence.max())
        if self.combine == "max":
            return best
        return 0.5 * (whole + best)


def flag_heads(stored: dict[str, "Head"], flag_id: str) -> list["Head"]:
    """The learned heads of one red flag among a head set's `stored` heads: none, one, or one and its "also"."""
    return [stored[key] for key in (FLAG_PREFIX + flag_id, FLAG_PREFIX + flag_id + FLAG_ALSO) if key in stored]


def flag_raised(heads: Sequence["Head"], features_for: Callable[["Head"], np.ndarray],
                shared: dict | None = None) -> np.ndarray:
    """(n,) bool: whether a red flag with these learned heads is raised for n rows: when any head's probability
    reaches the threshold in its info. `features_for(head)` gives the rows' features under that head's recipe;
    `shared` is `Head.predict`'s, one dict for all the flags of one batch of rows."""
    raised: np.ndarray | None = None
    for head in heads:
        hit = head.predict(features_for(head), shared) >= float(head.info.get("threshold", 0.5))
        raised = hit if raised is None else raised | hit
    assert raised is not None, "a red flag with no learned head is never raised by one"
    return raised


@dataclass
class HeadSet:
    rubric_id: str
    heads: dict[str, Head]
    meta: dict[str, Any]

    @property
    def data_hash(self) -> str:
        return str(self.meta.get("data_hash", ""))


def save_heads(heads: HeadSet, folder: Path | None = None) -> tuple[Path, Path]:
    npz_path, json_path = artefact_paths(heads.rubric_id, folder)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    criteria: dict[str, Any] = {}
    networks: dict[str, str] = {}  # digest of a network's hidden layer and standardisation -> the head storing it
    for cid, head in heads.heads.items():
        spec: dict[str, Any] = {}
        network = _network_digest(head)
        if network is not None and network in networks:
            spec["hidden_of"] = networks[network]
        else:
            arrays[f"{cid}.mean"] = head.mean.astype(np.float32)
            arrays[f"{cid}.scale"] = head.scale.astype(np.float32)
            if network is not None:
                networks[network] = cid
                arrays[f"{cid}.hidden_weights"] = head.hidden_weights.astype(np.float32)
                arrays[f"{cid}.hidden_bias"] = head.hidden_bias.astype(np.float32)
        arrays[f"{cid}.weights"] = head.weights.astype(np.float32)
        arrays[f"{cid}.bias"] = head.bias.astype(np.float32)
        criteria[cid] = {
            "recipe": list(head.recipe),
            "kind": head.kind,
            "combine": head.combine,
            "max_level": head.max_level,
            **spec,
            **head.info,
        }
    tmp = npz_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(npz_path)
    meta = {**heads.meta, "format": FORMAT, "rubric": heads.rubric_id, "criteria": criteria}
    json_path.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return npz_path, json_path


def _network_digest(head: Head) -> str | None:
    """For an "mlp" head, a digest of what the heads of one network share (recipe, standardisation, hidden layer)."""
    if head.kind != "mlp" or head.hidden_weights is None or head.hidden_bias is None:
        return None
    digest = hashlib.sha256(repr(head.recipe).encode())
    for array in (head.mean, head.scale, head.hidden_weights, head.hidden_bias):
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def read_meta(rubric_id: str, folder: Path | None = None) -> dict[str, Any] | None:
    """The artefact's JSON side (cheap: no arrays), or None when this rubric has no trained heads."""
    _, json_path = artefact_paths(rubric_id, folder)
    if not json_path.is_file():
        return None
    try:
        return json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScorerError(f"trained heads {json_path} cannot be read ({exc}); retrain with `frontline train`") from exc


def load_heads(rubric_id: str, folder: Path | None = None) -> HeadSet | None:
    meta = read_meta(rubric_id, folder)
    if meta is None:
        return None
    npz_path, json_path = artefact_paths(rubric_id, folder)
    if meta.get("format") not in READABLE_FORMATS:
        raise ScorerError(f"trained heads {json_path} have format {meta.get('format')}, which this Frontline cannot "
                          f"read (it reads {', '.join(map(str, READABLE_FORMATS))}); retrain with `frontline train`, "
                          "or upgrade Frontline")
    try:
        with np.load(npz_path) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
        heads = {}
        for cid, spec in meta["criteria"].items():
            owner = spec.get("hidden_of", cid)  # heads of one network get the very same arrays (`Head.predict`)
            heads[cid] = Head(
                criterion=cid,
                recipe=tuple(spec["recipe"]),
                mean=loaded[f"{owner}.mean"],
                scale=loaded[f"{owner}.scale"],
                weights=loaded[f"{cid}.weights"],
                bias=loaded[f"{cid}.bias"],
                max_level=int(spec["max_level"]),
                kind=spec.get("kind", "softmax"),
                combine=spec.get("combine", "whole"),
                info={k: v for k, v in spec.items()
                      if k not in {"recipe", "kind", "combine", "max_level", "hidden_of"}},
                hidden_weights=loaded[f"{owner}.hidden_weights"] if spec.get("kind") == "mlp" else None,
                hidden_bias=loaded[f"{owner}.hidden_bias"] if spec.get("kind") == "mlp" else None,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ScorerError(f"trained heads {npz_path} cannot be read ({exc}); retrain with `frontline train`") from exc
    return HeadSet(rubric_id=rubric_id, heads=heads, meta=meta)
