"""Agreement metrics between labels and scores: Spearman, quadratic weighted kappa, macro-F1.

Plain numpy, shared by evaluation, training and the baselines (none of which import each other for them).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


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
