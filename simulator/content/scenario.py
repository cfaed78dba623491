"""The scenario file: who the customer is, what they say, and how the conversation can go."""

from __future__ import annotations

from enum import Enum

from typing import Annotated, Literal

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
    requires: list[Identifier] = Field(default_factory=list)
    """Goal ids that must all be met before a transition can end here. A transition to this ending whose goals
    are not met yet is skipped (the next one is tried), so no score can stand in for the goals."""


class CaseExpectation(_Strict):
    ending: Identifier
    """The ending the case must reach: an ending id, or a kind (resolved, walked_out, escalated)."""
    passed: bool | None = None
    """If given, whether the session must pass (true) or fail (false)."""


class ScriptedCase(_Strict):
    name: str = Field(min_length=1)
    """What the case shows, e.g. "owns it and calls the car centre"; failures are reported under this name."""
    replies: list[str] = Field(min_length=1)
    """The trainee's replies in order, from the opening, as plain text (scored by the real model, like `play`)."""
    difficulty: Difficulty | None = None
    """The difficulty to play at; the scenario's own when left out."""
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    """Seed for the customer's line variants (as `frontline play --seed`)."""
    expect: CaseExpectation
    """Where the replies must lead. The case also fails if the replies run out first, or some are left over."""
    known_issue: str | None = Field(default=None, min_length=1)
    """Why the case does not reach what it expects for now (e.g. a scorer weakness, named in the model card). Its
    failures are then printed as known issues and do not fail `frontline test`; once it reaches what it expects,
    the stale note fails."""


BUILTIN_PROFILES = ("ideal", "cold-but-competent", "scripted", "repeating", "hostile")
"""The trainee profiles `frontline test` knows without a scenario declaring them (simulator/studio/profiles.py)."""


class TraineeProfile(_Strict):
    name: ScenarioId
    """A built-in profile (ideal, cold-but-competent, scripted, repeating, hostile) to change its expectations,
    or a new name for a profile of your own."""
    scores: dict[Identifier, Annotated[float, Field(ge=0, le=1)]] | None = None
    """Your own profile's score for every reply, per criterion (0–1); criteria left out score 0.5."""
    goals: Literal["all", "none"] | list[Identifier] | None = None
    """Which goals the profile's replies meet: all, none or a list of goal ids. A goal is met on the first
    beat whose transitions test it (`goals.<id>`); a goal no transition tests is met with the first reply.
    Default: none."""
    red_flag: bool | None = None
    """Whether every reply raises a red flag (the rubric's first). Default: false."""
    may_reach: list[Identifier] | None = None
    """Endings (ids or kinds) the profile may reach; reaching any other fails. Left out: any."""
    must_not_reach: list[Identifier] | None = None
    """Endings (ids or kinds) the profile must never reach."""
    must_pass: bool | None = None
    """true: every run of the profile must pass."""
    must_not_pass: bool | None = None
    """true: no run of the profile may pass."""
    known_issue: str | None = Field(default=None, min_length=1)
    """Why the scenario breaks this profile's expectations for now. Its failures are then printed as known
    issues and do not fail `frontline test`; once the profile meets its expectations, the stale note fails."""

    @model_validator(mode="after")
    def _consistent(self) -> "TraineeProfile":
        if self.must_pass and self.must_not_pass:
            raise ValueError("a profile cannot have both `must_pass: true` and `must_not_pass: true`")
        return self


class ScenarioTests(_Strict):
    cases: list[ScriptedCase] = Field(default_factory=list)
    """Scripted replies and the ending they must reach, played with the real scorer (`frontline test`)."""
    profiles: list[TraineeProfile] = Field(default_factory=list)
    """Trainees with fixed scores, played at every difficulty: expectations for the built-in profiles, and
    profiles of your own."""
    explore: bool = True
    """Whether `frontline test` searches the beat graph for unreachable endings and trap beats."""


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
    tests: ScenarioTests | None = None
    """The scenario's own tests, run by `frontline test`: scripted cases, trainee profiles, graph exploration."""

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
