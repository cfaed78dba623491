"""Scoring a criterion that has no trained heads, against the rubric's own level examples.

Each unit of the reply (the whole reply and each of its sentences) gets a level distribution from its
similarity to the level examples (and, at lower weight, the level descriptions). Units that closely match some
example speak loudest: the reply's score is the units' expected levels weighted by how close their best match
is, and those weights order the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from simulator.content.rubric import Criterion

EXAMPLE_WEIGHT = 1.0
DESCRIPTION_WEIGHT = 0.5
TEMPERATURE = 0.05
"""Softness of the match to examples (cosine similarity units)."""
UNIT_TEMPERATURE = 0.05
"""Softness of the choice between units: lower lets the best-matching sentence decide alone."""


@dataclass(frozen=True)
class Exemplars:
    criterion: str
    max_level: int
    texts: tuple[str, ...]
    levels: np.ndarray
    weights: np.ndarray


def exemplars_for(criterion: Criterion, *, descriptions: bool = True) -> Exemplars:
    texts: list[str] = []
    levels: list[int] = []
    weights: list[float] = []
    for level in criterion.levels:
        for example in level.examples:
            texts.append(example)
            levels.append(level.level)
            weights.append(EXAMPLE_WEIGHT)
        if descriptions or not level.examples:
            texts.append(level.description)
            levels.append(level.level)
            weights.append(DESCRIPTION_WEIGHT if level.examples else EXAMPLE_WEIGHT)
    return Exemplars(
        criterion=criterion.id,
        max_level=criterion.max_level,
        texts=tuple(texts),
        levels=np.array(levels, dtype=np.int64),
        weights=np.array(weights, dtype=np.float64),
    )


@dataclass(frozen=True)
class ExemplarResult:
    score: float
    """0–1."""
    influence: np.ndarray
    """(units,) how much each unit counted, summing to 1."""


def score_units(
    units: np.ndarray,
    exemplar_vectors: np.ndarray,
    exemplars: Exemplars,
    *,
    temperature: float = TEMPERATURE,
    unit_temperature: float = UNIT_TEMPERATURE,
) -> ExemplarResult:
    """units (k, D) and exemplar_vectors (m, D), both L2-normalised."""
    sims = units.astype(np.float64) @ exemplar_vectors.T.astype(np.float64)  # (k, m)
    logits = sims / temperature + np.log(exemplars.weights)[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    per_level = np.zeros((len(units), exemplars.max_level + 1))
    for level in range(exemplars.max_level + 1):
        per_level[:, level] = weights[:, exemplars.levels == level].sum(axis=1)
    per_level /= per_level.sum(axis=1, keepdims=True)
    expected = per_level @ np.arange(exemplars.max_level + 1) / exemplars.max_level  # (k,)
    closeness = sims.max(axis=1) / unit_temperature
    influence = np.exp(closeness - closeness.max())
    influence /= influence.sum()
    return ExemplarResult(score=float(influence @ expected), influence=influence)


class ExemplarScorer:
    """Keeps each criterion's exemplar embeddings; `embed` is the encoder's cached embedding function."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray]):
        self._embed = embed
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[Exemplars, np.ndarray]] = {}

    def prepared(self, criterion: Criterion) -> tuple[Exemplars, np.ndarray]:
        exemplars = exemplars_for(criterion)
        key = (criterion.id, exemplars.texts)
        hit = self._cache.get(key)
        if hit is None:
            hit = (exemplars, self._embed(list(exemplars.texts)))
            self._cache[key] = hit
        return hit

    def score(self, criterion: Criterion, units: np.ndarray) -> ExemplarResult:
        exemplars, vectors = self.prepared(criterion)
        return score_units(units, vectors, exemplars)
