"""The scenario file: who the customer is, what they say, and how the conversation can go."""

from __future__ import annotations

from enum import Enum

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.content.rubric import Identifier

ScenarioId = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_-]*$", min_length=1, max_length=64,
          description="Lower-case letters, digits, '-' and '_', starting with a letter."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class Difficulty(str, Enum):
    easy = "easy"
    medium = "medium"
    hard = "hard"


class EndingKind(str, Enum):
    resolved = "resolved"
    walked_out = "walked_out"
    escalated = "escalated"

    @property
    def words(self) -> str:
        """How screens and reports name this kind of ending."""
        return ENDING_WORDS[self.value]


DIFFICULTIES = tuple(d.value for d in Difficulty)
ENDING_WORDS = {"resolved": "Resolved", "walked_out": "Walked out", "escalated": "Escalated to a manager"}
MODES = ("practice", "test")
"""How a session is played: practice shows scores after every reply, test holds them back to the debrief."""


class Setting(_Strict):
    business: str = Field(min_length=1)
    """Where this happens, e.g. "Hardware store returns desk"."""
    role: str = Field(min_length=1)
    """Who the trainee plays, e.g. "Sales associate on the floor"."""


class Persona(_Strict):
    name: str = Field(min_length=1)
    """The customer's name, shown beside their lines."""
    mood: int = Field(ge=0, le=100)
    """Starting mood: 0 is furious, 100 is calm and happy."""
    patience: int = Field(ge=1, le=20)
    """How many poor replies (at medium difficulty) the customer takes before giving up."""
    backstory: str = Field(min_length=1)
    """What happened before the conversation; shown to the trainee as the brief."""
    traits: list[str] = Field(default_factory=list)
    """A few words on how they talk and behave."""


class Goal(_Strict):
    id: Identifier
    """Stable id; conditions test it as `goals.<id>`."""
    description: str = Field(min_length=1)
    """The objective as shown on the trainee's checklist."""
    examples: list[str] = Field(min_length=1)
    """Phrasings that meet the goal; a reply close enough in meaning to one of these meets it."""


class LineVariant(_Strict):
    text: str = Field(min_length=1)
    """The line, a Jinja template (variables in {{ }})."""
    difficulties: list[Difficulty] = Field(min_length=1)
    """Only said at these difficulties."""


class Transition(_Strict):
    when: str | None = None
    """A condition (Jinja expression) on the last reply, e.g. `scores.ownership >= 0.6 and mood > 40`.
    Names: scores, levels, overall, goals, red_flag, mood, patience, turn, difficulty. Left out: always."""
    to: Identifier | None = None
    """The beat to go to (give `to` or `end`, not both)."""
    end: Identifier | None = None
    """The ending to finish with (give `to` or `end`, not both)."""

    @model_validator(mode="after")
    def _exactly_one_target(self) -> "Transition":
        if (self.to is None) == (self.end is None):
            raise ValueError("a transition needs exactly one of `to` (a beat id) or `end` (an ending id)")
        return self


class Beat(_Strict):
    id: Identifier
    """Stable id; transitions name it in `to`."""
    lines: list[str | LineVariant] = Field(min_length=1)
    """What the customer says on arriving at this beat; one variant is picked with the session's seed."""
    transitions: list[Transition] = Field(default_factory=list)
    """Tried in order after each reply; the first whose condition holds is taken. If none holds, the customer
    stays on this beat and says another of its lines."""
    model_replies: list[str] = Field(default_factory=list)
    """Good replies to this beat (Jinja templates), shown in the debrief as "a better reply would have been…"."""


class Ending(_Strict):
    id: Identifier
    """Stable id; transitions name it in `end`."""
    kind: EndingKind
    """resolved, walked_out or escalated (to a manager)."""
    line: str = Field(min_length=1)
    """The customer's closing line (a Jinja template)."""
    summary: str = ""
    """One sentence for the debrief on what this ending means."""


class Scenario(_Strict):
    id: ScenarioId
    """Stable id, used on the command line: `frontline play <id>`."""
    title: str = Field(min_length=1)
    """Title shown in the scenario picker."""
    summary: str = Field(min_length=1)
    """One line shown in the scenario picker."""
    setting: Setting
    """Where this happens and who the trainee is."""
    persona: Persona
    """The customer."""
    difficulty: Difficulty = Difficulty.medium
    """Default difficulty; the trainee can choose another."""
    rubric: Identifier = "service"
    """Id of the rubric replies are scored with."""
    pass_mark: float | None = Field(default=None, ge=0, le=1)
    """Average weighted score (0–1) needed to pass; the rubric's pass threshold when left out."""
    turn_limit: int = Field(default=10, ge=1, le=50)
    """Most trainee replies before the session ends with `on_turn_limit`."""
    variables: dict[Identifier, str | int | float] = Field(default_factory=dict)
    """Values the customer's lines can use as {{ name }}."""
    goals: list[Goal] = Field(default_factory=list)
    """Objectives the trainee should reach, shown as a checklist."""
    beats: list[Beat] = Field(min_length=1)
    """The conversation's steps; the first beat is the customer's opening."""
    endings: list[Ending] = Field(min_length=1)
    """How the conversation can end."""
    on_patience_out: Identifier
    """Ending taken when the customer's patience runs out."""
    on_turn_limit: Identifier
    """Ending taken when the turn limit is reached."""

    @model_validator(mode="after")
    def _unique_ids(self) -> "Scenario":
        for kind, ids in (
            ("beat", [b.id for b in self.beats]),
            ("ending", [e.id for e in self.endings]),
            ("goal", [g.id for g in self.goals]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind} ids must be unique; repeated: {', '.join(dupes)}")
        return self

    def beat(self, beat_id: str) -> Beat:
        return next(b for b in self.beats if b.id == beat_id)

    def ending(self, ending_id: str) -> Ending:
        return next(e for e in self.endings if e.id == ending_id)
