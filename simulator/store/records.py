"""What the store hands out: plain data (`StoredSession`, `StoredTurn`, `Override`), detached from the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from simulator.content.rubric import Rubric
from simulator.engine import Turn
from simulator.scoring.base import ReplyScore, build_reply_score
from simulator.store.rows import ReviewRow, SessionRow, TurnRow

# -- what the store hands out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    id: int
    turn_id: int
    criterion: str
    model_level: int
    """The model's level, kept beside the trainer's."""
    level: int
    """The trainer's level."""
    comment: str
    reviewer: str
    created_at: datetime
    undoes: int | None = None
    """On an undo: the id of the override it took back; `level` is then the level in force after it."""

    @property
    def agrees(self) -> bool:
        return self.level == self.model_level

    @property
    def is_undo(self) -> bool:
        return self.undoes is not None


@dataclass(frozen=True)
class StoredTurn(Turn):
    """A `Turn` as stored (its `levels` are the model's), with its database id and the trainer's overrides."""

    id: int = 0
    session_id: int = 0
    created_at: datetime | None = None
    overrides: dict[str, Override] = field(default_factory=dict)
    """The override in force for each overridden criterion (the newest)."""
    history: tuple[Override, ...] = ()
    """Every override of this turn, oldest first."""

    def level(self, criterion: str) -> int:
        """The level in force: the trainer's where overridden, else the model's."""
        override = self.overrides.get(criterion)
        return override.level if override else self.levels[criterion]

    @property
    def effective_levels(self) -> dict[str, int]:
        return {cid: self.level(cid) for cid in self.levels}

    def to_turn(self) -> Turn:
        return Turn(**{name: getattr(self, name) for name in Turn.__dataclass_fields__})

    def reply_score(self, rubric: Rubric) -> ReplyScore:
        """The model's score of this reply, rebuilt to replay the turn (`Conversation.apply`)."""
        return build_reply_score(
            rubric, self.scores, self.evidence,
            red_flags=self.red_flags, goals_met=self.goals_met,
            nearest_model_reply=self.nearest_model_reply, model_version=self.model_version,
        )


@dataclass(frozen=True)
class StoredSession:
    id: int
    trainee: str
    scenario_id: str
    scenario_title: str
    setting: str
    content_hash: str
    rubric_id: str
    model_version: str
    difficulty: str
    mode: str
    seed: int
    opening: str
    pass_mark: float | None
    started_at: datetime
    ended_at: datetime | None
    ending: str | None
    ending_kind: str | None
    ending_summary: str | None
    overall: float | None
    passed: bool | None
    averages: dict[str, float] | None
    reviewed: bool
    reviewed_by: str | None
    reviewed_at: datetime | None
    turn_count: int
    override_count: int
    turns: tuple[StoredTurn, ...] = ()
    """Loaded by `Store.session`, `Store.last_unfinished` and `Store.sessions(with_turns=True)`; else empty."""
    result_rule: dict | None = None
    """How the result is computed from levels (`simulator.store.results`); None for sessions stored before it."""
    reviewed_overall: float | None = None
    """The overall score with the trainer's levels in force; None while no override is in force."""
    reviewed_passed: bool | None = None
    reviewed_averages: dict[str, float] | None = None
    comment: str = ""
    """The trainer's comment on the whole session."""
    comment_by: str | None = None
    comment_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    @property
    def criteria(self) -> list[str]:
        """The criteria ids, in the rubric's order as stored."""
        if self.averages:
            return list(self.averages)
        return list(self.turns[0].levels) if self.turns else []

    @property
    def overridden(self) -> bool:
        """Whether the trainer's levels change this session's result (an override is in force)."""
        return self.reviewed_overall is not None

    @property
    def final_overall(self) -> float | None:
        """The overall score in force: with the trainer's levels where there are overrides, else the model's."""
        return self.reviewed_overall if self.reviewed_overall is not None else self.overall

    @property
    def final_passed(self) -> bool | None:
        """Pass/fail in force (None while unfinished): with the trainer's levels, else the model's."""
        if self.reviewed_overall is not None and self.finished:
            return self.reviewed_passed
        return self.passed

    def criterion_averages(self) -> dict[str, float]:
        """Average score per criterion in force (the trainer's levels counted where overridden): the stored
        result when finished, else from the turns loaded so far."""
        if self.reviewed_averages:
            return dict(self.reviewed_averages)
        return self.model_averages()

    def model_averages(self) -> dict[str, float]:
        """Average score per criterion as the model scored it."""
        if self.averages:
            return dict(self.averages)
        if not self.turns:
            return {}
        return {c: sum(t.scores[c] for t in self.turns) / len(self.turns) for c in self.turns[0].scores}


# -- checking what was read ------------------------------------------------------------------------------------


class DamagedRecord(ValueError):
    """A stored value that is not what Frontline wrote (the database was edited or damaged outside Frontline)."""


class NotJSON:
    """What a JSON column holding text that is not JSON reads as (see `loads`), so the check below can name the
    column instead of the whole query failing."""

    def __init__(self, text: object):
        self.text = text

    def __repr__(self) -> str:
        return f"{_short(self.text)} (not JSON)"


def loads(text: str | bytes) -> Any:
    """The engines' JSON reader: like json.loads, but text that is not JSON reads as a `NotJSON`."""
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return NotJSON(text)


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_texts(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _mapping(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items())


_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "text": (lambda v: isinstance(v, str), "text"),
    "int": (_is_int, "a whole number"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "time": (lambda v: isinstance(v, datetime), "a date and time"),
    "texts": (_is_texts, "a list of texts"),
    "numbers": (_mapping(_is_number), "a JSON object of numbers"),
    "levels": (_mapping(_is_int), "a JSON object of whole numbers"),
    "evidence": (_mapping(_is_texts), "a JSON object of lists of texts"),
    "feedback": (_mapping(lambda v: isinstance(v, str)), "a JSON object of texts"),
}


def _check(what: str, row: object, spec: dict[str, str]) -> None:
    """Raise DamagedRecord if a column of `row` is not of its kind in `spec` ("text", "int?": may be NULL)."""
    for name, kind in spec.items():
        value = getattr(row, name)
        if kind.endswith("?"):
            if value is None:
                continue
            kind = kind[:-1]
        test, expected = _KINDS[kind]
        if not test(value):
            raise DamagedRecord(f"{what}'s {name} is {_short(value)}, not {expected}")


_TURN = {
    "number": "int", "beat": "text", "customer_line": "text", "reply": "text", "scores": "numbers",
    "levels": "levels", "evidence": "evidence", "feedback": "feedback", "overall": "number", "red_flags": "texts",
    "goals_met": "texts", "mood_before": "number", "mood_after": "number", "patience_after": "int",
    "next_beat": "text?", "customer_reaction": "text", "ending": "text?", "nearest_model_reply": "text?",
    "model_version": "text", "created_at": "time?", "notes": "texts?",
}
_REVIEW = {"criterion": "text", "model_level": "int", "level": "int", "comment": "text", "reviewer": "text",
           "created_at": "time?", "undoes_id": "int?"}
_SESSION = {
    "scenario_id": "text", "scenario_title": "text", "setting": "text", "content_hash": "text", "rubric_id": "text",
    "model_version": "text", "difficulty": "text", "mode": "text", "seed": "int", "opening": "text",
    "pass_mark": "number?", "started_at": "time", "ended_at": "time?", "ending": "text?", "ending_kind": "text?",
    "ending_summary": "text?", "overall": "number?", "passed": "bool?", "averages": "numbers?",
    "reviewed_by": "text?", "reviewed_at": "time?", "reviewed_overall": "number?", "reviewed_passed": "bool?",
    "reviewed_averages": "numbers?", "comment": "text", "comment_by": "text?", "comment_at": "time?",
}


def override_record(row: ReviewRow) -> Override:
    _check(f"override {row.id}", row, _REVIEW)
    return Override(
        id=row.id, turn_id=row.turn_id, criterion=row.criterion, model_level=row.model_level, level=row.level,
        comment=row.comment, reviewer=row.reviewer, created_at=row.created_at, undoes=row.undoes_id,
    )


def in_force(history: tuple[Override, ...] | list[Override]) -> dict[str, Override]:
    """The override in force per criterion: the newest not taken back by an undo (an undo takes back the one it
    names, so undoing twice goes back two steps, and undoing the only one leaves the model's level)."""
    stacks: dict[str, list[Override]] = {}
    for item in history:
        stack = stacks.setdefault(item.criterion, [])
        if item.undoes is None:
            stack.append(item)
        else:
            stacks[item.criterion] = [o for o in stack if o.id != item.undoes]
    return {cid: stack[-1] for cid, stack in stacks.items() if stack}


def turn_record(row: TurnRow) -> StoredTurn:
    what = f"turn {row.number}" if _is_int(row.number) else f"turn (id {row.id})"
    _check(what, row, _TURN)
    if set(row.scores) != set(row.levels):
        raise DamagedRecord(f"{what}'s scores and levels name different criteria ({_short(sorted(row.scores))} "
                            f"and {_short(sorted(row.levels))})")
    history = tuple(override_record(r) for r in row.reviews)
    return StoredTurn(
        id=row.id, session_id=row.session_id, created_at=row.created_at, number=row.number, beat=row.beat,
        customer_line=row.customer_line, reply=row.reply, scores=dict(row.scores), levels=dict(row.levels),
        evidence={k: list(v) for k, v in row.evidence.items()}, feedback=dict(row.feedback), overall=row.overall,
        red_flags=list(row.red_flags), goals_met=list(row.goals_met), mood_before=row.mood_before,
        mood_after=row.mood_after, patience_after=row.patience_after, next_beat=row.next_beat,
        customer_reaction=row.customer_reaction, ending=row.ending, nearest_model_reply=row.nearest_model_reply,
        model_version=row.model_version, overrides=in_force(history), history=history, notes=list(row.notes or []),
    )


def session_record(row: SessionRow, *, turn_count: int, override_count: int,
                    turns: tuple[StoredTurn, ...] = ()) -> StoredSession:
    _check("the session", row, _SESSION)
    if row.ended_at is not None and row.overall is None:
        raise DamagedRecord("the session has ended but its overall score is empty (NULL)")
    if not isinstance(row.trainee.name, str):
        raise DamagedRecord(f"its trainee's name is {_short(row.trainee.name)}, not text")
    return StoredSession(
        id=row.id, trainee=row.trainee.name, scenario_id=row.scenario_id, scenario_title=row.scenario_title,
        setting=row.setting, content_hash=row.content_hash, rubric_id=row.rubric_id,
        model_version=row.model_version, difficulty=row.difficulty, mode=row.mode, seed=row.seed,
        opening=row.opening, pass_mark=row.pass_mark, started_at=row.started_at, ended_at=row.ended_at,
        ending=row.ending, ending_kind=row.ending_kind, ending_summary=row.ending_summary, overall=row.overall,
        passed=row.passed, averages=dict(row.averages) if row.averages else None, reviewed=bool(row.reviewed),
        reviewed_by=row.reviewed_by, reviewed_at=row.reviewed_at, turn_count=turn_count,
        override_count=override_count, turns=turns,
        result_rule=dict(row.result_rule) if isinstance(row.result_rule, dict) else None,
        reviewed_overall=row.reviewed_overall, reviewed_passed=row.reviewed_passed,
        reviewed_averages=dict(row.reviewed_averages) if row.reviewed_averages else None,
        comment=row.comment or "", comment_by=row.comment_by, comment_at=row.comment_at,
    )


