"""`fit_towards` solves the calibration objective in the span of the organisation's rows: the head it returns
must be the minimiser of the full objective over every weight (its gradient there is zero), whether there are
fewer rows than features (the usual case) or more."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.scoring.calibrate import BIAS_PRIOR, fit_towards
from simulator.scoring.heads import Head

pytest.importorskip("scipy")


def _head(features: int, rng: np.random.Generator) -> Head:
    return Head(criterion="ownership", recipe=("c@6",), mean=rng.normal(size=features).astype(np.float32),
                scale=rng.uniform(0.5, 2.0, size=features).astype(np.float32),
                weights=rng.normal(scale=0.1, size=(3, features)).astype(np.float32),
                bias=rng.normal(scale=0.1, size=3).astype(np.float32), max_level=2, info={"C": 0.01})


def _full_gradient(base: Head, head: Head, features: np.ndarray, levels: np.ndarray, a: float):
    x = ((features - base.mean) / base.scale).astype(np.float64)
    w, b = head.weights.astype(np.float64), head.bias.astype(np.float64)
    logits = x @ w.T + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(3)[levels]
    grad_w = a * (p - onehot).T @ x + (w - base.weights)
    grad_b = a * (p - onehot).sum(axis=0) + BIAS_PRIOR * (b - base.bias)
    return grad_w, grad_b


@pytest.mark.parametrize("rows,features", [(24, 200), (150, 40)])
def test_fit_towards_is_the_full_objectives_minimiser(rows, features):
    rng = np.random.default_rng(rows)
    base = _head(features, rng)
    x = rng.normal(size=(rows, features)).astype(np.float32) * base.scale + base.mean
    levels = rng.integers(0, 3, size=rows)
    strength = 60.0
    head = fit_towards(base, x, levels, strength)
    grad_w, grad_b = _full_gradient(base, head, x, levels, strength * 0.01)
    moved = np.abs(head.weights - base.weights).max()
    assert moved > 1e-2  # the labels (random, so unlike the base head's) pulled it
    assert np.abs(grad_w).max() < 1e-3 * max(1.0, moved) and np.abs(grad_b).max() < 1e-3
    truth = (levels / 2.0)
    assert np.abs(head.predict(x) - truth).mean() < np.abs(base.predict(x) - truth).mean()
    assert fit_towards(base, x, levels, 0.0) is base
