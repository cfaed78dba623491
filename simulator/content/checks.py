"""Every check of a scenario beyond its shape, each problem as FILE:LINE:COL: message.

The library runs these on every load (`simulator.content.library`), so `validate`, `list`, `play` and the
picker refuse the same files for the same reasons. Pydantic catches the shape of a file (`shape.py`); this
module catches what only the whole file, with the rubrics it can see, shows:
undeclared template variables, transitions to beats that don't exist, beats nobody can reach or leave,
conditions naming criteria the rubric lacks, and templates that fail when rendered in the sandbox.

A template is rendered, and a condition evaluated, over the whole range of what it reads, not one sample: every
difficulty it can be said at, every mood, patience and turn, short and long trainee names; for a condition every
criterion's score at 0, 0.5 and 1 and level 0…max, goals and the red flag both ways. Only the names it reads
vary, at most CHECK_COMBINATIONS combinations each (every value of every name, the extremes together, then an
even sample of the rest), and the first that fails is named: `template fails when difficulty=hard, mood=0: …`.
"""

from __future__ import annotations

import difflib
import itertools
import math
import time
from collections import deque
from typing import Any, Callable, Iterator

from simulator.content.rubric import Rubric
from simulator.content.scenario import BUILTIN_PROFILES, Difficulty, EndingKind, LineVariant, Scenario
from simulator.content.templates import (
    CONDITION_NAMES,
    LINE_NAMES,
    TemplateProblem,
    condition_reads,
    evaluate_condition,
    render_line,
    template_names,
)
from simulator.content.yamlfile import LoadedYaml
from simulator.errors import Problem

CHECK_COMBINATIONS = 400
"""Most value combinations tried per template or condition."""
CHECK_SECONDS = 2.0
"""Most time spent trying one template or condition; past it the rest are skipped with a warning."""
TRAINEE_NAMES = ("Sam", "you", "A", "Anna-Maria Konstantinopoulou-Featherstonehaugh de la Cruz-Vanderbilt-Smythe")
"""Trainee names a line is tried with: short, the default, one letter, and a long one."""
SCORE_VALUES = (0.0, 0.5, 1.0)

Dims = list[tuple[str, tuple]]
"""(name, the values it can take), in the order a failing combination is described."""


def _combinations(dims: Dims, cap: int = CHECK_COMBINATIONS) -> Iterator[tuple]:
    """Value tuples over `dims`: all of them when there are at most `cap`; otherwise, in this order, every
    combination of each name's extremes (first, middle, last), every value of each name (the others cycling
    through their extremes), then evenly spaced combinations from the full product, up to `cap` in all."""
    sizes = [len(values) for _, values in dims]
    total = math.prod(sizes)
    if total <= cap:
        yield from itertools.product(*(values for _, values in dims))
        return
    seen: set[tuple[int, ...]] = set()

    def fresh(index: tuple[int, ...]) -> bool:
        if index in seen or len(seen) >= cap:
            return False
        seen.add(index)
        return True

    edges = [sorted({0, (n - 1) // 2, n - 1}) for n in sizes]
    sweeps = []
    for d, n in enumerate(sizes):
        for i in range(n):
            sweeps.append(tuple(i if e == d else edges[e][i % len(edges[e])] for e in range(len(sizes))))
    spread = (_mixed_radix(k * total // cap, sizes) for k in range(cap))
    for index in itertools.chain(itertools.product(*edges), sweeps, spread):
        if len(seen) >= cap:
            return
        if fresh(index):
            yield tuple(values[i] for (_, values), i in zip(dims, index))


def _mixed_radix(number: int, sizes: list[int]) -> tuple[int, ...]:
    digits = []
    for n in reversed(sizes):
        number, digit = divmod(number, n)
        digits.append(digit)
    return tuple(reversed(digits))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.isidentifier() and len(value) <= 20 else f"{value[:20]!r}… ({len(value)} characters)" \
            if len(value) > 20 else repr(value)
    return repr(value)


def _describe(dims: Dims, combination: tuple) -> str:
    return ", ".join(f"{name}={_show(value)}" for (name, _), value in zip(dims, combination))


_Verdict = tuple[tuple | None, TemplateProblem | None, int]
_verdicts: dict[tuple, _Verdict] = {}
"""By the template or condition, its ranges and its fixed context: shipped scenarios share many conditions
(`red_flag or mood < 15`), and the picker loads every scenario again."""


def _first_failure(key: tuple, dims: Dims, attempt: Callable[[tuple], None]) -> _Verdict:
    """The first combination over `dims` for which `attempt` raises TemplateProblem, with the problem, and -1;
    or None, None and how many combinations were tried when CHECK_SECONDS ran out; or None, None, -1."""
    key = (key, tuple(dims))
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _try_all(dims, attempt)
        if len(_verdicts) >= 4096:
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict


def _try_all(dims: Dims, attempt: Callable[[tuple], None]) -> _Verdict:
    started = time.monotonic()
    tried = 0
    for combination in _combinations(dims):
        if time.monotonic() - started > CHECK_SECONDS:
            return None, None, tried
        tried += 1
        try:
            attempt(combination)
        except TemplateProblem as exc:
            return combination, exc, -1
    return None, None, -1


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _ScenarioChecker:
    def __init__(self, scenario: Scenario, yaml: LoadedYaml, file: str, rubrics: dict[str, Rubric]):
        self.s = scenario
        self.yaml = yaml
        self.file = file
        self.rubrics = rubrics
        self.problems: list[Problem] = []

    def at(self, path: tuple, message: str, severity: str = "error") -> None:
        line, col = self.yaml.mark_for(path)
        self.problems.append(Problem(self.file, line, col, message, severity))

    def run(self) -> list[Problem]:
        s = self.s
        beat_ids = [b.id for b in s.beats]
        ending_ids = [e.id for e in s.endings]
        goal_ids = [g.id for g in s.goals]
        rubric = self.rubrics.get(s.rubric)
        if rubric is None:
            self.at(("rubric",), f"no rubric with id {s.rubric!r}{_did_you_mean(s.rubric, self.rubrics)} "
                                 f"(known: {', '.join(sorted(self.rubrics)) or 'none'})")

        for key in ("on_patience_out", "on_turn_limit"):
            target = getattr(s, key)
            if target not in ending_ids:
                self.at((key,), f"no ending with id {target!r}{_did_you_mean(target, ending_ids)}")

        line_names = LINE_NAMES | set(s.variables)
        sample = self._sample_line_context()
        for bi, beat in enumerate(s.beats):
            for li, variant in enumerate(beat.lines):
                text = variant.text if isinstance(variant, LineVariant) else variant
                path = ("beats", bi, "lines", li) + (("text",) if isinstance(variant, LineVariant) else ())
                self._check_template(text, path, line_names, sample, _said_at(beat.lines, li))
            for ri, reply in enumerate(beat.model_replies):
                self._check_template(reply, ("beats", bi, "model_replies", ri), line_names, sample)
            if not beat.model_replies:
                self.at(("beats", bi), f"beat {beat.id!r} has no model_replies; the debrief will have no better "
                                       "reply to show for it", "warning")
            for ti, transition in enumerate(beat.transitions):
                tpath = ("beats", bi, "transitions", ti)
                if transition.to is not None and transition.to not in beat_ids:
                    self.at(tpath + ("to",), f"no beat with id {transition.to!r}{_did_you_mean(transition.to, beat_ids)}")
                if transition.end is not None and transition.end not in ending_ids:
                    self.at(tpath + ("end",),
                            f"no ending with id {transition.end!r}{_did_you_mean(transition.end, ending_ids)}")
                if transition.when is not None:
                    self._check_condition(transition.when, tpath + ("when",), rubric, goal_ids)
        for ei, ending in enumerate(s.endings):
            self._check_template(ending.line, ("endings", ei, "line"), line_names, sample)
            for gi, goal in enumerate(ending.requires):
                if goal not in goal_ids:
                    self.at(("endings", ei, "requires", gi),
                            f"ending {ending.id!r} requires a goal {goal!r} the scenario does not have"
                            f"{_did_you_mean(goal, goal_ids)}")
        for key in ("on_patience_out", "on_turn_limit"):
            target = next((e for e in s.endings if e.id == getattr(s, key)), None)
            if target is not None and target.requires:
                self.at((key,), f"{key} ends with {target.id!r}, whose `requires:` is not checked there (patience "
                                "and the turn limit end the conversation whatever goals were met)", "warning")
        if rubric is not None:
            self.problems.extend(check_tests(s, self.yaml, self.file, rubric))
        self._check_graph(beat_ids)
        return self.problems

    def _sample_line_context(self) -> dict:
        return {**self.s.variables, "customer": self.s.persona.name, "trainee": "Sam", "mood": 50, "patience": 3,
                "turn": 1, "difficulty": Difficulty.medium.value}

    def _line_ranges(self, difficulties: tuple[str, ...]) -> dict[str, tuple]:
        """The values each name the engine gives a line can take (see Conversation._line_context)."""
        s = self.s
        return {
            "difficulty": difficulties,
            "mood": tuple(range(0, 101)),  # rounded to a whole number for lines
            "patience": tuple(range(0, s.persona.patience + 3)),  # easy adds 2; an ending line can see 0
            "trainee": TRAINEE_NAMES,
            "turn": tuple(range(0, s.turn_limit + 1)),  # 0 for the opening line
        }

    def _check_template(self, text: str, path: tuple, allowed: set[str], sample: dict,
                        difficulties: tuple[str, ...] = tuple(d.value for d in Difficulty)) -> None:
        try:
            names = template_names(text)
        except TemplateProblem as exc:
            self.at(path, str(exc))
            return
        unknown = sorted(names - allowed)
        for name in unknown:
            self.at(path, f"template uses {{{{ {name} }}}} but no such variable is declared"
                          f"{_did_you_mean(name, allowed)}; add it under `variables:`")
        if unknown:
            return
        if "difficulty" not in names or sample["difficulty"] in difficulties:
            first = sample
        else:
            first = {**sample, "difficulty": difficulties[0]}
        try:
            render_line(text, first)
        except TemplateProblem as exc:
            self.at(path, f"{exc} (the line was test-rendered in the sandbox with the declared variables)")
            return
        ranges = self._line_ranges(difficulties)
        dims = [(name, ranges[name]) for name in sorted(names) if name in ranges and len(ranges[name]) > 1]
        if not dims:
            return

        def attempt(combination: tuple) -> None:
            render_line(text, {**first, **{name: value for (name, _), value in zip(dims, combination)}})

        key = ("template", text, tuple(sorted(first.items())))
        self._report(path, "template", dims, *_first_failure(key, dims, attempt))

    def _report(self, path: tuple, kind: str, dims: Dims, combination: tuple | None, exc: TemplateProblem | None,
                tried: int) -> None:
        if exc is not None and combination is not None:
            self.at(path, f"{kind} fails when {_describe(dims, combination)}: {exc.reason}")
        elif tried >= 0:
            self.at(path, f"{kind} is too slow to check: {tried} combinations of "
                          f"{', '.join(name for name, _ in dims)} took over {CHECK_SECONDS:g} s, and a customer "
                          f"line or condition should take microseconds; make it simpler", "warning")

    def _check_condition(self, source: str, path: tuple, rubric: Rubric | None, goal_ids: list[str]) -> None:
        try:
            names, lookups, whole = condition_reads(source)
        except TemplateProblem as exc:
            self.at(path, str(exc))
            return
        bad = False
        for name in sorted(names - CONDITION_NAMES):
            self.at(path, f"condition uses unknown name {name!r}{_did_you_mean(name, CONDITION_NAMES)}; "
                          f"conditions can use {', '.join(sorted(CONDITION_NAMES))}")
            bad = True
        for base, attr in sorted(lookups):
            if base in ("scores", "levels") and rubric is not None and attr not in rubric.criterion_ids:
                self.at(path, f"rubric {rubric.id!r} has no criterion {attr!r}"
                              f"{_did_you_mean(attr, rubric.criterion_ids)}")
                bad = True
            if base == "goals" and attr not in goal_ids:
                self.at(path, f"no goal with id {attr!r}{_did_you_mean(attr, goal_ids)}")
                bad = True
        if bad or rubric is None:
            return
        context = {
            "scores": {c: 0.5 for c in rubric.criterion_ids},
            "levels": {c: 1 for c in rubric.criterion_ids},
            "overall": 0.5,
            "goals": {g: False for g in goal_ids},
            "red_flag": False, "mood": 50.0, "patience": 3, "turn": 1, "difficulty": "medium",
        }
        try:
            evaluate_condition(source, context)
        except TemplateProblem as exc:
            self.at(path, f"{exc} (test-evaluated with sample scores)")
            return
        dims = self._condition_dims(names, lookups, whole, rubric, goal_ids)
        if not dims:
            return

        def attempt(combination: tuple) -> None:
            trial = {**context, "scores": dict(context["scores"]), "levels": dict(context["levels"]),
                     "goals": dict(context["goals"])}
            for (name, _), value in zip(dims, combination):
                base, _, key = name.partition(".")
                if key:
                    trial[base][key] = value
                elif base in ("scores", "levels", "goals"):  # read as a whole: every key at once
                    trial[base] = {k: (value if base != "levels" else min(value, levels[k])) for k in trial[base]}
                else:
                    trial[base] = value
            evaluate_condition(source, trial)

        levels = {c.id: c.max_level for c in rubric.criteria}
        key = ("condition", source, tuple(sorted(levels.items())), tuple(goal_ids))
        self._report(path, "condition", dims, *_first_failure(key, dims, attempt))

    def _condition_dims(self, names: set[str], lookups: set[tuple[str, str]], whole: set[str], rubric: Rubric,
                        goal_ids: list[str]) -> Dims:
        """The values each name a condition reads can take when the engine evaluates it (after a reply: turn 1
        on, patience 1 on) — see Conversation._condition_context."""
        s = self.s
        levels = {c.id: c.max_level for c in rubric.criteria}
        top = max(levels.values(), default=1)
        ranges: dict[str, tuple] = {
            "difficulty": tuple(d.value for d in Difficulty),
            "mood": tuple(float(m) for m in range(0, 101)),
            "overall": SCORE_VALUES,
            "patience": tuple(range(1, s.persona.patience + 3)),
            "red_flag": (False, True),
            "turn": tuple(range(1, s.turn_limit + 1)),
        }
        dims: Dims = []
        for name in sorted(names & CONDITION_NAMES):
            if name in ranges:
                dims.append((name, ranges[name]))
                continue
            if name in whole:
                dims.append((name, {"scores": SCORE_VALUES, "levels": tuple(range(top + 1)),
                                    "goals": (False, True)}[name]))
            for base, key in sorted(lookups):
                if base != name:
                    continue
                if base == "scores" and key in levels:
                    dims.append((f"scores.{key}", SCORE_VALUES))
                elif base == "levels" and key in levels:
                    dims.append((f"levels.{key}", tuple(range(levels[key] + 1))))
                elif base == "goals" and key in goal_ids:
                    dims.append((f"goals.{key}", (False, True)))
        return [d for d in dims if len(d[1]) > 1]

    def _check_graph(self, beat_ids: list[str]) -> None:
        s = self.s
        edges: dict[str, set[str]] = {b.id: {t.to for t in b.transitions if t.to} for b in s.beats}
        ends_here = {b.id for b in s.beats if any(t.end for t in b.transitions)}
        reachable = {beat_ids[0]}
        queue = deque([beat_ids[0]])
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt in edges and nxt not in reachable:
                    reachable.add(nxt)
                    queue.append(nxt)
        can_end = set(ends_here)
        changed = True
        while changed:
            changed = False
            for bid, targets in edges.items():
                if bid not in can_end and targets & can_end:
                    can_end.add(bid)
                    changed = True
        for bi, beat in enumerate(s.beats):
            if beat.id not in reachable:
                self.at(("beats", bi, "id"), f"beat {beat.id!r} cannot be reached from the opening beat "
                                             f"{beat_ids[0]!r}; add a transition to it or remove it")
            elif beat.id not in can_end:
                self.at(("beats", bi, "id"), f"no ending can be reached from beat {beat.id!r} through its "
                                             "transitions; add a transition with `end:`")
        reached_endings = {t.end for b in s.beats if b.id in reachable for t in b.transitions if t.end}
        reached_endings |= {s.on_patience_out, s.on_turn_limit}
        for ei, ending in enumerate(s.endings):
            if ending.id not in reached_endings:
                self.at(("endings", ei, "id"), f"ending {ending.id!r} is never reached by any transition",
                        "warning")


def _said_at(lines: list, index: int) -> tuple[str, ...]:
    """The difficulties at which the engine can say line `index` of a beat: its own difficulties' lines come
    first, then lines for every difficulty, then any line (see Conversation._arrive)."""
    out = []
    for difficulty in Difficulty:
        own = [i for i, v in enumerate(lines) if isinstance(v, LineVariant) and difficulty in v.difficulties]
        general = [i for i, v in enumerate(lines) if isinstance(v, str)]
        if index in (own or general or range(len(lines))):
            out.append(difficulty.value)
    return tuple(out)


def check_scenario(scenario: Scenario, yaml: LoadedYaml, file: str, rubrics: dict[str, Rubric]) -> list[Problem]:
    """Everything wrong with a scenario (read from `yaml`, in `file`) that its shape alone does not show, given
    the rubrics it can use."""
    return _ScenarioChecker(scenario, yaml, file, rubrics).run()


# -- the scenario's own tests (`tests:`), checked on every load like the rest of the file ---------------------------

_ENDING_KINDS = tuple(k.value for k in EndingKind)


def check_tests(scenario: Scenario, yaml: LoadedYaml, file: str, rubric: Rubric) -> list[Problem]:
    """Everything in the scenario's `tests:` section that names an ending, goal, criterion or profile wrongly."""
    tests = scenario.tests
    if tests is None:
        return []
    problems: list[Problem] = []

    def at(path: tuple, message: str, key: bool = False) -> None:
        line, col = yaml.mark_for(path, prefer_key=key)
        problems.append(Problem(file, line, col, message))

    endings = [e.id for e in scenario.endings]
    goals = [g.id for g in scenario.goals]
    criteria = rubric.criterion_ids

    def check_ending(name: str, path: tuple) -> None:
        if name not in endings and name not in _ENDING_KINDS:
            at(path, f"no ending or ending kind {name!r}{_did_you_mean(name, endings + list(_ENDING_KINDS))} "
                     f"(endings: {', '.join(endings)}; kinds: {', '.join(_ENDING_KINDS)})")

    seen: dict[str, int] = {}
    for ci, case in enumerate(tests.cases):
        base = ("tests", "cases", ci)
        if case.name in seen:
            at(base + ("name",), f"another case is also named {case.name!r}; give each case its own name")
        seen.setdefault(case.name, ci)
        check_ending(case.expect.ending, base + ("expect", "ending"))
        for ri, reply in enumerate(case.replies):
            if not reply.strip() or "\x00" in reply:
                at(base + ("replies", ri), "a reply must be text (not empty, no NUL byte)")
    names: set[str] = set()
    for pi, profile in enumerate(tests.profiles):
        base = ("tests", "profiles", pi)
        if profile.name in names:
            at(base + ("name",), f"profile {profile.name!r} is given twice; merge the two entries")
        names.add(profile.name)
        if profile.name in BUILTIN_PROFILES:
            fixed = sorted({"scores", "goals", "red_flag"} & profile.model_fields_set)
            for key in fixed:
                at(base + (key,), f"{profile.name!r} is a built-in profile: only its expectations can change; "
                                  f"to set `{key}`, give your profile another name")
        elif "scores" not in profile.model_fields_set:
            at(base + ("name",), f"no built-in profile {profile.name!r}{_did_you_mean(profile.name, BUILTIN_PROFILES)}; a profile "
                                 f"of your own needs `scores:` (built-in: {', '.join(BUILTIN_PROFILES)})")
        for criterion in (profile.scores or {}):
            if criterion not in criteria:
                at(base + ("scores", criterion), f"rubric {rubric.id!r} has no criterion {criterion!r}"
                                                 f"{_did_you_mean(criterion, criteria)}", key=True)
        if isinstance(profile.goals, list):
            for gi, goal in enumerate(profile.goals):
                if goal not in goals:
                    at(base + ("goals", gi), f"no goal with id {goal!r}{_did_you_mean(goal, goals)}")
        for key in ("may_reach", "must_not_reach"):
            for ei, name in enumerate(getattr(profile, key) or []):
                check_ending(name, base + (key, ei))
    return problems
