"""Trainee profiles: a trainee whose every reply gets the same fixed scores, played without the model.

A profile is played from the opening at every difficulty and a few seeds, and each run is held to the
profile's expectations (`may_reach`, `must_not_reach`, `must_pass`, `must_not_pass`). Five profiles are built
in, each with default expectations a scenario can change under `tests: profiles:`; a scenario can also declare
profiles of its own with `scores:`, `goals:` and `red_flag:`.

How a profile meets goals (`goals: all | none | [ids]`): a goal is met on the first beat whose transitions test
it (`goals.<id>` in a `when:`), which is when a trainee doing the right thing would meet it; a goal that no
transition tests is met with the first reply (it only moves the customer's mood).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.content.rubric import Rubric
from simulator.content.scenario import BUILTIN_PROFILES, DIFFICULTIES, EndingKind, Scenario, TraineeProfile
from simulator.content.templates import TemplateProblem, condition_names
from simulator.engine import Conversation
from simulator.scoring.base import ReplyScore, build_reply_score

SEEDS = (0, 1, 2)
"""Seeds each profile is played with at every difficulty (they pick the customer's line variants)."""
UNNAMED_SCORE = 0.5
"""The score of a criterion a scenario's own profile does not name."""
ENDING_KINDS = tuple(k.value for k in EndingKind)


@dataclass(frozen=True)
class Profile:
    """A profile ready to play: built-in defaults with the scenario's changes applied."""

    name: str
    scores: dict[str, float]
    default: float
    """The score of every criterion `scores` does not name."""
    goals: str | tuple[str, ...]
    """"all", "none", or goal ids."""
    red_flag: bool
    may_reach: tuple[str, ...] | None = None
    must_not_reach: tuple[str, ...] = ()
    must_pass: bool = False
    must_not_pass: bool = False
    builtin: bool = True
    known_issue: str | None = None
    """The scenario's note on why it breaks these expectations for now."""
    declared_at: tuple | None = None
    """The data path of the scenario's entry for this profile, if it has one."""
    same_reply: bool = False
    """Every reply is word for word the same (the engine notices repeats); otherwise each reply differs."""

    def reply(self, number: int) -> str:
        """The text of the profile's reply number `number` (only its repetition matters: scores are fixed)."""
        if self.same_reply:
            return f"({self.name})"
        return f"({self.name}) reply {number} r{number:04x}"  # no two alike enough to count as a repeat

    def expectations(self) -> str:
        parts = []
        if self.may_reach is not None:
            parts.append(f"may reach {', '.join(self.may_reach) or 'nothing'}")
        if self.must_not_reach:
            parts.append(f"must not reach {', '.join(self.must_not_reach)}")
        if self.must_pass:
            parts.append("must pass")
        if self.must_not_pass:
            parts.append("must not pass")
        return "; ".join(parts) or "none"


BUILTIN: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("ideal", {}, 1.0, "all", False, may_reach=("resolved",), must_pass=True),
        Profile("cold-but-competent", {"empathy": 0.0}, 1.0, "all", False, must_not_pass=True),
        Profile("scripted", {"script_avoidance": 0.0, "empathy": 0.3, "ownership": 0.3}, 0.5, "none", False,
                must_not_reach=("resolved",), must_not_pass=True),
        Profile("repeating", {}, 0.5, "none", False, must_not_pass=True, same_reply=True),
        Profile("hostile", {}, 0.0, "none", True, must_not_reach=("resolved",), must_not_pass=True),
    )
}
"""The built-in profiles and their default expectations (their names are `content.scenario.BUILTIN_PROFILES`,
which the checks of a `tests:` section use)."""
assert tuple(BUILTIN) == BUILTIN_PROFILES, "keep content.scenario.BUILTIN_PROFILES in step with BUILTIN"


def profiles_for(scenario: Scenario) -> list[Profile]:
    """The built-in profiles (changed as the scenario says) followed by the scenario's own."""
    declared = list(scenario.tests.profiles) if scenario.tests else []
    out = dict(BUILTIN)
    for index, entry in enumerate(declared):
        out[entry.name] = _apply(entry, BUILTIN.get(entry.name), ("tests", "profiles", index))
    return list(out.values())


def _apply(entry: TraineeProfile, base: Profile | None, path: tuple) -> Profile:
    given = entry.model_fields_set
    if base is None:
        base = Profile(entry.name, {}, UNNAMED_SCORE, "none", False, builtin=False)
    changes: dict = {"declared_at": path}
    if "scores" in given:
        changes["scores"] = dict(entry.scores or {})
    if "goals" in given and entry.goals is not None:
        changes["goals"] = entry.goals if isinstance(entry.goals, str) else tuple(entry.goals)
    if "red_flag" in given:
        changes["red_flag"] = bool(entry.red_flag)
    if "may_reach" in given:
        changes["may_reach"] = None if entry.may_reach is None else tuple(entry.may_reach)
    if "must_not_reach" in given:
        changes["must_not_reach"] = tuple(entry.must_not_reach or ())
    if "must_pass" in given:
        changes["must_pass"] = bool(entry.must_pass)
    if "must_not_pass" in given:
        changes["must_not_pass"] = bool(entry.must_not_pass)
    changes["known_issue"] = entry.known_issue
    return _replace(base, **changes)


def _replace(profile: Profile, **changes) -> Profile:
    from dataclasses import replace

    return replace(profile, **changes)


def goals_tested(scenario: Scenario) -> dict[str, set[str]]:
    """For each beat, the goal ids its transitions' conditions test."""
    out: dict[str, set[str]] = {}
    for beat in scenario.beats:
        found: set[str] = set()
        for transition in beat.transitions:
            if transition.when:
                try:
                    _, lookups = condition_names(transition.when)
                except TemplateProblem:
                    continue
                found |= {attr for base, attr in lookups if base == "goals"}
        out[beat.id] = found
    return out


def ending_matches(wanted: str, ending_id: str, kind: str) -> bool:
    """Whether an expectation naming `wanted` (an ending id or a kind) covers this ending."""
    return wanted == ending_id or wanted == kind


@dataclass
class Run:
    difficulty: str
    seed: int
    ending: str | None = None
    kind: str | None = None
    passed: bool = False
    overall: float = 0.0
    path: list[str] = field(default_factory=list)
    problem: str | None = None
    """A template or condition that failed during the run."""

    def outcome(self) -> str:
        if self.problem:
            return self.problem
        verdict = "passed" if self.passed else "failed"
        return (f"ending {self.ending!r} ({self.kind}), {verdict} with overall {self.overall:.2f}; "
                f"path {path_text(self.path)}")


def path_text(path: list[str]) -> str:
    """Beats in order, a stay on one beat counted: "opening ×2 → doubt → sorted"."""
    parts: list[list] = []
    for step in path:
        if parts and parts[-1][0] == step:
            parts[-1][1] += 1
        else:
            parts.append([step, 1])
    return " → ".join(name if n == 1 else f"{name} ×{n}" for name, n in parts)


class ProfilePlayer:
    """Plays profiles on one scenario (the per-beat goal tests worked out once)."""

    def __init__(self, scenario: Scenario, rubric: Rubric):
        self.scenario = scenario
        self.rubric = rubric
        self.tested = goals_tested(scenario)
        tested_anywhere = set().union(*self.tested.values()) if self.tested else set()
        self.untested = {g.id for g in scenario.goals} - tested_anywhere

    def score(self, profile: Profile, beat: str, first: bool) -> ReplyScore:
        ids = self.rubric.criterion_ids
        scores = {cid: profile.scores.get(cid, profile.default) for cid in ids}
        allowed = {g.id for g in self.scenario.goals} if profile.goals == "all" else (
            set() if profile.goals == "none" else set(profile.goals))
        met = self.tested.get(beat, set()) | (self.untested if first else set())
        flags = [self.rubric.red_flags[0].id if self.rubric.red_flags else "red_flag"] if profile.red_flag else []
        return build_reply_score(self.rubric, scores, {}, red_flags=flags, goals_met=sorted(met & allowed),
                                 model_version="profile")

    def play(self, profile: Profile, difficulty: str, seed: int) -> Run:
        run = Run(difficulty, seed)
        try:
            conversation = Conversation(self.scenario, self.rubric, seed=seed, difficulty=difficulty)
            run.path.append(conversation.state.beat)
            while not conversation.finished:
                beat = conversation.state.beat
                reply = profile.reply(len(conversation.turns) + 1)
                turn = conversation.apply(reply, self.score(profile, beat, not conversation.turns))
                run.path.append(turn.next_beat or turn.ending or "?")
        except TemplateProblem as exc:
            where = run.path[-1] if run.path else self.scenario.beats[0].id
            run.problem = f"on beat {where!r}: {exc}"
            return run
        result = conversation.result()
        run.ending, run.kind, run.passed, run.overall = result.ending, result.ending_kind, result.passed, result.overall
        return run

    def runs(self, profile: Profile) -> list[Run]:
        return [self.play(profile, d, s) for d in DIFFICULTIES for s in SEEDS]


def violations(profile: Profile, runs: list[Run]) -> list[str]:
    """One message per way the runs broke the profile's expectations (runs alike grouped together)."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        for what in _broken(profile, run):
            groups.setdefault((what, run.outcome()), []).append(run)
    out = []
    for (what, outcome), group in groups.items():
        out.append(f"profile {profile.name!r} {what} at {_where(group)}: {outcome}")
    return out


def _broken(profile: Profile, run: Run) -> list[str]:
    if run.problem:
        return ["hit a template or condition that failed"]
    assert run.ending is not None and run.kind is not None
    broken = []
    if profile.may_reach is not None and not any(ending_matches(w, run.ending, run.kind) for w in profile.may_reach):
        broken.append(f"reached {run.ending!r} but may only reach {', '.join(profile.may_reach)}")
    hit = [w for w in profile.must_not_reach if ending_matches(w, run.ending, run.kind)]
    if hit:
        broken.append(f"reached {run.ending!r} but must not reach {', '.join(hit)}")
    if profile.must_pass and not run.passed:
        broken.append("failed but must pass")
    if profile.must_not_pass and run.passed:
        broken.append("passed but must not pass")
    return broken


def _where(runs: list[Run]) -> str:
    by_difficulty: dict[str, list[int]] = {}
    for run in runs:
        by_difficulty.setdefault(run.difficulty, []).append(run.seed)
    parts = []
    for difficulty, seeds in by_difficulty.items():
        parts.append(difficulty if sorted(seeds) == list(SEEDS) else f"{difficulty} (seed {', '.join(map(str, seeds))})")
    if len(by_difficulty) == len(DIFFICULTIES) and all(sorted(s) == list(SEEDS) for s in by_difficulty.values()):
        return "every difficulty"
    return ", ".join(parts)
