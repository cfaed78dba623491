"""Metric functions against hand-computed values, and the baselines' behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.scoring.baselines import VaderBaseline, keyword_level
from simulator.scoring.evaluate import (
    criterion_metrics,
    format_table,
    macro_f1,
    quadratic_weighted_kappa,
    rankdata,
    spearman,
)


def test_rankdata_averages_ties():
    assert rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_hand_computed():
    # no ties: rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / 60
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    # ties: ranks [1.5, 1.5, 3] vs [1, 2, 3] -> Pearson of centred ranks (-0.5,-0.5,1)·(-1,0,1) / sqrt(1.5 * 2)
    assert spearman([0, 0, 1], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(3.0))
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_quadratic_weighted_kappa_hand_computed():
    # observed disagreement 0.25 (one 1->2 error, weight 1/4); expected 1.25 -> kappa = 1 - 0.25/1.25
    assert quadratic_weighted_kappa([0, 1, 2], [0, 2, 2], 3) == pytest.approx(0.8)
    assert quadratic_weighted_kappa([0, 1, 2, 2], [0, 1, 2, 2], 3) == pytest.approx(1.0)
    # reversed labels are worse than chance
    assert quadratic_weighted_kappa([0, 1, 2], [2, 1, 0], 3) < 0


def test_macro_f1_hand_computed():
    # label 0: F1 2/4; label 1: 4/5; label 2: 0 -> mean 1.3/3
    assert macro_f1([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], [0, 1, 2]) == pytest.approx(1.3 / 3)
    assert macro_f1([1, 1], [1, 1], [0, 1, 2]) == pytest.approx(1.0)  # absent labels are skipped


def test_criterion_metrics_and_table():
    metrics = criterion_metrics([0, 1, 2], [0.1, 0.5, 0.9], [0, 1, 2], 2)
    assert metrics == {"spearman": pytest.approx(1.0), "qwk": pytest.approx(1.0), "macro_f1": pytest.approx(1.0)}
    table = format_table([{"criterion": "empathy", "system": "keyword", "n": 3, **metrics},
                          {"criterion": "empathy", "system": "vader", "n": 3, "spearman": None, "qwk": None,
                           "macro_f1": None}])
    assert "keyword" in table and "n/a" in table and "1.000" in table


def test_keyword_baseline_follows_its_lists():
    assert keyword_level("empathy", "I'm so sorry, that must be frustrating") == 2
    assert keyword_level("empathy", "Order number.") == 0
    assert keyword_level("ownership", "I'll refund it right now") == 2
    assert keyword_level("ownership", "You'll need to call head office") == 0
    assert keyword_level("script_avoidance", "As per our policy, unfortunately we can't") == 0
    assert keyword_level("script_avoidance", "Those are the wrong tips, let's swap them") == 2
    assert keyword_level("no_such_criterion", "anything") is None


def test_vader_thresholds_are_fitted_to_training_levels():
    replies = ["This is wonderful, thank you so much!", "Great, happy to help.", "It is a box.",
               "The order number please.", "This is terrible and awful.", "I hate this, it's horrible."]
    levels = [2, 2, 1, 1, 0, 0]
    vader = VaderBaseline().fit("mood", replies, levels, 2)
    low, high = vader.thresholds["mood"]
    assert low <= high
    assert vader.levels("mood", replies).tolist() == levels
    assert np.all((VaderBaseline.scores(replies) >= 0) & (VaderBaseline.scores(replies) <= 1))
