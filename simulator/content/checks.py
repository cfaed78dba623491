"""Every check of a scenario beyond its shape, each problem as FILE:LINE:COL: message.

The library runs these on every load (`simulator.content.library`), so `validate`, `list`, `play` and the
picker refuse the same files for the same reasons. Pydantic catches the shape of a file (`shape.py`); this
module catches what only the whole file, with the rubrics it can see, shows:
undeclared template variables, transitions to beats that don't exist, beats nobody can reach or leave,
conditions naming criteria the rubric lacks, and templates that fail when rendered in the sandbox.
"""

from __future__ import annotations

import difflib
from collections import deque

from simulator.content.rubric import Rubric
from simulator.content.scenario import Difficulty, LineVariant, Scenario
from simulator.content.templates import (
    CONDITION_NAMES,
    LINE_NAMES,
    TemplateProblem,
    condition_names,
    evaluate_condition,
    render_line,
    template_names,
)
from simulator.content.yamlfile import LoadedYaml
from simulator.errors import Problem


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
                self._check_template(text, path, line_names, sample)
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
        self._check_graph(beat_ids)
        return self.problems

    def _sample_line_context(self) -> dict:
        return {**self.s.variables, "customer": self.s.persona.name, "trainee": "Sam", "mood": 50, "patience": 3,
                "turn": 1, "difficulty": Difficulty.medium.value}

    def _check_template(self, text: str, path: tuple, allowed: set[str], sample: dict) -> None:
        try:
            unknown = sorted(template_names(text) - allowed)
        except TemplateProblem as exc:
            self.at(path, str(exc))
            return
        for name in unknown:
            self.at(path, f"template uses {{{{ {name} }}}} but no such variable is declared"
                          f"{_did_you_mean(name, allowed)}; add it under `variables:`")
        if unknown:
            return
        try:
            render_line(text, sample)
        except TemplateProblem as exc:
            self.at(path, f"{exc} (the line was test-rendered in the sandbox with the declared variables)")

    def _check_condition(self, source: str, path: tuple, rubric: Rubric | None, goal_ids: list[str]) -> None:
        try:
            names, lookups = condition_names(source)
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


def check_scenario(scenario: Scenario, yaml: LoadedYaml, file: str, rubrics: dict[str, Rubric]) -> list[Problem]:
    """Everything wrong with a scenario (read from `yaml`, in `file`) that its shape alone does not show, given
    the rubrics it can use."""
    return _ScenarioChecker(scenario, yaml, file, rubrics).run()
