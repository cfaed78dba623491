"""A scenario's own tests, as `frontline test` runs them: scripted cases, trainee profiles, exploration.

    suite = Suite(library)                        # the library the scenarios are loaded (and checked) with
    targets = suite.collect(["scenarios"])        # ids, files or folders; ContentError for a broken file
    outcome = suite.run(targets, scorer=make)     # make() is called only when some case needs the model
    for failure in outcome.failures: print(failure)

Every failure is a `Failure` printed as FILE:LINE: message, the line being the part of the scenario file that
the failure is about (the case, the profile's entry, the beat or the ending). A `tests:` section that refers to
endings, goals or criteria the scenario does not have is bad input, found by every load of the file
(`simulator.content.checks.check_tests`): `collect` raises ContentError with all of them before anything is
played, and `validate` reports the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from simulator import settings
from simulator.content.library import Library, Loaded
from simulator.content.rubric import Rubric
from simulator.content.scenario import Scenario, ScriptedCase
from simulator.content.templates import TemplateProblem
from simulator.engine import Conversation
from simulator.errors import ContentError, Problem
from simulator.scoring.base import Scorer
from simulator.studio.explore import DEFAULT_BUDGET, explore
from simulator.studio.profiles import (
    ProfilePlayer,
    ending_matches,
    path_text,
    profiles_for,
    violations,
)


@dataclass(frozen=True)
class Failure:
    """A test that ran and failed, printed as FILE:LINE: message."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Target:
    """A usable scenario to test."""

    loaded: Loaded[Scenario]
    scenario: Scenario
    rubric: Rubric

    @property
    def file(self) -> str:
        return str(self.loaded.path)

    def line(self, path: tuple) -> int:
        assert self.loaded.yaml is not None
        return self.loaded.yaml.mark_for(path)[0]


@dataclass
class Outcome:
    scenarios: int = 0
    checks: int = 0
    failed: int = 0
    """Checks that failed (a check can report more than one line)."""
    failures: list[Failure] = field(default_factory=list)
    known: list[Failure] = field(default_factory=list)
    """Failures of profiles and cases the scenario marks as a `known_issue`: printed, but not failing the run."""

    def summary(self) -> str:
        known = f", {len(self.known)} known issue(s)" if self.known else ""
        return f"{self.scenarios} scenario(s), {self.checks} check(s): {self.failed} failed{known}"


@dataclass(frozen=True)
class Parts:
    """Which kinds of test to run."""

    cases: bool = True
    profiles: bool = True
    explore: bool = True
    budget: int = DEFAULT_BUDGET


# -- bad input ------------------------------------------------------------------------------------------------------


# -- the suite ------------------------------------------------------------------------------------------------------


class Suite:
    def __init__(self, library: Library | None = None):
        self.library = library or Library()

    def collect(self, names: list[str] | None = None) -> list[Target]:
        """The scenarios named (ids, files or folders; the shipped folder when none), each loaded with every
        check. Raises ContentError listing every problem of every file when any is broken."""
        loaded: list[tuple[Library, Loaded[Scenario]]] = []
        problems: list[Problem] = []
        for name in names or [_shown(settings.scenarios_dir())]:
            path = Path(name)
            if path.is_dir():
                library = self.library.including(path)
                files = Library([path], shipped=False).scenario_files()
                if not files:
                    problems.append(Problem(name, 1, 1, "no scenario files in this folder"))
                loaded += [(library, library.load(f)) for f in files]
            elif path.exists() and not path.is_dir():
                library = self.library.including(path)
                loaded.append((library, library.load(path)))
            else:
                loaded.append((self.library, self.library.find_scenario(name)))
        targets: list[Target] = []
        seen: set[Path] = set()
        for library, item in loaded:
            if item.path.resolve() in seen:
                continue
            seen.add(item.path.resolve())
            if item.errors or not isinstance(item.model, Scenario):
                problems += item.errors or [Problem(str(item.path), 1, 1, "not a scenario file")]
                continue
            rubric = library.rubric_for(item)
            assert item.yaml is not None
            targets.append(Target(item, item.model, rubric))
        if problems:
            raise ContentError(problems)
        return targets

    def run(self, targets: list[Target], *, parts: Parts = Parts(),
            scorer: Callable[[], Scorer] | None = None) -> Outcome:
        outcome = Outcome(scenarios=len(targets))
        real: list[Scorer] = []

        def get_scorer() -> Scorer:
            if not real:
                if scorer is None:
                    raise RuntimeError("cases need a scorer")
                real.append(scorer())
            return real[0]

        for target in targets:
            if parts.cases and target.scenario.tests:
                for index, case in enumerate(target.scenario.tests.cases):
                    self._tally_noted(outcome, run_case(target, index, case, get_scorer()), case.known_issue,
                                      Failure(target.file, target.line(("tests", "cases", index)),
                                              f"case {case.name!r} now reaches what it expects; remove its "
                                              "`known_issue`"))
            if parts.profiles:
                player = ProfilePlayer(target.scenario, target.rubric)
                for profile in profiles_for(target.scenario):
                    line = target.line(profile.declared_at) if profile.declared_at else _section_line(target)
                    found = violations(profile, player.runs(profile))
                    self._tally_noted(outcome, [Failure(target.file, line, m) for m in found], profile.known_issue,
                                      Failure(target.file, line, f"profile {profile.name!r} now meets its "
                                              f"expectations ({profile.expectations()}); remove its `known_issue`"))
            if parts.explore and (target.scenario.tests is None or target.scenario.tests.explore):
                for failures in explore_checks(target, parts.budget):
                    self._tally(outcome, failures)
        return outcome

    @classmethod
    def _tally_noted(cls, outcome: Outcome, failures: list[Failure], known_issue: str | None,
                     stale: Failure) -> None:
        """A check that may carry a `known_issue` note: without one it counts as usual; with one its failures are
        known issues (printed, not failing), and passing makes the note itself the failure `stale`."""
        if known_issue is None:
            cls._tally(outcome, failures)
        elif failures:
            outcome.checks += 1
            outcome.known += [Failure(f.file, f.line, f"known issue: {f.message}") for f in failures]
        else:
            cls._tally(outcome, [stale])

    @staticmethod
    def _tally(outcome: Outcome, failures: list[Failure]) -> None:
        outcome.checks += 1
        if failures:
            outcome.failed += 1
            outcome.failures += failures


def _shown(path: Path) -> str:
    """`path` relative to the working folder when it is inside it (how failures name the shipped files)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _section_line(target: Target) -> int:
    """Where a built-in profile the scenario does not mention is reported: its `tests:` key, else its `id:`."""
    assert target.loaded.yaml is not None
    marks = target.loaded.yaml.key_marks
    return (marks.get(("tests",)) or marks.get(("id",)) or (1, 1))[0]


# -- cases ----------------------------------------------------------------------------------------------------------


def run_case(target: Target, index: int, case: ScriptedCase, scorer: Scorer) -> list[Failure]:
    """Play the case's replies with `scorer`; the failures, if any (none when it reached what it expects)."""
    line = target.line(("tests", "cases", index))
    name = f"case {case.name!r}"
    expect = case.expect
    try:
        conversation = Conversation(target.scenario, target.rubric, scorer, seed=case.seed,
                                    difficulty=case.difficulty)
        used = 0
        for reply in case.replies:
            if conversation.finished:
                break
            conversation.respond(reply)
            used += 1
    except TemplateProblem as exc:
        return [Failure(target.file, line, f"{name}: a template or condition failed: {exc}")]
    path = [t.beat for t in conversation.turns] + [conversation.state.ending or conversation.state.beat]
    played = "; ".join(f"turn {t.number} on {t.beat!r} overall {t.overall:.2f}"
                       + (f", goals {', '.join(t.goals_met)}" if t.goals_met else "")
                       + (f", red flag {', '.join(t.red_flags)}" if t.red_flags else "")
                       for t in conversation.turns)
    if not conversation.finished:
        return [Failure(target.file, line,
                        f"{name}: the replies ran out at turn {len(conversation.turns)} on beat "
                        f"{conversation.state.beat!r} (mood {conversation.mood:.0f}, patience "
                        f"{conversation.patience}) before reaching {expect.ending!r}; path {path_text(path)} "
                        f"({played})")]
    result = conversation.result()
    failures = []
    if not ending_matches(expect.ending, result.ending, result.ending_kind):
        failures.append(f"{name} reached ending {result.ending!r} ({result.ending_kind}) at turn {result.turns}, "
                        f"expected {expect.ending!r}; path {path_text(path)} ({played})")
    if expect.passed is not None and result.passed != expect.passed:
        verdict = "passed" if result.passed else "failed"
        failures.append(f"{name} {verdict} (overall {result.overall:.2f}, pass mark {result.pass_mark:.2f}, "
                        f"ending {result.ending!r}) but is expected to {'pass' if expect.passed else 'fail'}"
                        + (f": {'; '.join(result.why_not_passed)}" if result.why_not_passed else "")
                        + f"; path {path_text(path)} ({played})")
    left = len(case.replies) - used
    if left:
        failures.append(f"{name} ended ({result.ending!r}) at turn {result.turns} with {left} reply(ies) left "
                        f"over; remove them or expect a later ending")
    return [Failure(target.file, line, m) for m in failures]


# -- exploration ----------------------------------------------------------------------------------------------------


def explore_checks(target: Target, budget: int) -> list[list[Failure]]:
    """One entry per check: each ending reached, each beat left, the templates and conditions run."""
    s = target.scenario
    found = explore(s, target.rubric, budget=budget)
    checks: list[list[Failure]] = []
    for index, ending in enumerate(s.endings):
        failures = []
        if ending.id not in found.endings:
            failures.append(Failure(target.file, target.line(("endings", index, "id")),
                                    f"ending {ending.id!r} was not reached by any explored path ({found.total} "
                                    f"replies explored at every difficulty); check the transitions that end there"))
        checks.append(failures)
    traps = found.traps()
    for index, beat in enumerate(s.beats):
        failures = []
        if beat.id in traps:
            where = traps[beat.id]
            at = "every difficulty it was reached at" if len(where) == 3 else ", ".join(where)
            tried = sum(found.replies_on.get((d, beat.id), 0) for d in where)
            failures.append(Failure(target.file, target.line(("beats", index, "id")),
                                    f"beat {beat.id!r} is only ever left by the turn limit or patience running out "
                                    f"({tried} replies explored on it, at {at}); add a transition a reply can take"))
        checks.append(failures)
    beat_index = {b.id: i for i, b in enumerate(s.beats)}
    checks.append([
        Failure(target.file, target.line(("beats", beat_index.get(f.beat, 0))),
                f"after a reply on beat {f.beat!r}: {f.message} (at {_first(where)})")
        for f, where in found.failures.items()
    ])
    return checks


def _first(where: list[str]) -> str:
    more = len(where) - 1
    return where[0] + (f"; and {more} more state(s)" if more else "")
