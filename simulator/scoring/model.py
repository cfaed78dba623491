"""The real scorer: frozen MiniLM embeddings, trained heads where they exist, rubric exemplars elsewhere."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from simulator.content.rubric import Rubric
from simulator.scoring.attribution import (
    Sentence, evidence_phrases, sentence_weights, tagged_phrases, word_features, word_shares,
)
from simulator.scoring.base import ReplyScore, Scorer, ScoreRequest, ScorerError, build_reply_score
from simulator.scoring.encoder import MAX_CHARS, WEIGHTS_SHA256, Encoder, sentence_spans
from simulator.scoring.exemplar import ExemplarScorer
from simulator.scoring.heads import (
    EVIDENCE_PREFIX, FLAG_PREFIX, Head, HeadSet, ReplyRows, flag_heads, flag_raised, heads_dir, load_heads,
    one_blas_thread,
)

SCORER_REVISION = 5
"""Part of every stored turn's scorer version: scores from different revisions are not comparable. 2: the CPU
encoder runs int8 (`onnx_minilm.PRECISION`) and the heads were fitted on what it gives. 3: the insult flag's
head is a network (`train.fit_flag_network`); the version's heads part names the data they were fitted on,
which did not change, so the revision marks it. 4: a red flag may be raised by either of two heads
(`heads.FLAG_ALSO`), which a head set fitted on the same data by an older Frontline would not have. 5: the int8
graph's weights use 7 bits (`onnx_minilm.quantize_graph`), so every x86 CPU gives the same embeddings, and the
heads were refitted on them."""

RED_FLAG_THRESHOLD = 0.45
"""A reply unit this close (cosine) to one of a red flag's examples raises it, if it is also RED_FLAG_MARGIN
closer to that flag than to any of the rubric's acceptable (level >= 1) examples."""
RED_FLAG_MARGIN = 0.2
GOAL_THRESHOLD = 0.6
"""A reply unit this close (cosine) to one of a goal's example phrasings meets it."""
MAX_EVIDENCE = 3


@dataclass(frozen=True)
class _Encoded:
    context: np.ndarray
    """(L, D) the customer line at each encoder layer."""
    sentences: list[str]
    """The reply's sentences (at least one: a reply with none is its own sentence)."""
    layers: np.ndarray
    """(k, L, D) each sentence encoded on its own, at each encoder layer."""
    reply: np.ndarray
    """(D,) the reply: normalised mean of its sentences' last-layer embeddings."""
    text: str = ""
    """The reply as typed."""
    parts: tuple[Sentence, ...] = ()
    """Each sentence with where it stands in the reply and its word-pieces: what phrase evidence is read from."""

    @functools.cached_property
    def read(self) -> str:
        """The reply up to the end of the last word-piece the encoder read: words past it cannot be evidence."""
        end = max((p.start + int(p.tokens.offsets[:, 1].max(initial=0)) for p in self.parts), default=0)
        return self.text[:end]

    @functools.cached_property
    def words(self) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
        """The words of `read` and what the evidence taggers read of each (`attribution.word_features`),
        computed once a tagger asks and shared by the reply's criteria."""
        return word_features(self.read, self.parts)

    @property
    def units(self) -> np.ndarray:
        """(u, D): the whole reply, then its sentences when there are several."""
        if len(self.sentences) == 1:
            return self.reply[None, :]
        return np.vstack([self.reply[None, :], self.layers[:, -1]])


def reply_sentences(reply: str) -> list[str]:
    """What the reply is read as: its sentences and clauses, or the whole text when it has none."""
    return [reply[a:b] for a, b in reply_spans(reply)]


def reply_spans(reply: str) -> list[tuple[int, int]]:
    """Where the reply's sentences and clauses stand in it, or the whole (trimmed) text when it has none."""
    spans = sentence_spans(reply)
    if spans:
        return spans
    start = len(reply) - len(reply.lstrip())
    return [(start, start + len(reply.strip()[:MAX_CHARS]))]


class ModelScorer:
    """Implements the Scorer protocol. Loads lazily on first use, or up front with `load()` (e.g. in a thread)."""

    def __init__(
        self,
        *,
        encoder: Encoder | None = None,
        heads_folder: Path | None = None,
        use_heads: bool = True,
        red_flag_threshold: float = RED_FLAG_THRESHOLD,
        red_flag_margin: float = RED_FLAG_MARGIN,
        goal_threshold: float = GOAL_THRESHOLD,
        max_evidence: int = MAX_EVIDENCE,
        evidence_unit: str = "phrase",
    ):
        """evidence_unit: "phrase" (the words that drove each criterion: the trained evidence taggers where there
        are some, else `attribution.py`); "attribution" (`attribution.py` only) or "sentence" (whole sentences
        ranked by how much leaving each out moves the score, the earlier method): the evidence benchmark's
        baselines."""
        self.encoder = encoder or Encoder()
        self.heads_folder = heads_folder or heads_dir()
        self.use_heads = use_heads
        self.red_flag_threshold = red_flag_threshold
        self.red_flag_margin = red_flag_margin
        self.goal_threshold = goal_threshold
        self.max_evidence = max_evidence
        self.evidence_unit = evidence_unit
        self._exemplars = ExemplarScorer(self.encoder.embed)
        self._heads: dict[str, HeadSet | None] = {}
        self._lock = threading.Lock()
        self.version = self._version()

    def _version(self) -> str:
        parts = [f"frontline-scorer/{SCORER_REVISION}", f"all-minilm-l6-v2@{WEIGHTS_SHA256[:12]}"]
        adapter = self.encoder.adapter
        if adapter is not None:
            parts.append(f"adapter@{adapter.digest[:12]}")
        if not self.use_heads:
            parts.append("exemplars-only")
        elif self.heads_folder.is_dir():
            for meta_path in sorted(self.heads_folder.glob("*.json")):
                try:
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                    parts.append(f"heads:{meta['rubric']}@{str(meta['data_hash'])[:12]}")
                    if isinstance(meta.get("calibration"), dict):  # fitted to an organisation's labels
                        parts.append(f"calibrated:{meta['rubric']}@{str(meta['calibration']['labels_hash'])[:12]}")
                except (OSError, ValueError, KeyError, TypeError):
                    continue
        return " ".join(parts)

    # -- loading ----------------------------------------------------------------------------------------------

    def load(self, rubrics: Sequence[Rubric] = ()) -> "ModelScorer":
        """Load the weights and heads now and prepare the given rubrics' exemplars; raises ScorerError."""
        self.encoder.load()
        self.encoder.embed(["warm-up"], cache=False)
        for rubric in rubrics:
            self._prepare(rubric)
        return self

    def prepare(self, *contexts: str) -> None:
        """Embed customer lines ahead of time (e.g. while the trainee types), so scoring the reply costs less."""
        if contexts:
            self.encoder.embed_layers(list(contexts))

    @property
    def loaded(self) -> bool:
        return self.encoder.loaded

    def heads_for(self, rubric: Rubric) -> dict[str, Head]:
        """Trained heads matching this rubric's id and its criteria (same id, same number of levels)."""
        if not self.use_heads:
            return {}
        with self._lock:
            if rubric.id not in self._heads:
                self._heads[rubric.id] = self._checked(load_heads(rubric.id, self.heads_folder), rubric.id)
            headset = self._heads[rubric.id]
        if headset is None:
            return {}
        matching: dict[str, Head] = {}
        for criterion in rubric.criteria:
            head = headset.heads.get(criterion.id)
            if head is not None and head.max_level == criterion.max_level:
                matching[criterion.id] = head
        return matching

    def flag_heads_for(self, rubric: Rubric) -> dict[str, list[Head]]:
        """Learned heads for this rubric's red flags that have them (stored as "flag:<id>", and "flag:<id>:also"
        where either of two raises the flag, beside its criteria's)."""
        learned = self._extra_heads(rubric, FLAG_PREFIX)
        found = {flag.id: flag_heads(learned, flag.id) for flag in rubric.red_flags}
        return {flag_id: heads for flag_id, heads in found.items() if heads}

    def _extra_heads(self, rubric: Rubric, prefix: str) -> dict[str, Head]:
        """The rubric's stored heads whose key starts with `prefix` (red flags, evidence taggers)."""
        if not self.use_heads:
            return {}
        self.heads_for(rubric)  # loads the rubric's head set
        headset = self._heads.get(rubric.id)
        if headset is None:
            return {}
        return {key: head for key, head in headset.heads.items() if key.startswith(prefix)}

    def _checked(self, headset: HeadSet | None, rubric_id: str) -> HeadSet | None:
        """`headset`, if it was fitted on the encoder this scorer runs (the same adapter, or none)."""
        adapter = self.encoder.adapter
        expected = adapter.digest if adapter is not None else None
        if headset is not None and headset.meta.get("adapter") != expected:
            raise ScorerError(
                f"the trained heads for rubric {rubric_id!r} were fitted on encoder adapter "
                f"{headset.meta.get('adapter') or 'none (the base model)'}, but the scorer loads "
                f"{expected or 'none (the base model)'}; retrain them with `frontline train --rubric {rubric_id}`"
            )
        return headset

    def _prepare(self, rubric: Rubric) -> None:
        heads = self.heads_for(rubric)
        for criterion in rubric.criteria:
            if criterion.id not in heads:
                self._exemplars.prepared(criterion)
        self.encoder.embed([ex for flag in rubric.red_flags for ex in flag.examples] + _acceptable_examples(rubric))

    # -- scoring ----------------------------------------------------------------------------------------------

    def score(self, request: ScoreRequest) -> ReplyScore:
        return self.score_many([request])[0]

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[ReplyScore]:
        if not requests:
            return []
        with one_blas_thread():
            return self._score_many(requests)

    def _score_many(self, requests: Sequence[ScoreRequest]) -> list[ReplyScore]:
        encoded = self._encode(requests)
        phrases = sorted(
            {ex for r in requests for flag in r.rubric.red_flags for ex in flag.examples}
            | {ex for r in requests if r.rubric.red_flags for ex in _acceptable_examples(r.rubric)}
            | {ex for r in requests for goal in r.goals for ex in goal.examples}
            | {m for r in requests for m in r.model_replies}
        )
        vectors = dict(zip(phrases, self.encoder.embed(phrases))) if phrases else {}

        results: list[ReplyScore | None] = [None] * len(requests)
        groups: dict[int, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(id(request.rubric), []).append(i)
        for indices in groups.values():
            rubric = requests[indices[0]].rubric
            scores, evidence, learned = self._score_criteria(rubric, [encoded[i] for i in indices])
            # a reply close to one of the rubric's own examples of a flag raises it too, learned head or not
            example_flags = [(f.id, f.examples) for f in rubric.red_flags]
            for row, i in enumerate(indices):
                request, enc = requests[i], encoded[i]
                by_example = set(self._matches(
                    enc, example_flags, vectors, self.red_flag_threshold,
                    against=_acceptable_examples(rubric), margin=self.red_flag_margin,
                ))
                raised = [f.id for f in rubric.red_flags if learned[row].get(f.id) or f.id in by_example]
                results[i] = build_reply_score(
                    rubric,
                    scores[row],
                    evidence[row],
                    red_flags=raised,
                    goals_met=self._matches(
                        enc, [(g.id, g.examples) for g in request.goals], vectors, self.goal_threshold
                    ),
                    nearest_model_reply=self._nearest(enc, request.model_replies, vectors),
                    model_version=self.version,
                )
        return [r for r in results if r is not None]

    def _encode(self, requests: Sequence[ScoreRequest]) -> list[_Encoded]:
        """Each reply's sentences in one encoder call (`Encoder.reply_layers`) and each customer line on its own
        (cached ones skipped), keeping the replies' word-pieces for evidence."""
        spans = [reply_spans(r.reply) for r in requests]
        sentences = [[r.reply[a:b] for a, b in ss] for r, ss in zip(requests, spans)]
        groups = [self.encoder.reply_layers(sents) for sents in sentences]
        contexts = list(dict.fromkeys(r.context for r in requests))
        context_layers = dict(zip(contexts, self.encoder.embed_layers(contexts)))
        encoded: list[_Encoded] = []
        for request, sents, sentence_spans_, (layers, states) in zip(requests, sentences, spans, groups):
            mean = layers[:, -1].mean(axis=0)
            parts = tuple(Sentence(start=a, tokens=state, layers=vectors)
                          for (a, _), state, vectors in zip(sentence_spans_, states, layers))
            encoded.append(
                _Encoded(
                    context=context_layers[request.context],
                    sentences=sents,
                    layers=layers,
                    reply=mean / max(float(np.linalg.norm(mean)), 1e-12),
                    text=request.reply,
                    parts=parts,
                )
            )
        return encoded

    def _score_criteria(
        self, rubric: Rubric, encoded: list[_Encoded]
    ) -> tuple[list[dict[str, float]], list[dict[str, list[str]]], list[dict[str, bool]]]:
        """Per reply: each criterion's score and evidence, and whether each red flag with a learned head is
        raised (flags without one are matched to their examples by the caller)."""
        heads = self.heads_for(rubric)
        scores: list[dict[str, float]] = [{} for _ in encoded]
        evidence: list[dict[str, list[str]]] = [{} for _ in encoded]
        learned: list[dict[str, bool]] = [{} for _ in encoded]
        rows_by_recipe: dict[tuple[str, ...], ReplyRows] = {}

        def rows_for(head: Head) -> ReplyRows:
            if head.recipe not in rows_by_recipe:
                rows_by_recipe[head.recipe] = ReplyRows.build(
                    head.recipe, np.stack([e.context for e in encoded]), [e.layers for e in encoded],
                    leave_one_out=self.evidence_unit == "sentence",  # only sentence evidence reads those rows
                )
            return rows_by_recipe[head.recipe]

        taggers = self._extra_heads(rubric, EVIDENCE_PREFIX)
        shared_hidden: dict = {}  # the flags' network runs its hidden layer once for all of them
        for flag_id, flag_set in self.flag_heads_for(rubric).items():
            raised = flag_raised(flag_set, lambda head: rows_for(head).matrix[: len(encoded)], shared_hidden)
            for row in range(len(encoded)):
                learned[row][flag_id] = bool(raised[row])
        for criterion in rubric.criteria:
            head = heads.get(criterion.id)
            if head is not None:
                rows = rows_for(head)
                predicted = head.predict(rows.matrix)
                for row, enc in enumerate(encoded):
                    per_sentence = predicted[rows.alone[row]]
                    value = head.combined(float(predicted[row]), per_sentence)
                    scores[row][criterion.id] = value
                    if self.evidence_unit == "sentence":
                        evidence[row][criterion.id] = self._rank(
                            enc.sentences, _influence(value, per_sentence, predicted[rows.without[row]]),
                            descending=value >= 0.5, signed=True,
                        )
                    else:
                        side = "high" if value >= 0.5 else "low"
                        tagger = taggers.get(f"{EVIDENCE_PREFIX}{criterion.id}:{side}") if self.evidence_unit == "phrase" else None
                        evidence[row][criterion.id] = self._phrases(head, rows.matrix[row], enc, value, tagger)
            else:
                for row, enc in enumerate(encoded):
                    result = self._exemplars.score(criterion, enc.units)
                    scores[row][criterion.id] = result.score
                    influence = result.influence[1:] if len(enc.sentences) > 1 else result.influence
                    evidence[row][criterion.id] = self._rank(enc.sentences, influence, descending=True)
        return scores, evidence, learned

    def _phrases(self, head: Head, features: np.ndarray, enc: _Encoded, value: float,
                 tagger: Head | None = None) -> list[str]:
        """The words of the reply that drove this criterion's score, strongest first: those its evidence tagger
        marks for a score on this side of the middle when it marks some, else the phrases whose word-pieces
        pushed the score this way (`attribution.py`)."""
        text = enc.read
        if tagger is not None and enc.parts:
            words, word_rows, seen = enc.words
            probability = np.where(seen, tagger.predict(word_rows), 0.0) if word_rows.size else np.zeros(len(words))
            found = tagged_phrases(text, words, probability, limit=self.max_evidence)
            if found:
                return found
        weights = sentence_weights(head.recipe, head.sensitivity(features), enc.context, enc.layers)
        words, shares = word_shares(text, enc.parts, weights)
        return evidence_phrases(text, words, shares, upward=value >= 0.5, limit=self.max_evidence)

    def _rank(self, sentences: list[str], weights: np.ndarray, *, descending: bool, signed: bool = False) -> list[str]:
        """Sentences by weight, most influential first; with `signed`, only those that pushed the score the way
        it went (positive weight for a high score, negative for a low one), and always at least one."""
        if not sentences:
            return []
        order = np.argsort(-weights if descending else weights, kind="stable")
        if signed:
            pushing = [k for k in order if (weights[k] > 0 if descending else weights[k] < 0)]
            order = np.array(pushing or order[:1])
        return [sentences[k] for k in order[: self.max_evidence]]

    def _matches(
        self,
        enc: _Encoded,
        targets: list[tuple[str, Sequence[str]]],
        vectors: dict[str, np.ndarray],
        threshold: float,
        *,
        against: Sequence[str] = (),
        margin: float = 0.0,
    ) -> list[str]:
        """Ids of targets that some unit of the reply is at least `threshold` close to (cosine) and, when
        `against` is given, at least `margin` closer than to any of `against`."""
        if not any(examples for _, examples in targets):
            return []
        units = enc.units
        rival = (units @ np.stack([vectors[a] for a in against]).T).max(axis=1) if against else None
        hits: list[str] = []
        for target_id, examples in targets:
            if not examples:
                continue
            best = (units @ np.stack([vectors[ex] for ex in examples]).T).max(axis=1)
            ok = best >= threshold
            if rival is not None:
                ok &= best - rival >= margin
            if ok.any():
                hits.append(target_id)
        return hits

    def _nearest(self, enc: _Encoded, model_replies: Sequence[str], vectors: dict[str, np.ndarray]) -> str | None:
        if not model_replies:
            return None
        sims = np.stack([vectors[m] for m in model_replies]) @ enc.reply
        return model_replies[int(np.argmax(sims))]


def _influence(value: float, per_sentence: np.ndarray, without_each: np.ndarray) -> np.ndarray:
    """How much each sentence moved the reply's score `value`: the score minus the score without that sentence
    (one sentence alone: its own score). Ties are broken by the sentence's own score."""
    if len(per_sentence) == 1:
        return per_sentence
    return (value - without_each) + 1e-3 * (per_sentence - 0.5)


def _acceptable_examples(rubric: Rubric) -> list[str]:
    """The rubric's level >= 1 examples: replies that are at worst imperfect, never a red flag."""
    return [ex for c in rubric.criteria for level in c.levels[1:] for ex in level.examples]


_default: ModelScorer | None = None
_by_folder: dict[Path, ModelScorer] = {}
_default_lock = threading.Lock()


def default_scorer(heads_folder: Path | None = None) -> Scorer:
    """The process-wide ModelScorer (created on first call, weights loaded on first use or `load()`); with
    `heads_folder` (a calibrated scorer folder, `frontline calibrate`), the one scoring with the heads there."""
    global _default
    with _default_lock:
        if heads_folder is not None:
            folder = Path(heads_folder).resolve()
            if folder not in _by_folder:
                _by_folder[folder] = ModelScorer(heads_folder=folder)
            return _by_folder[folder]
        if _default is None:
            _default = ModelScorer()
        return _default
