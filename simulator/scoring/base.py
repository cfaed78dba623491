"""What a scorer takes and gives back. Plain data: the engine, store and screens consume it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from simulator.content.rubric import Rubric
from simulator.errors import ScorerError  # noqa: F401  (re-exported: scorers raise it)
from simulator.content.scenario import Goal


@dataclass(frozen=True)
class ScoreRequest:
    reply: str
    """What the trainee typed."""
    context: str
    """What the customer had just said."""
    rubric: Rubric
    goals: tuple[Goal, ...] = ()
    """Goals of the scenario not yet met; the scorer says which of these the reply meets."""
    model_replies: tuple[str, ...] = ()
    """Good replies for this beat; the scorer picks the nearest for "a better reply would have been…"."""


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    score: float
    """0–1."""
    level: int
    evidence: tuple[str, ...]
    """The sentences or phrases of the reply that drove this score, most influential first."""
    feedback: str
    """The rubric's feedback text for the level reached."""


@dataclass(frozen=True)
class ReplyScore:
    criteria: dict[str, CriterionScore]
    overall: float
    """Weighted mean of the criteria scores (0–1)."""
    red_flags: tuple[str, ...] = ()
    """Ids of the rubric's red flags the reply raised."""
    goals_met: tuple[str, ...] = ()
    """Ids of the requested goals the reply meets."""
    nearest_model_reply: str | None = None
    model_version: str = ""

    @property
    def scores(self) -> dict[str, float]:
        return {cid: c.score for cid, c in self.criteria.items()}

    @property
    def levels(self) -> dict[str, int]:
        return {cid: c.level for cid, c in self.criteria.items()}

    @property
    def evidence(self) -> dict[str, list[str]]:
        return {cid: list(c.evidence) for cid, c in self.criteria.items()}


@runtime_checkable
class Scorer(Protocol):
    """Anything that scores replies. The real one is `simulator.scoring.model.ModelScorer`."""

    version: str

    def score(self, request: ScoreRequest) -> ReplyScore: ...

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[ReplyScore]: ...


def build_reply_score(
    rubric: Rubric,
    scores: dict[str, float],
    evidence: dict[str, Sequence[str]],
    *,
    red_flags: Sequence[str] = (),
    goals_met: Sequence[str] = (),
    nearest_model_reply: str | None = None,
    model_version: str = "",
) -> ReplyScore:
    """Turn raw per-criterion scores into a ReplyScore with levels and the rubric's feedback. A raised red flag
    that caps a criterion (`RedFlag.caps`) holds its score inside the capped level's range."""
    ceilings: dict[str, float] = {}
    for flag in rubric.red_flags:
        if flag.id in red_flags:
            for cid, level in flag.caps.items():
                top = rubric.criterion(cid).max_level
                ceiling = min(1.0, (level + 0.5) / top - 1e-3)  # the highest score level_for still puts at `level`
                ceilings[cid] = min(ceilings.get(cid, 1.0), ceiling)
    criteria: dict[str, CriterionScore] = {}
    for criterion in rubric.criteria:
        value = min(1.0, max(0.0, float(scores[criterion.id])), ceilings.get(criterion.id, 1.0))
        level = criterion.level_for(value)
        criteria[criterion.id] = CriterionScore(
            criterion=criterion.id,
            score=value,
            level=level,
            evidence=tuple(evidence.get(criterion.id, ())),
            feedback=criterion.levels[level].feedback,
        )
    return ReplyScore(
        criteria=criteria,
        overall=rubric.weighted({cid: c.score for cid, c in criteria.items()}),
        red_flags=tuple(red_flags),
        goals_met=tuple(goals_met),
        nearest_model_reply=nearest_model_reply,
        model_version=model_version,
    )
