"""Exploring a scenario's beat graph over the space of scores, goals, red flags and difficulties, without the model.

The engine is deterministic given the seed and each reply's scores, so a search over conversation states finds
what trainees can make of a scenario: every reply is a point of a grid (each criterion in GRID, no goal / one
goal / every goal met, a red flag or not) applied to a fork of the conversation. The search is breadth-first
from the opening over distinct states (beat, mood, patience, turn, goals met), trying a few fixed corner replies
and a seeded random sample of the grid at each, and then spends the rest of its budget on random play-throughs
that each keep mostly to one style of reply. It is bounded (`budget` replies per difficulty) and reproducible.

It reports endings no explored path reached, beats that are only ever left by the turn limit or the customer's
patience running out, and templates or conditions that failed for some difficulty or value.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass, field

from simulator.content.rubric import Rubric
from simulator.content.scenario import DIFFICULTIES, Scenario
from simulator.content.templates import TemplateProblem
from simulator.engine import Conversation
from simulator.scoring.base import ReplyScore, build_reply_score

GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Scores each criterion takes in the explored replies (a rubric with more than four criteria uses 0, 0.5, 1)."""
DEFAULT_BUDGET = 1000
"""Replies applied per difficulty."""
BREADTH_SHARE = 0.6
"""The share of the budget spent breadth-first; the rest goes to random play-throughs."""
SAMPLE = 16
"""Random grid replies tried at each state of the breadth-first search, beside the corner replies."""
STYLE_KEPT = 0.7
"""How often a random play-through repeats its own style of reply instead of a random one."""


@dataclass(frozen=True)
class Failure:
    beat: str
    message: str


@dataclass
class Exploration:
    """What the search saw, per difficulty."""

    applied: dict[str, int] = field(default_factory=dict)
    reached: dict[str, set[str]] = field(default_factory=dict)
    """Beats the conversation was on at some point, by difficulty."""
    left: dict[str, set[str]] = field(default_factory=dict)
    """Beats some reply led away from through a transition (to another beat or an ending), by difficulty."""
    replies_on: dict[tuple[str, str], int] = field(default_factory=dict)
    """(difficulty, beat): how many replies were tried on that beat."""
    endings: dict[str, set[str]] = field(default_factory=dict)
    """Ending id: the difficulties at which some path reached it."""
    failures: dict[Failure, list[str]] = field(default_factory=dict)
    """A failed template or condition: where it failed (difficulty, mood, patience, turn)."""

    @property
    def total(self) -> int:
        return sum(self.applied.values())

    def traps(self) -> dict[str, list[str]]:
        """Beats only ever left by the turn limit or patience: beat id → the difficulties where that is so."""
        out: dict[str, list[str]] = {}
        for difficulty in self.reached:
            for beat in sorted(self.reached[difficulty] - self.left[difficulty]):
                if self.replies_on.get((difficulty, beat)):
                    out.setdefault(beat, []).append(difficulty)
        return out


def reply_grid(scenario: Scenario, rubric: Rubric) -> list[ReplyScore]:
    """Every explored reply: the score grid × (no goal, each goal, every goal), then red-flag replies."""
    ids = rubric.criterion_ids
    values = GRID if len(ids) <= 4 else (0.0, 0.5, 1.0)
    goal_ids = [g.id for g in scenario.goals]
    goal_options: list[list[str]] = [[]] + [[g] for g in goal_ids] + ([goal_ids] if len(goal_ids) > 1 else [])
    flag = rubric.red_flags[0].id if rubric.red_flags else "red_flag"
    out = []
    for goals in goal_options:
        for combo in itertools.product(values, repeat=len(ids)):
            out.append(build_reply_score(rubric, dict(zip(ids, combo)), {}, goals_met=goals, model_version="grid"))
    for value in (0.0, 0.5, 1.0):
        out.append(build_reply_score(rubric, {c: value for c in ids}, {}, red_flags=[flag], model_version="grid"))
    return out


def _corners(replies: list[ReplyScore]) -> list[int]:
    """The grid's uniform replies (every criterion equal), with and without goals and red flags."""
    return [i for i, r in enumerate(replies) if len(set(r.scores.values())) == 1 and
            (not r.goals_met or len(r.goals_met) > 1 or r.red_flags)]


class _Search:
    def __init__(self, scenario: Scenario, rubric: Rubric, difficulty: str, budget: int, found: Exploration):
        self.scenario = scenario
        self.rubric = rubric
        self.difficulty = difficulty
        self.budget = budget
        self.found = found
        self.used = 0
        self.rng = random.Random(f"explore:{scenario.id}:{difficulty}")
        found.applied[difficulty] = 0
        found.reached[difficulty] = set()
        found.left[difficulty] = set()

    def fail(self, beat: str, exc: TemplateProblem, where: str) -> None:
        self.found.failures.setdefault(Failure(beat, str(exc)), []).append(f"{self.difficulty}, {where}")

    def step(self, conversation: Conversation, reply: ReplyScore) -> Conversation | None:
        """A fork of `conversation` moved on by `reply`, everything seen recorded; None when it failed."""
        child = conversation.fork()
        beat = child.state.beat
        self.used += 1
        self.found.applied[self.difficulty] += 1
        key = (self.difficulty, beat)
        self.found.replies_on[key] = self.found.replies_on.get(key, 0) + 1
        try:
            turn = child.apply("", reply)
        except TemplateProblem as exc:
            self.fail(beat, exc, f"mood {conversation.mood:.0f}, patience {conversation.patience}, "
                                 f"turn {conversation.state.turn + 1}")
            return None
        if turn.ending:
            self.found.endings.setdefault(turn.ending, set()).add(self.difficulty)
            by_limit = turn.patience_after <= 0 or (
                turn.ending == self.scenario.on_turn_limit and turn.number >= self.scenario.turn_limit)
            if not by_limit:
                self.found.left[self.difficulty].add(beat)
        else:
            assert turn.next_beat is not None
            self.found.reached[self.difficulty].add(turn.next_beat)
            if turn.next_beat != beat:
                self.found.left[self.difficulty].add(beat)
        return child

    def run(self, replies: list[ReplyScore]) -> None:
        try:
            root = Conversation(self.scenario, self.rubric, seed=0, difficulty=self.difficulty)
        except TemplateProblem as exc:
            self.fail(self.scenario.beats[0].id, exc, "the opening line")
            return
        self.found.reached[self.difficulty].add(root.state.beat)
        corners = _corners(replies)
        queue = deque([root])
        seen = {_key(root)}
        breadth = int(self.budget * BREADTH_SHARE)
        while queue and self.used < breadth:
            conversation = queue.popleft()
            picks = corners + self.rng.sample(range(len(replies)), min(SAMPLE, len(replies)))
            for index in picks:
                child = self.step(conversation, replies[index])
                if child is not None and not child.finished:
                    key = _key(child)
                    if key not in seen:
                        seen.add(key)
                        queue.append(child)
        while self.used < self.budget:
            conversation: Conversation | None = root
            style = self.rng.randrange(len(replies))
            while conversation is not None and not conversation.finished and self.used < self.budget:
                index = style if self.rng.random() < STYLE_KEPT else self.rng.randrange(len(replies))
                conversation = self.step(conversation, replies[index])


def _key(conversation: Conversation) -> tuple:
    state = conversation.state
    return (state.beat, round(state.mood), state.patience, state.turn,
            tuple(sorted(g for g, met in state.goals.items() if met)))


def explore(scenario: Scenario, rubric: Rubric, *, budget: int = DEFAULT_BUDGET) -> Exploration:
    """Search the scenario at every difficulty, `budget` replies each."""
    found = Exploration()
    replies = reply_grid(scenario, rubric)
    for difficulty in DIFFICULTIES:
        _Search(scenario, rubric, difficulty, budget, found).run(replies)
    return found
