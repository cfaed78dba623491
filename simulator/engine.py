"""The dialogue state machine. Pure and deterministic: no I/O, no textual, no torch.

Given a scenario, its rubric, a seed and the score of each reply, the conversation always goes the same way,
which is what makes a session replayable (and resumable from stored scores). The scorer is only called by
`Conversation.respond`; a UI that scores in a worker thread calls `request_for` there and `apply` back on
its own thread.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.content.rubric import Rubric
from simulator.content.scenario import Beat, Difficulty, Ending, EndingKind, LineVariant, Scenario
from simulator.scoring.base import ReplyScore, Scorer, ScoreRequest
from simulator.content.templates import evaluate_condition, render_line

# How a reply moves the customer's mood (0 furious … 100 calm): a perfect reply +MOOD_SWING, a worthless one
# -MOOD_SWING, scaled by difficulty. Meeting a goal and raising a red flag move it further.
MOOD_SWING = 20.0
GOAL_MET_BONUS = 8.0
RED_FLAG_PENALTY = 25.0
# A reply whose weighted score is below the difficulty's `poor_reply` mark costs a point of patience; a red flag
# costs two. Saying the same thing again (or refusing again) costs one more and earns no goodwill.
POOR_REPLY = 0.4
REPEAT_SIMILARITY = 0.8
"""Word-sequence similarity (0–1) at which a reply counts as a repeat of an earlier one."""
REPEAT_PENALTY = 8.0
"""Mood a repeated reply or a restated refusal costs (scaled by difficulty), on top of taking no gain."""


@dataclass(frozen=True)
class DifficultyPreset:
    patience_change: int
    mood_start_change: int
    gain: float
    """Multiplies mood gained from a good reply."""
    loss: float
    """Multiplies mood lost from a poor reply: a hard customer pushes back harder."""
    poor_reply: float = POOR_REPLY
    """Weighted score under which a reply costs a point of patience: an easy customer forgives more."""


DIFFICULTY_PRESETS: dict[Difficulty, DifficultyPreset] = {
    Difficulty.easy: DifficultyPreset(patience_change=+2, mood_start_change=+10, gain=1.3, loss=0.7, poor_reply=0.3),
    Difficulty.medium: DifficultyPreset(patience_change=0, mood_start_change=0, gain=1.0, loss=1.0, poor_reply=0.4),
    Difficulty.hard: DifficultyPreset(patience_change=-1, mood_start_change=-10, gain=0.7, loss=1.4, poor_reply=0.5),
}


def mood_label(mood: float) -> str:
    if mood < 20:
        return "furious"
    if mood < 40:
        return "angry"
    if mood < 60:
        return "frustrated"
    if mood < 80:
        return "calming down"
    return "calm"


@dataclass(frozen=True)
class Turn:
    """One reply and everything that followed from it: what the store keeps and the screens show."""

    number: int
    """1 for the trainee's first reply."""
    beat: str
    """The beat the customer was on when the trainee replied."""
    customer_line: str
    """What the customer had said."""
    reply: str
    scores: dict[str, float]
    levels: dict[str, int]
    evidence: dict[str, list[str]]
    feedback: dict[str, str]
    overall: float
    red_flags: list[str]
    goals_met: list[str]
    """Goals first met with this reply."""
    mood_before: float
    mood_after: float
    patience_after: int
    next_beat: str | None
    """Where the conversation went; None when it ended."""
    customer_reaction: str
    """The customer's next line, or their closing line when the session ended."""
    ending: str | None
    nearest_model_reply: str | None
    model_version: str
    notes: list[str] = field(default_factory=list)
    """What the customer noticed beyond the scores: a repeated reply, a restated refusal."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionResult:
    ending: str
    ending_kind: str
    ending_summary: str
    averages: dict[str, float]
    overall: float
    pass_mark: float
    passed: bool
    turns: int
    below_floor: list[str] = field(default_factory=list)
    """Criteria whose average is under their floor (each one fails the session)."""
    why_not_passed: list[str] = field(default_factory=list)
    """Every reason the session did not pass, in words for the trainee; empty when it passed."""


@dataclass
class _State:
    beat: str
    mood: float
    patience: int
    turn: int = 0
    customer_line: str = ""
    goals: dict[str, bool] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    said: dict[str, list[int]] = field(default_factory=dict)
    """Per beat, the indexes of the lines already said there (a beat says each line once before any again)."""
    ending: str | None = None


class Conversation:
    def __init__(
        self,
        scenario: Scenario,
        rubric: Rubric,
        scorer: Scorer | None = None,
        *,
        seed: int = 0,
        difficulty: Difficulty | str | None = None,
        trainee: str = "you",
    ):
        if scenario.rubric != rubric.id:
            raise ValueError(f"scenario {scenario.id!r} is scored with rubric {scenario.rubric!r}, not {rubric.id!r}")
        self.scenario = scenario
        self.rubric = rubric
        self.scorer = scorer
        self.seed = seed
        self.difficulty = Difficulty(difficulty) if difficulty else scenario.difficulty
        self.trainee = trainee
        self.preset = DIFFICULTY_PRESETS[self.difficulty]
        persona = scenario.persona
        self.starting_patience = max(1, persona.patience + self.preset.patience_change)
        self.state = _State(
            beat=scenario.beats[0].id,
            mood=float(min(100, max(0, persona.mood + self.preset.mood_start_change))),
            patience=self.starting_patience,
            goals={g.id: False for g in scenario.goals},
        )
        self.turns: list[Turn] = []
        self.state.customer_line = self._arrive(scenario.beats[0])
        self.opening = self.state.customer_line

    # -- what the outside world reads ---------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state.ending is not None

    @property
    def ending(self) -> Ending | None:
        return self.scenario.ending(self.state.ending) if self.state.ending else None

    @property
    def customer_line(self) -> str:
        """What the customer said last (the line the trainee is answering now)."""
        return self.state.customer_line

    @property
    def mood(self) -> float:
        return self.state.mood

    @property
    def patience(self) -> int:
        return self.state.patience

    @property
    def goals_met(self) -> dict[str, bool]:
        return dict(self.state.goals)

    @property
    def pass_mark(self) -> float:
        return self.scenario.pass_mark if self.scenario.pass_mark is not None else self.rubric.pass_threshold

    def request_for(self, reply: str) -> ScoreRequest:
        """What to ask the scorer about `reply` at this point of the conversation."""
        pending = tuple(g for g in self.scenario.goals if not self.state.goals[g.id])
        beat = self.scenario.beat(self.state.beat)
        return ScoreRequest(
            reply=reply,
            context=self.state.customer_line,
            rubric=self.rubric,
            goals=pending,
            model_replies=tuple(render_line(r, self._line_context()) for r in beat.model_replies),
        )

    def respond(self, reply: str) -> Turn:
        """Score `reply` with the scorer given at construction and move the conversation on."""
        if self.scorer is None:
            raise RuntimeError("this conversation has no scorer; score elsewhere and call apply()")
        return self.apply(reply, self.scorer.score(self.request_for(reply)))

    def apply(self, reply: str, score: ReplyScore) -> Turn:
        """Move the conversation on by one reply, already scored."""
        if self.finished:
            raise RuntimeError("the conversation has ended")
        state = self.state
        beat_before = state.beat
        line_before = state.customer_line
        mood_before = state.mood
        state.turn += 1

        newly_met = [g for g in score.goals_met if g in state.goals and not state.goals[g]]
        for goal_id in newly_met:
            state.goals[goal_id] = True

        notes = self._noticed(reply, score)
        swing = (score.overall - 0.5) * 2 * MOOD_SWING
        swing *= self.preset.gain if swing >= 0 else self.preset.loss
        if notes:  # heard it before: no goodwill for it, and it grates
            swing = min(swing, 0.0) - REPEAT_PENALTY * self.preset.loss
        swing += GOAL_MET_BONUS * len(newly_met)
        if score.red_flags:
            swing -= RED_FLAG_PENALTY * self.preset.loss
            state.patience -= 2
        elif score.overall < self.preset.poor_reply:
            state.patience -= 1
        if notes:
            state.patience -= 1
        state.mood = min(100.0, max(0.0, state.mood + swing))
        state.patience = max(0, state.patience)

        next_beat: str | None = None
        if state.patience <= 0:
            state.ending = self.scenario.on_patience_out
        else:
            transition = self._first_transition(self.scenario.beat(beat_before), score)
            if transition is not None and transition.end:
                state.ending = transition.end
            else:
                next_beat = transition.to if transition is not None else beat_before
                if state.turn >= self.scenario.turn_limit:
                    state.ending = self.scenario.on_turn_limit
                    next_beat = None

        if state.ending:
            reaction = render_line(self.scenario.ending(state.ending).line, self._line_context())
        else:
            assert next_beat is not None
            state.beat = next_beat
            reaction = self._arrive(self.scenario.beat(next_beat))
        state.customer_line = reaction

        turn = Turn(
            number=state.turn,
            beat=beat_before,
            customer_line=line_before,
            reply=reply,
            scores=score.scores,
            levels=score.levels,
            evidence=score.evidence,
            feedback={cid: c.feedback for cid, c in score.criteria.items()},
            overall=score.overall,
            red_flags=list(score.red_flags),
            goals_met=newly_met,
            mood_before=mood_before,
            mood_after=state.mood,
            patience_after=state.patience,
            next_beat=None if state.ending else state.beat,
            customer_reaction=reaction,
            ending=state.ending,
            nearest_model_reply=score.nearest_model_reply,
            model_version=score.model_version,
            notes=notes,
        )
        self.turns.append(turn)
        return turn

    def result(self) -> SessionResult:
        if not self.finished:
            raise RuntimeError("the conversation has not ended yet")
        ending = self.ending
        assert ending is not None
        ids = self.rubric.criterion_ids
        n = len(self.turns)
        averages = {cid: (sum(t.scores[cid] for t in self.turns) / n if n else 0.0) for cid in ids}
        overall = sum(t.overall for t in self.turns) / n if n else 0.0
        below_floor, passed = verdict(overall, averages, {c.id: c.floor for c in self.rubric.criteria}, self.pass_mark,
                                      ending.kind.value)
        why: list[str] = []  # the same rule, in words
        if overall < self.pass_mark:
            why.append(f"your replies averaged {overall:.2f}, under the pass mark of {self.pass_mark:.2f}")
        for cid in below_floor:
            criterion = self.rubric.criterion(cid)
            why.append(f"{criterion.name} averaged {averages[cid]:.2f}, under its floor of {criterion.floor:.2f}")
        if ending.kind is not EndingKind.resolved:
            why.append(f"the conversation ended {ending.kind.words.lower()}, not resolved")
        return SessionResult(
            ending=ending.id,
            ending_kind=ending.kind.value,
            ending_summary=ending.summary,
            averages=averages,
            overall=overall,
            pass_mark=self.pass_mark,
            passed=passed,
            turns=n,
            below_floor=below_floor,
            why_not_passed=why,
        )

    def fork(self) -> "Conversation":
        """An independent copy at this point (turns so far shared, state copied), e.g. to explore what-ifs."""
        twin = copy.copy(self)
        twin.state = dataclasses.replace(self.state, goals=dict(self.state.goals), visits=dict(self.state.visits),
                                         said={k: list(v) for k, v in self.state.said.items()})
        twin.turns = list(self.turns)
        return twin

    def weakest_turns(self, count: int = 3) -> list[Turn]:
        """The lowest-scoring turns, for "a better reply would have been…"."""
        return sorted(self.turns, key=lambda t: (t.overall, t.number))[:count]

    # -- inside ---------------------------------------------------------------------------------------------

    def _line_context(self) -> dict[str, Any]:
        return {
            **self.scenario.variables,
            "customer": self.scenario.persona.name,
            "trainee": self.trainee,
            "mood": round(self.state.mood),
            "patience": self.state.patience,
            "turn": self.state.turn,
            "difficulty": self.difficulty.value,
        }

    def _arrive(self, beat: Beat) -> str:
        """Pick and render one of the beat's lines, reproducibly from the seed.

        Lines written for this difficulty take precedence over lines for every difficulty, so a hard customer
        always sounds hard. A line already said on this beat is said again only once every other one has been.
        """
        visit = self.state.visits.get(beat.id, 0)
        self.state.visits[beat.id] = visit + 1
        indexed = list(enumerate(beat.lines))
        own = [(i, v) for i, v in indexed if isinstance(v, LineVariant) and self.difficulty in v.difficulties]
        general = [(i, v) for i, v in indexed if isinstance(v, str)]
        candidates = own or general or indexed
        said = self.state.said.setdefault(beat.id, [])
        fresh = [(i, v) for i, v in candidates if i not in said]
        if not fresh:  # all said: start again, but never the line just said
            fresh = [(i, v) for i, v in candidates if not said or i != said[-1]] or candidates
        rng = random.Random(f"{self.seed}:{beat.id}:{visit}")
        index, variant = rng.choice(fresh)
        said.append(index)
        text = variant.text if isinstance(variant, LineVariant) else variant
        return render_line(text, self._line_context())

    def _noticed(self, reply: str, score: ReplyScore) -> list[str]:
        """What the customer notices beyond the scores: the same reply again, or the same refusal again."""
        notes: list[str] = []
        words = _words(reply)
        for earlier in self.turns:
            if words and _similar(words, _words(earlier.reply)) >= REPEAT_SIMILARITY:
                notes.append(f"You said nearly the same thing at turn {earlier.number}; repeating yourself tells "
                             "the customer you are not listening. Answer what they just said.")
                break
        refusal = self.rubric.refusal
        if not notes and refusal and score.levels.get(refusal) == 0:
            earlier_refusals = [t for t in self.turns if t.levels.get(refusal) == 0]
            if earlier_refusals:
                notes.append(f"You refused again (as at turn {earlier_refusals[-1].number}); a second no in other "
                             "words is still a no. Offer something you can do.")
        return notes

    def _condition_context(self, score: ReplyScore) -> dict[str, Any]:
        return {
            "scores": score.scores,
            "levels": score.levels,
            "overall": score.overall,
            "goals": dict(self.state.goals),
            "red_flag": bool(score.red_flags),
            "mood": self.state.mood,
            "patience": self.state.patience,
            "turn": self.state.turn,
            "difficulty": self.difficulty.value,
        }

    def _first_transition(self, beat: Beat, score: ReplyScore):
        """The first transition whose condition holds and, for one that ends the conversation, whose ending's
        required goals are all met (otherwise it is skipped: no score stands in for a goal)."""
        context = self._condition_context(score)
        for transition in beat.transitions:
            if transition.end is not None:
                required = self.scenario.ending(transition.end).requires
                if any(not self.state.goals.get(goal, False) for goal in required):
                    continue
            if transition.when is None or evaluate_condition(transition.when, context):
                return transition
        return None


def verdict(overall: float, averages: dict[str, float], floors: dict[str, float], pass_mark: float | None,
            ending_kind: str) -> tuple[list[str], bool]:
    """The pass rule, for a conversation as played and for a stored session with a trainer's levels: (the criteria
    under their floor, passed). Passing takes the pass mark (none set: any average), every floor and a resolved
    ending."""
    below = [cid for cid, floor in floors.items() if averages.get(cid, 0.0) < floor]
    passed = (pass_mark is None or overall >= pass_mark) and not below and ending_kind == EndingKind.resolved.value
    return below, passed


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _similar(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
