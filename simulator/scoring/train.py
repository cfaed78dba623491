"""Fitting the per-criterion heads (scikit-learn, training time only) on the train split of the labelled data."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from simulator.content.rubric import Rubric
from simulator.errors import FrontlineError
from simulator.scoring.data import (
    Example, data_hash, default_flag_files, group_folds, load_examples, require_every_criterion, split, with_flag_labels,
)
from simulator.scoring.encoder import BASE_MODEL, LAYERS, WEIGHTS_SHA256, Encoder
from simulator.scoring.metrics import criterion_metrics
from simulator.scoring.heads import (
    EVIDENCE_PREFIX, FLAG_ALSO, FLAG_PREFIX, Head, HeadSet, build_features, flag_heads, flag_raised, save_heads,
    sentence_stats,
)

RECIPE = (
    "c@6", "x@6",
    "smax@6", "smin@6", "smean@6",
    "smax@3", "smin@3", "smean@3",
    "smax@0", "smean@0",
)
"""Chosen on 5-fold grouped CV of the train split (see models/MODEL_CARD.md): lower layers add the lexical cues
(stock phrases, "I'll", "policy") that the last layer smooths away; sentence max/min catch one deflecting or
committing sentence inside a longer reply."""
C_GRID = (0.002, 0.005, 0.01)
"""Inverse L2 strength of the logistic heads, picked per criterion by grouped CV on the train split."""
FOLDS = 5
AUGMENT = 0.5
"""Share of the clean training replies that also train as a noisy copy (typos, case, punctuation, a greeting,
a name, US/UK spelling, an emoji: `noise.py`) with the same labels, so that noise does not move a level."""
FLAG_C_GRID = (0.02, 0.1, 0.5)
FLAG_MLP_ALPHAS = (1.0, 3.0)
"""L2 strengths of the network shared by the red flags (`fit_flag_network`), tried beside the logistic heads
(FLAG_C_GRID); each flag keeps the network where it passes FLAG_NETWORK_GAIN. On the int8 encoder one network
for the three flags caught 1.7x as many insults as a logistic head at that precision on grouped CV (mocking
sympathy and "calm down" read as warm words to a linear head); a network per flag caught 1.4x."""
FLAG_NETWORK_GAIN = 1.5
"""A flag takes the network's head over its best logistic one only when the network catches at least this many
times as many flagged rows on grouped CV at MIN_FLAG_PRECISION. A network fits the wording of the settings the
data was written in, and CV folds share that wording: on the shipped data the blame network caught 1.2x as many
on CV (precision 0.93) yet raised blame in two shipped scenarios on replies that blame nobody (an owning
apology, a jargon status update), which `frontline test` caught and the logistic head does not do; the insult
network caught 1.7x as many and raised no flag there."""
FLAG_MLP_HIDDEN = 128
FLAG_MLP_SEEDS = (0, 1, 2, 3)
"""The flags' network is this many networks, one per seed, averaged (`fit_flag_network`). One network's grouped-CV
recall moved with its seed by as much as the margins (FLAG_NETWORK_GAIN, FLAG_EITHER_GAIN) the choice between
network and logistic heads rests on (insults 0.21-0.29 over four seeds on the same features), so a refit on a
slightly different encoder flipped that choice; the average of four is what the choice is made on now."""
FLAG_MLP_EPOCHS = 60
"""Passes of Adam over the rows: a fixed, early stop (the network is not trained to convergence, which would
fit the training rows' wording), chosen with the alphas on grouped CV."""
EVIDENCE_C = 0.01
"""Inverse L2 strength of the evidence taggers (word-level logistic regressions)."""
FLAG_EITHER_GAIN = 1.25
"""A flag is raised by either of two heads (its best logistic head or the flags' network, each at a threshold of
its own) only where that catches at least this many times as many flagged rows on grouped CV as one head, at
MIN_FLAG_PRECISION. Two thresholds are picked from the square of FLAG_THRESHOLDS against one from the list, so the
pair's CV recall is the more flattered; the margin asks for a gain that flattery does not explain."""
MIN_FLAG_PRECISION = 0.90
"""A learned red-flag head is kept only if its grouped-CV precision reaches this (a false flag fails a good
reply); otherwise the flag stays matched to the rubric's examples."""
FLAG_THRESHOLDS = (*np.round(np.arange(0.1, 0.96, 0.05), 2), 0.97, 0.98, 0.99, 0.995, 0.999)
"""The thresholds a red-flag head is tried at on grouped CV. Finer at the top, where the heads that reach
MIN_FLAG_PRECISION live: on the int8 encoder the insult head reached 0.875 at 0.95, the top of a 0.05 grid."""
MIN_FLAG_ROWS = 10
"""A red flag gets a learned head when at least this many training rows raise it and this many do not."""


class TrainingError(FrontlineError, ValueError):
    """The labelled data cannot train heads for this rubric; the message says why."""


@dataclass(frozen=True)
class EncodedSet:
    contexts: np.ndarray
    """(n, L, D)"""
    stats: np.ndarray
    """(n, 3, L, D)"""


def encode_examples(encoder: Encoder, examples: Sequence[Example]) -> EncodedSet:
    from simulator.scoring.model import reply_sentences

    contexts_seen = list(dict.fromkeys(e.context for e in examples))
    vectors = dict(zip(contexts_seen, encoder.embed_layers(contexts_seen, batch_size=64)))
    contexts = np.stack([vectors[e.context] for e in examples])
    # each reply's sentences in one call, as the scorer reads them (the int8 graph's result depends on the call)
    stats = sentence_stats([encoder.reply_layers(reply_sentences(e.reply))[0] for e in examples])
    return EncodedSet(contexts=contexts, stats=stats)


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and scale a head standardises its features by (a constant feature keeps scale 1)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return mean, scale


def fit_head(criterion: str, features: np.ndarray, levels: np.ndarray, max_level: int, c: float,
             recipe: Sequence[str]) -> Head:
    from sklearn.linear_model import LogisticRegression

    mean, scale = standardisation(features)
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((features - mean) / scale, levels)
    weights = np.zeros((max_level + 1, features.shape[1]), dtype=np.float32)
    bias = np.full(max_level + 1, -30.0, dtype=np.float32)  # levels never seen in training get ~0 probability
    if len(model.classes_) == 2:  # sklearn keeps one row for two classes: the second class's logit
        low, high = (int(c) for c in model.classes_)
        weights[low], bias[low] = 0.0, 0.0
        weights[high], bias[high] = model.coef_[0], model.intercept_[0]
    else:
        for row, cls in enumerate(model.classes_):
            weights[int(cls)] = model.coef_[row]
            bias[int(cls)] = model.intercept_[row]
    return Head(criterion=criterion, recipe=tuple(recipe), mean=mean.astype(np.float32),
                scale=scale.astype(np.float32), weights=weights, bias=bias, max_level=max_level)


def fit_flag_network(features: np.ndarray, labels: np.ndarray, alpha: float, recipe: Sequence[str],
                     names: Sequence[str], seeds: Sequence[int] = FLAG_MLP_SEEDS) -> dict[str, Head]:
    """One-hidden-layer ReLU networks (scikit-learn's MLPClassifier) on standardised features, with a sigmoid
    output per column of `labels` (n, len(names)), as one head per name sharing the hidden layer: what makes a
    reply an insult is learned beside what makes it blame or a refusal. One network per seed, averaged: their
    hidden layers side by side and their output weights divided by their number, so a head's logit is the
    mean of the networks' logits (still one "mlp" head). Each head's `predict` is the probability of its label."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mean, scale = standardisation(features)
    models = []
    for seed in seeds:
        model = MLPClassifier(hidden_layer_sizes=(FLAG_MLP_HIDDEN,), alpha=alpha, max_iter=FLAG_MLP_EPOCHS,
                              random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # stopping early is the point (FLAG_MLP_EPOCHS)
            model.fit((features - mean) / scale, labels if labels.shape[1] > 1 else labels[:, 0])
        models.append(model)
    hidden_weights = np.concatenate([m.coefs_[0].T for m in models]).astype(np.float32)
    hidden_bias = np.concatenate([m.intercepts_[0] for m in models]).astype(np.float32)
    output = np.concatenate([m.coefs_[1] for m in models]) / len(models)
    output_bias = np.mean([m.intercepts_[1] for m in models], axis=0)
    return {
        name: Head(criterion=name, recipe=tuple(recipe), mean=mean.astype(np.float32),
                   scale=scale.astype(np.float32), weights=output[:, j][None, :].astype(np.float32),
                   bias=output_bias[j : j + 1].astype(np.float32), max_level=1, kind="mlp",
                   hidden_weights=hidden_weights, hidden_bias=hidden_bias)
        for j, name in enumerate(names)
    }


def flag_metrics(truth: np.ndarray, raised: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of raising a red flag, and how many rows raise it in truth."""
    hits = float(np.sum(truth & raised))
    precision = hits / max(float(raised.sum()), 1.0)
    recall = hits / max(float(truth.sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    f_half = 1.25 * precision * recall / max(0.25 * precision + recall, 1e-9)
    return {"precision": precision, "recall": recall, "f1": f1, "f_half": f_half, "positives": float(truth.sum()),
            "n": float(len(truth))}


def best_flag_threshold(truth: np.ndarray, probability: np.ndarray) -> tuple[tuple, float, dict[str, float]]:
    """The threshold among FLAG_THRESHOLDS that raises a flag on the most of its rows (`truth`) while keeping
    precision at least MIN_FLAG_PRECISION, as (rank, threshold, metrics). Where none keeps that precision, the
    most precise one, ranked below any that does: rank[0] says which it is, rank[1] is its recall when it does."""
    best: tuple[tuple, float, dict[str, float]] | None = None
    for threshold in FLAG_THRESHOLDS:
        metrics = flag_metrics(truth, probability >= threshold)
        precise = metrics["precision"] >= MIN_FLAG_PRECISION
        rank = (True, metrics["recall"], metrics["precision"]) if precise else (False, metrics["precision"], 0.0)
        if best is None or rank > best[0]:
            best = (rank, float(threshold), metrics)
    assert best is not None
    return best


def _fit_flag_heads(flag_ids: Sequence[str], train: Sequence[Example], features: np.ndarray,
                    recipe: Sequence[str], say) -> dict[str, Head]:
    """A binary head per red flag, on the training rows labelled for red flags: a logistic regression of its
    own, or its output of one network shared by the flags (`fit_flag_network`) where that catches
    FLAG_NETWORK_GAIN times as many; each with the C or alpha, and threshold, that catch the most flagged rows
    on grouped-CV predictions while keeping precision at least MIN_FLAG_PRECISION: a red flag fails the turn, so a false one (a good reply sent off) costs the
    trainee more than a missed one, which the rubric's own examples may still catch. A flag gets no head (and
    is matched to its examples) when too few rows raise it or too few do not, or when no threshold reaches that
    precision."""
    rows = [i for i, e in enumerate(train) if e.red_flags is not None]
    truth = {f: np.array([f in (train[i].red_flags or ()) for i in rows], dtype=bool) for f in flag_ids}
    eligible = []
    for flag_id in flag_ids:
        if truth[flag_id].sum() < MIN_FLAG_ROWS or (~truth[flag_id]).sum() < MIN_FLAG_ROWS:
            say(f"  red flag {flag_id}: {int(truth[flag_id].sum())} of {len(rows)} labelled rows raise it; too few "
                "for a head (the rubric's examples are used instead)")
        else:
            eligible.append(flag_id)
    if not eligible:
        return {}
    subset = [train[i] for i in rows]
    x = features[rows]
    y = np.stack([truth[f] for f in eligible], axis=1).astype(int)
    folds = [(tr, va) for tr, va in group_folds(subset, FOLDS) if tr and va]

    # grouped-CV predictions of every candidate, per flag
    predictions: dict[tuple[str, float], np.ndarray] = {}
    for c in FLAG_C_GRID:
        predicted = np.zeros(y.shape)
        for j, flag_id in enumerate(eligible):
            for tr, va in folds:
                predicted[va, j] = fit_head(flag_id, x[tr], y[tr, j], 1, c, recipe).predict(x[va])
        predictions[("logistic", c)] = predicted
    for alpha in FLAG_MLP_ALPHAS:
        predicted = np.zeros(y.shape)
        for tr, va in folds:
            network = fit_flag_network(x[tr], y[tr], alpha, recipe, eligible)
            for j, flag_id in enumerate(eligible):
                predicted[va, j] = network[flag_id].predict(x[va])
        predictions[("mlp", alpha)] = predicted

    def best_of(candidates: Sequence[tuple[str, float]], j: int) -> tuple[tuple, tuple[str, float], float, dict]:
        best: tuple[tuple, tuple[str, float], float, dict[str, float]] | None = None
        for candidate in candidates:
            rank, threshold, metrics = best_flag_threshold(truth[eligible[j]], predictions[candidate][:, j])
            if best is None or rank > best[0]:
                best = (rank, candidate, threshold, metrics)
        assert best is not None
        return best

    def best_either(j: int) -> tuple[tuple, tuple, tuple[float, float], dict] | None:
        """The best logistic candidate and network, each at a threshold of its own, raising the flag when either
        does: the two kinds catch different replies (a network the mocking sympathy a linear head reads as
        warmth, a logistic head some plain put-downs the network lets through)."""
        top = np.asarray(FLAG_THRESHOLDS)
        flagged = truth[eligible[j]]
        best = None
        for lc in (k for k in predictions if k[0] == "logistic"):
            by_logistic = predictions[lc][:, j][:, None] >= top[None, :]
            for nc in (k for k in predictions if k[0] == "mlp"):
                by_network = predictions[nc][:, j][:, None] >= top[None, :]
                for a in range(len(top)):
                    raised = by_logistic[:, a : a + 1] | by_network
                    hits = (raised & flagged[:, None]).sum(axis=0)
                    precision = hits / np.maximum(raised.sum(axis=0), 1)
                    recall = hits / max(int(flagged.sum()), 1)
                    for b in np.flatnonzero(precision >= MIN_FLAG_PRECISION):
                        rank = (float(recall[b]), float(precision[b]))
                        if best is None or rank > best[0]:
                            best = (rank, (lc, nc), (float(top[a]), float(top[b])),
                                    flag_metrics(flagged, raised[:, b]))
        return best

    heads: dict[str, list[Head]] = {}
    networks: dict[float, dict[str, Head]] = {}

    def network_head(alpha: float, flag_id: str) -> Head:
        if alpha not in networks:
            networks[alpha] = fit_flag_network(x, y, alpha, recipe, eligible)
        return networks[alpha][flag_id]

    for j, flag_id in enumerate(eligible):
        logistic = best_of([k for k in predictions if k[0] == "logistic"], j)
        network = best_of([k for k in predictions if k[0] == "mlp"], j)
        logistic_recall = logistic[3]["recall"] if logistic[0][0] else 0.0
        takes_network = network[0][0] and network[3]["recall"] >= FLAG_NETWORK_GAIN * logistic_recall
        if not takes_network and network[0][0]:
            say(f"  red flag {flag_id}: the network's grouped-CV recall {network[3]['recall']:.3f} is under "
                f"{FLAG_NETWORK_GAIN}x the logistic head's {logistic_recall:.3f}; keeping the logistic head")
        _, (kind, strength), threshold, metrics = network if takes_network else logistic
        single_recall = metrics["recall"] if metrics["precision"] >= MIN_FLAG_PRECISION else 0.0
        either = best_either(j)
        if either is not None and either[3]["recall"] >= FLAG_EITHER_GAIN * single_recall:
            (_, ((_, c), (_, alpha)), (logistic_threshold, network_threshold), metrics) = either
            first = fit_head(flag_id, x, y[:, j], 1, c, recipe)
            first.info = {"model": "logistic", "C": c, "threshold": round(logistic_threshold, 3),
                          "raised_with": "either", "cv": {k: round(v, 4) for k, v in metrics.items()}}
            second = network_head(alpha, flag_id)
            second.info = {"model": "mlp", "alpha": alpha, "threshold": round(network_threshold, 3),
                           "raised_with": "either"}
            say(f"  red flag {flag_id}: logistic C={c} at {logistic_threshold:g} or network alpha={alpha} at "
                f"{network_threshold:g}, grouped-CV precision {metrics['precision']:.3f} recall "
                f"{metrics['recall']:.3f} ({int(truth[flag_id].sum())} of {len(rows)} rows raise it; one head "
                f"alone: {single_recall:.3f})")
            heads[flag_id] = [first, second]
            continue
        if either is not None:
            say(f"  red flag {flag_id}: either head raising it reaches grouped-CV recall {either[3]['recall']:.3f}, "
                f"under {FLAG_EITHER_GAIN}x one head's {single_recall:.3f}; one head")
        if metrics["precision"] < MIN_FLAG_PRECISION:
            say(f"  red flag {flag_id}: grouped-CV precision reaches {metrics['precision']:.3f} at best (recall "
                f"{metrics['recall']:.3f}), under {MIN_FLAG_PRECISION}; no learned head (the rubric's examples are "
                "used instead)")
            continue
        setting = f"alpha={strength}" if kind == "mlp" else f"C={strength}"
        say(f"  red flag {flag_id}: {kind} {setting} threshold {threshold:g} grouped-CV precision "
            f"{metrics['precision']:.3f} recall {metrics['recall']:.3f} ({int(truth[flag_id].sum())} of {len(rows)} "
            "rows raise it)")
        head = network_head(strength, flag_id) if kind == "mlp" else fit_head(flag_id, x, y[:, j], 1, strength, recipe)
        head.info = {"model": kind, ("alpha" if kind == "mlp" else "C"): strength, "threshold": round(threshold, 3),
                     "cv": {k: round(v, 4) for k, v in metrics.items()}}
        heads[flag_id] = [head]
    return heads


def evidence_dir() -> Path:
    """Hand-marked evidence spans on training replies ({"id", "reply", "spans": {criterion: [phrases]}})."""
    from simulator import settings

    return settings.models_dir() / "evidence"


def default_span_files() -> list[Path]:
    folder = evidence_dir()
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def _span_rows(files: Sequence[Path]) -> dict[str, dict]:
    from simulator.scoring.data import json_object, jsonl_lines

    rows: dict[str, dict] = {}
    for path in files:
        for where, line in jsonl_lines(path):
            row = json_object(line, where)
            if isinstance(row.get("id"), str) and isinstance(row.get("spans"), dict):
                rows[row["id"]] = row
    return rows


def fit_evidence_taggers(rubric: Rubric, train: Sequence[Example], encoder: Encoder, span_files: Sequence[Path],
                         say) -> dict[str, Head]:
    """Per criterion, two word taggers — what makes a top level ("high") and what makes level 0 ("low") — fitted
    on the training replies whose words were marked by hand (`span_files`), on the adapted encoder's word
    states (`attribution.word_features`). Stored as EVIDENCE_PREFIX + "<criterion>:<side>"."""
    from sklearn.linear_model import LogisticRegression

    from simulator.scoring.attribution import Sentence, word_features
    from simulator.scoring.model import reply_spans

    marked = _span_rows(span_files)
    rows = [e for e in train if e.id in marked and not e.noise_of and marked[e.id].get("reply") == e.reply]
    if not rows:
        return {}
    per_row: list[tuple[np.ndarray, list[tuple[int, int]], np.ndarray]] = []
    for example in rows:
        spans = reply_spans(example.reply)
        layers, states = encoder.reply_layers([example.reply[a:b] for a, b in spans])
        parts = [Sentence(start=a, tokens=state, layers=vectors)
                 for (a, _), state, vectors in zip(spans, states, layers)]
        words, features, seen = word_features(example.reply, parts)
        per_row.append((features[seen], [w for w, ok in zip(words, seen) if ok], seen))
    taggers: dict[str, Head] = {}
    for criterion in rubric.criteria:
        for side, wanted in (("high", criterion.max_level), ("low", 0)):
            xs: list[np.ndarray] = []
            ys: list[np.ndarray] = []
            for example, (features, words, _) in zip(rows, per_row):
                if example.labels.get(criterion.id) != wanted or not len(features):
                    continue
                spans = [(i, i + len(p)) for p in marked[example.id]["spans"].get(criterion.id) or []
                         for i in [example.reply.find(p)] if p and i >= 0]
                xs.append(features)
                ys.append(np.array([any(a < e and s < b for s, e in spans) for a, b in words], dtype=int))
            if len(xs) < 20 or sum(int(y.sum()) for y in ys) < 20:
                continue
            x, y = np.concatenate(xs), np.concatenate(ys)
            mean, scale = standardisation(x)
            model = LogisticRegression(C=EVIDENCE_C, max_iter=3000, class_weight="balanced")
            model.fit((x - mean) / scale, y)
            weights = np.zeros((2, x.shape[1]), dtype=np.float32)
            weights[1] = model.coef_[0]
            bias = np.array([0.0, model.intercept_[0]], dtype=np.float32)
            key = f"{EVIDENCE_PREFIX}{criterion.id}:{side}"
            taggers[key] = Head(criterion=key, recipe=("words",), mean=mean.astype(np.float32),
                                scale=scale.astype(np.float32), weights=weights, bias=bias, max_level=1,
                                info={"replies": len(xs), "words": int(len(y)), "marked": int(y.sum())})
            say(f"  evidence tagger {criterion.id}/{side}: {len(xs)} replies, {int(y.sum())} of {len(y)} words marked")
    return taggers


def levels_of(scores: np.ndarray, max_level: int) -> np.ndarray:
    """The rubric's mapping from 0–1 scores to levels (Criterion.level_for), vectorised."""
    return np.clip(np.round(np.clip(scores, 0, 1) * max_level), 0, max_level).astype(int)


def cross_validate(
    criterion: str, features: np.ndarray, levels: np.ndarray, max_level: int, folds: list[tuple[list[int], list[int]]],
    c: float, recipe: Sequence[str],
) -> dict[str, float]:
    predicted = np.zeros(len(levels))
    for train_idx, val_idx in folds:
        head = fit_head(criterion, features[train_idx], levels[train_idx], max_level, c, recipe)
        predicted[val_idx] = head.predict(features[val_idx])
    return criterion_metrics(levels, predicted, levels_of(predicted, max_level), max_level)


@dataclass(frozen=True)
class TrainResult:
    heads: HeadSet
    npz_path: Path
    json_path: Path
    n_train: int
    n_test: int


def train_heads(
    rubric: Rubric,
    data_files: Sequence[Path],
    *,
    encoder: Encoder | None = None,
    folder: Path | None = None,
    recipe: Sequence[str] = RECIPE,
    c_grid: Sequence[float] = C_GRID,
    adapt: bool = False,
    adapter_folder: Path | None = None,
    adapt_settings=None,
    flag_files: Sequence[Path] | None = None,
    span_files: Sequence[Path] | None = None,
    augment_fraction: float = AUGMENT,
    log=None,
) -> TrainResult:
    """Fit one head per criterion of `rubric` on the train split of `data_files`; write models/heads/<id>.npz.

    With `adapt`, first fine-tune the encoder adapter on the same rows and write it to `adapter_folder`
    (default models/adapter/); the heads are then fitted on the adapted encoder. Heads record which adapter
    they were fitted on, and the scorer refuses heads whose adapter is not the one it loads.
    """
    if not data_files:
        raise TrainingError("no labelled data files given (models/data/labelled/*.jsonl is empty)")
    say = log or (lambda _msg: None)
    max_levels = {c.id: c.max_level for c in rubric.criteria}
    examples = load_examples(data_files, rubric.criterion_ids, max_level=max_levels)
    require_every_criterion(examples, rubric.criterion_ids, data_files)
    flag_files = list(default_flag_files() if flag_files is None else flag_files)
    examples = with_flag_labels(examples, flag_files)
    train, test = split(examples)
    if len(train) < 20:
        raise TrainingError(f"only {len(train)} training rows after the train/test split; label more data")
    from simulator.scoring.noise import augment

    clean_train = len(train)
    train = augment(train, augment_fraction)
    if adapt:
        from simulator.scoring.adapter import save_adapter
        from simulator.scoring.finetune import AdapterSettings, fit_adapter

        complete = [e for e in train if all(c.id in e.labels for c in rubric.criteria)]
        if len(complete) < 20:
            raise TrainingError("--adapt fine-tunes on rows labelled for every criterion of the rubric, and only "
                                f"{len(complete)} are; train the adapter on a rubric whose data labels all of them")
        adapter = fit_adapter(complete, {c.id: c.max_level for c in rubric.criteria}, recipe,
                              flags=[flag.id for flag in rubric.red_flags],
                              settings=adapt_settings or AdapterSettings(), log=say)
        adapter.meta.update({"rubric": rubric.id, "data_hash": data_hash(data_files)})
        npz_path, _ = save_adapter(adapter, adapter_folder)
        say(f"wrote the encoder adapter {npz_path} (digest {adapter.digest})")
        encoder = Encoder(adapter=adapter)
    encoder = encoder or Encoder()
    adapter_digest = encoder.adapter.digest if encoder.adapter is not None else None
    say(f"encoding {len(train)} training rows ({clean_train} labelled, {len(train) - clean_train} noisy copies; "
        f"{len(test)} held out for `frontline eval`)…")
    encoded = encode_examples(encoder, train)
    all_features = build_features(recipe, encoded.contexts, encoded.stats)
    heads: dict[str, Head] = {}
    for criterion in rubric.criteria:
        # each criterion learns from the rows that label it (a new criterion's file labels only that one)
        rows = [i for i, e in enumerate(train) if criterion.id in e.labels]
        if len(rows) < 20:
            raise TrainingError(f"criterion {criterion.id!r}: only {len(rows)} training rows label it; label more "
                                "data for it (a JSONL column named after the criterion)")
        subset = [train[i] for i in rows]
        features_by_recipe = all_features[rows]
        folds = [(tr, va) for tr, va in group_folds(subset, FOLDS) if tr and va]
        levels = np.array([e.labels[criterion.id] for e in subset])
        if len(set(levels.tolist())) < 2:
            raise TrainingError(f"criterion {criterion.id!r}: every training row has level {levels[0]}; "
                                "a head needs at least two levels")
        best_c, best_cv, best_key = c_grid[0], {}, -np.inf
        for c in c_grid:
            cv = cross_validate(criterion.id, features_by_recipe, levels, criterion.max_level, folds, c, recipe)
            key = cv["spearman"] + cv["qwk"]
            if key > best_key:
                best_c, best_cv, best_key = c, cv, key
        say(f"  {criterion.id}: C={best_c} grouped-CV spearman {best_cv['spearman']:.3f} qwk {best_cv['qwk']:.3f}")
        head = fit_head(criterion.id, features_by_recipe, levels, criterion.max_level, best_c, recipe)
        head.info = {"C": best_c, "cv": {k: round(v, 4) for k, v in best_cv.items()},
                     "train_level_counts": np.bincount(levels, minlength=criterion.max_level + 1).tolist()}
        heads[criterion.id] = head
    flag_cv: dict[str, dict[str, float]] = {}
    for flag_id, flag_set in _fit_flag_heads([flag.id for flag in rubric.red_flags], train, all_features, recipe,
                                             say).items():
        heads[FLAG_PREFIX + flag_id] = flag_set[0]
        if len(flag_set) > 1:
            heads[FLAG_PREFIX + flag_id + FLAG_ALSO] = flag_set[1]
        flag_cv[flag_id] = flag_set[0].info["cv"]
    span_files = list(default_span_files() if span_files is None else span_files)
    heads.update(fit_evidence_taggers(rubric, train, encoder, span_files, say))
    held_out: dict[str, dict[str, float]] = {}
    if test:
        say(f"scoring the {len(test)} held-out rows (reported only, never used to choose anything)…")
        encoded_test = encode_examples(encoder, test)
        features_test = build_features(recipe, encoded_test.contexts, encoded_test.stats)
        for criterion in rubric.criteria:
            rows = [i for i, e in enumerate(test) if criterion.id in e.labels]
            if not rows:
                continue
            truth = np.array([test[i].labels[criterion.id] for i in rows])
            predicted = heads[criterion.id].predict(features_test[rows])
            metrics = criterion_metrics(truth, predicted, levels_of(predicted, criterion.max_level), criterion.max_level)
            held_out[criterion.id] = {k: round(v, 4) for k, v in metrics.items()}
        for flag in rubric.red_flags:
            flag_set = flag_heads(heads, flag.id)
            rows = [i for i, e in enumerate(test) if e.red_flags is not None]
            if not flag_set or not rows:
                continue
            truth = np.array([flag.id in (test[i].red_flags or ()) for i in rows])
            raised = flag_raised(flag_set, lambda _head: features_test[rows])
            held_out[FLAG_PREFIX + flag.id] = {k: round(v, 4) for k, v in flag_metrics(truth, raised).items()}
    import sklearn

    meta = {
        "data_hash": data_hash([*data_files, *flag_files, *span_files]),
        "data_files": [Path(p).name for p in [*data_files, *flag_files, *span_files]],
        "rows": {"train": clean_train, "noisy_copies": len(train) - clean_train, "test": len(test)},
        # each flag's heads (one, or two raising it when either does), each with its model and threshold
        "red_flag_heads": {fid: {"cv": cv, "heads": [{"model": h.info["model"], "threshold": h.info["threshold"]}
                                                     for h in flag_heads(heads, fid)]}
                           for fid, cv in flag_cv.items()},
        "rows_per_criterion": {c.id: {"train": sum(c.id in e.labels for e in train),
                                      "test": sum(c.id in e.labels for e in test)} for c in rubric.criteria},
        "base_model": BASE_MODEL,
        "base_model_sha256": WEIGHTS_SHA256,
        "adapter": adapter_digest,
        "layers": list(LAYERS),
        "feature_recipe": list(recipe),
        "head": "multinomial logistic regression on standardised features; score = expected level / top level",
        "cv_folds": FOLDS,
        "held_out_metrics": held_out,
        "trained_with": f"scikit-learn {sklearn.__version__}",
        "trained_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    headset = HeadSet(rubric_id=rubric.id, heads=heads, meta=meta)
    npz_path, json_path = save_heads(headset, folder)
    return TrainResult(heads=headset, npz_path=npz_path, json_path=json_path, n_train=len(train), n_test=len(test))
