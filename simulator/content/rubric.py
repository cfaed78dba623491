"""The rubric file: criteria with levels, example replies and feedback, plus red flags."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Identifier = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=64,
          description="Lower-case letters, digits and underscores, starting with a letter; never change it once used."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class Level(_Strict):
    level: int = Field(ge=0, le=10)
    """The level number, 0 = worst. Levels of a criterion are numbered 0, 1, 2, … with no gaps."""
    description: str = Field(min_length=1)
    """What a reply at this level does."""
    feedback: str = Field(min_length=1)
    """Shown to the trainee when a reply lands on this level."""
    examples: list[str] = Field(default_factory=list)
    """Example replies at this level. A criterion without trained heads is scored against these."""


class Criterion(_Strict):
    id: Identifier
    """Stable id used in scenario conditions (`scores.empathy`) and stored scores."""
    name: str = Field(min_length=1)
    """Name shown to trainees."""
    description: str = Field(min_length=1)
    """What this criterion measures."""
    weight: float = Field(default=1.0, gt=0, le=100)
    """Relative weight in the overall score of a reply."""
    floor: float = Field(default=0.4, ge=0, le=1)
    """A session passes only if this criterion's average over its replies reaches this floor (0–1), whatever
    the overall score: a cold but competent trainee does not pass on ownership alone."""
    levels: list[Level] = Field(min_length=2)
    """From level 0 (worst) upwards; at least two."""

    @field_validator("levels")
    @classmethod
    def _levels_numbered_in_order(cls, levels: list[Level]) -> list[Level]:
        numbers = [lv.level for lv in levels]
        if numbers != list(range(len(levels))):
            raise ValueError(f"levels must be numbered 0..{len(levels) - 1} in order, got {numbers}")
        return levels

    @property
    def max_level(self) -> int:
        return len(self.levels) - 1

    def level_for(self, score: float) -> int:
        """The level a 0–1 score falls in: levels split the range evenly, level k centred on k/max_level."""
        clamped = min(1.0, max(0.0, score))
        return min(self.max_level, int(round(clamped * self.max_level)))


class RedFlag(_Strict):
    id: Identifier
    """Stable id of the red flag."""
    description: str = Field(min_length=1)
    """The behaviour that fails a turn outright."""
    feedback: str = Field(min_length=1)
    """Shown to the trainee when a reply raises this flag."""
    examples: list[str] = Field(min_length=1)
    """Replies that raise this flag; a reply close enough in meaning to one of these raises it."""
    caps: dict[Identifier, int] = Field(default_factory=dict)
    """Criteria this flag caps: a reply that raises it scores at most this level on each (e.g. `empathy: 0`,
    as the labelling guide has it for blame and contempt, however warm the rest of the reply)."""


class Rubric(_Strict):
    id: Identifier
    """Scenarios name their rubric by this id."""
    name: str = Field(min_length=1)
    """Name shown to trainees and trainers."""
    description: str = ""
    """What this rubric is for."""
    pass_threshold: float = Field(default=0.6, ge=0, le=1)
    """Weighted average score (0–1) a session needs to pass, unless the scenario sets its own pass mark."""
    criteria: list[Criterion] = Field(min_length=1)
    """The criteria every reply is scored on."""
    red_flags: list[RedFlag] = Field(default_factory=list)
    """Behaviour that fails a turn outright whatever the scores."""
    refusal_criterion: Identifier | None = None
    """The criterion whose level 0 means "refuses or deflects" (default: `ownership` when the rubric has one).
    A reply at that level after an earlier one also at it restates the refusal, and costs the customer's
    patience."""

    @model_validator(mode="after")
    def _unique_ids(self) -> "Rubric":
        for kind, ids in (("criterion", [c.id for c in self.criteria]), ("red flag", [r.id for r in self.red_flags])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind} ids must be unique; repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _refusal_criterion_exists(self) -> "Rubric":
        if self.refusal_criterion is not None and self.refusal_criterion not in self.criterion_ids:
            raise ValueError(f"refusal_criterion {self.refusal_criterion!r} is not one of the criteria "
                             f"({', '.join(self.criterion_ids)})")
        return self

    @model_validator(mode="after")
    def _caps_name_criteria_and_levels(self) -> "Rubric":
        for flag in self.red_flags:
            for cid, level in flag.caps.items():
                if cid not in self.criterion_ids:
                    raise ValueError(f"red flag {flag.id!r} caps {cid!r}, which is not one of the criteria "
                                     f"({', '.join(self.criterion_ids)})")
                top = self.criterion(cid).max_level
                if not 0 <= level <= top:
                    raise ValueError(f"red flag {flag.id!r} caps {cid!r} at level {level}; give a level from 0 to {top}")
        return self

    @property
    def refusal(self) -> str | None:
        """The criterion whose level 0 is a refusal, if any."""
        if self.refusal_criterion is not None:
            return self.refusal_criterion
        return "ownership" if "ownership" in self.criterion_ids else None

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    @property
    def criterion_ids(self) -> list[str]:
        return [c.id for c in self.criteria]

    def weighted(self, scores: dict[str, float]) -> float:
        """Weighted mean of per-criterion scores (0–1)."""
        total = sum(c.weight for c in self.criteria)
        return sum(c.weight * scores.get(c.id, 0.0) for c in self.criteria) / total
