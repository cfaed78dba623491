"""Held-out evaluation: Spearman, quadratic weighted kappa and macro-F1 per criterion, for Frontline and baselines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np

from simulator.rubric import Rubric

# -- metrics ----------------------------------------------------------------------------------------------------


def rankdata(values: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho (Pearson correlation of tie-averaged ranks); 0.0 where either side is constant."""
    if len(a) != len(b):
        raise ValueError("spearman needs two sequences of equal length")
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def quadratic_weighted_kappa(truth: Sequence[int], predicted: Sequence[int], n_levels: int | None = None) -> float:
    """Cohen's kappa with quadratic disagreement weights; 1 = perfect, 0 = chance agreement."""
    t = np.asarray(truth, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    if len(t) != len(p):
        raise ValueError("kappa needs two sequences of equal length")
    k = n_levels or int(max(t.max(initial=0), p.max(initial=0))) + 1
    observed = np.zeros((k, k))
    np.add.at(observed, (t, p), 1)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / max(len(t), 1)
    idx = np.arange(k)
    weights = (idx[:, None] - idx[None, :]) ** 2 / max((k - 1) ** 2, 1)
    denom = (weights * expected).sum()
    return float(1.0 - (weights * observed).sum() / denom) if denom > 0 else 1.0


def macro_f1(truth: Sequence[int], predicted: Sequence[int], labels: Sequence[int] | None = None) -> float:
    """Unweighted mean over labels of F1; a label absent from both sides is skipped."""
    t = np.asarray(truth)
    p = np.asarray(predicted)
    labels = sorted(set(t.tolist()) | set(p.tolist())) if labels is None else list(labels)
    scores: list[float] = []
    for label in labels:
        tp = int(((t == label) & (p == label)).sum())
        fp = int(((t != label) & (p == label)).sum())
        fn = int(((t == label) & (p != label)).sum())
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def criterion_metrics(truth: Sequence[int], scores: Sequence[float], levels: Sequence[int], max_level: int) -> dict[str, float]:
    """Spearman on the continuous 0–1 scores; QWK and macro-F1 on the levels."""
    return {
        "spearman": spearman(scores, truth),
        "qwk": quadratic_weighted_kappa(truth, levels, max_level + 1),
        "macro_f1": macro_f1(truth, levels, range(max_level + 1)),
    }


# -- the held-out table -----------------------------------------------------------------------------------------

SYSTEMS = ("frontline", "exemplar-only", "keyword", "vader")
METRICS = ("spearman", "qwk", "macro_f1")


def evaluate(
    rubric: Rubric,
    data_files: Sequence[Path],
    *,
    scorer=None,
    systems: Sequence[str] = SYSTEMS,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    """One row per (criterion, system) on the test split: n, spearman, qwk, macro_f1 (None where not applicable).

    "frontline" is `scorer` (the ModelScorer with trained heads where they exist); "exemplar-only" is the same
    encoder scoring every criterion against the rubric's examples, as a criterion without heads would be.
    Baselines are fitted on the train split only.
    """
    from simulator.scoring.baselines import VaderBaseline, keyword_level
    from simulator.scoring.base import ScoreRequest
    from simulator.scoring.data import load_examples, split
    from simulator.scoring.model import ModelScorer

    say = log or (lambda _msg: None)
    examples = load_examples(data_files, rubric.criterion_ids, max_level={c.id: c.max_level for c in rubric.criteria})
    train, test = split(examples)
    if not test:
        raise ValueError("the test split is empty: the labelled data has too few distinct customer lines")
    replies = [e.reply for e in test]
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def run(name: str, model) -> None:
        say(f"scoring {len(test)} held-out rows with {name}…")
        requests = [ScoreRequest(reply=e.reply, context=e.context, rubric=rubric) for e in test]
        results = []
        for start in range(0, len(requests), 64):
            results.extend(model.score_many(requests[start : start + 64]))
        predictions[name] = {
            c.id: (np.array([r.criteria[c.id].score for r in results]), np.array([r.criteria[c.id].level for r in results]))
            for c in rubric.criteria
        }

    if "frontline" in systems:
        scorer = scorer or ModelScorer()
        run("frontline", scorer)
    if "exemplar-only" in systems:
        encoder = scorer.encoder if isinstance(scorer, ModelScorer) else None
        run("exemplar-only", ModelScorer(encoder=encoder, use_heads=False))
    if "keyword" in systems:
        predictions["keyword"] = {}
        for c in rubric.criteria:
            levels = [keyword_level(c.id, r, c.max_level) for r in replies]
            if all(level is not None for level in levels):
                lv = np.array(levels, dtype=int)
                predictions["keyword"][c.id] = (lv / c.max_level, lv)
    if "vader" in systems:
        vader = VaderBaseline()
        scores = VaderBaseline.scores(replies)
        predictions["vader"] = {}
        for c in rubric.criteria:
            vader.fit(c.id, [e.reply for e in train], [e.labels[c.id] for e in train], c.max_level)
            predictions["vader"][c.id] = (scores, vader.levels(c.id, replies))

    rows: list[dict[str, object]] = []
    for c in rubric.criteria:
        truth = np.array([e.labels[c.id] for e in test])
        for name in systems:
            found = predictions.get(name, {}).get(c.id)
            row: dict[str, object] = {"criterion": c.id, "system": name, "n": len(test)}
            metrics = criterion_metrics(truth, found[0], found[1], c.max_level) if found else {}
            row.update({m: (round(metrics[m], 3) if m in metrics else None) for m in METRICS})
            rows.append(row)
    return rows


def format_table(rows: Sequence[dict[str, object]]) -> str:
    header = f"{'criterion':<18} {'system':<14} {'n':>4} {'spearman':>9} {'qwk':>7} {'macro_f1':>9}"
    lines = [header, "-" * len(header)]
    previous = None
    for row in rows:
        if previous is not None and row["criterion"] != previous:
            lines.append("")
        previous = row["criterion"]
        cells = [f"{row[m]:.3f}" if isinstance(row[m], float) else "n/a" for m in METRICS]
        lines.append(f"{row['criterion']:<18} {row['system']:<14} {row['n']:>4} {cells[0]:>9} {cells[1]:>7} {cells[2]:>9}")
    return "\n".join(lines)


def print_table(rows: Sequence[dict[str, object]], file: TextIO | None = None) -> None:
    print(format_table(rows), file=file or sys.stdout)
