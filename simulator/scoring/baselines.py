"""Two simple baselines the model has to beat: keyword matching and VADER sentiment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from simulator.scoring.metrics import quadratic_weighted_kappa


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class KeywordRule:
    """Score = clip(base + hits(positive) - hits(negative), 0, top level)."""

    positive: re.Pattern[str] | None = None
    negative: re.Pattern[str] | None = None
    base: int = 0


KEYWORDS: dict[str, KeywordRule] = {
    "empathy": KeywordRule(
        positive=_words(
            "sorry", "apologi[sz]e", "understand", "frustrat\\w*", "awful", "terrible", "rubbish", "no wonder",
            "must be", "i hear you", "i'd be", "that's not (?:ok|okay|right|fair)", "annoy\\w*", "upset\\w*",
        ),
        negative=_words("calm down", "your fault", "should have", "not my problem"),
    ),
    "ownership": KeywordRule(
        positive=_words(
            "i'll", "i will", "let me", "i've", "i have", "i'm going to", "right now", "today", "refund\\w*",
            "issued", "sorted", "i can",
        ),
        negative=_words(
            "you'll need to", "you will need to", "you have to", "call", "contact", "not my", "department",
            "head office", "nothing i can", "can't", "cannot", "unable",
        ),
    ),
    "script_avoidance": KeywordRule(
        negative=_words(
            "policy", "unfortunately", "value you", "inconvenience", "anything else", "your call is important",
            "at this time", "apologi[sz]e for any", "valued customer", "we regret", "per our", "as per",
        ),
        base=2,
    ),
}


def keyword_level(criterion: str, reply: str, max_level: int = 2) -> int | None:
    """The keyword baseline's level, or None when there is no keyword list for this criterion."""
    rule = KEYWORDS.get(criterion)
    if rule is None:
        return None
    hits = rule.base
    if rule.positive is not None:
        hits += len(rule.positive.findall(reply))
    if rule.negative is not None:
        hits -= len(rule.negative.findall(reply))
    return int(min(max_level, max(0, hits)))


_vader = None


def vader_compound(texts: Sequence[str]) -> np.ndarray:
    global _vader
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    return np.array([_vader.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


@dataclass
class VaderBaseline:
    """VADER compound sentiment, cut into levels at thresholds fitted on the train split (best QWK)."""

    thresholds: dict[str, list[float]] = field(default_factory=dict)

    def fit(self, criterion: str, replies: Sequence[str], levels: Sequence[int], max_level: int) -> "VaderBaseline":
        compound = vader_compound(replies)
        truth = np.asarray(levels)
        grid = np.unique(np.quantile(compound, np.linspace(0.02, 0.98, 49)))
        best: tuple[float, list[float]] = (-np.inf, [0.0] * max_level)
        if max_level == 2:
            for i, low in enumerate(grid):
                for high in grid[i:]:
                    cuts = [float(low), float(high)]
                    kappa = quadratic_weighted_kappa(truth, _cut(compound, cuts), max_level + 1)
                    if kappa > best[0]:
                        best = (kappa, cuts)
        else:  # evenly spaced quantile cuts for other level counts
            best = (0.0, [float(q) for q in np.quantile(compound, np.linspace(0, 1, max_level + 2)[1:-1])])
        self.thresholds[criterion] = best[1]
        return self

    def levels(self, criterion: str, replies: Sequence[str]) -> np.ndarray:
        return _cut(vader_compound(replies), self.thresholds[criterion])

    @staticmethod
    def scores(replies: Sequence[str]) -> np.ndarray:
        return (vader_compound(replies) + 1.0) / 2.0


def _cut(values: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(thresholds), values, side="right").astype(int)
