"""Warnings about weak content: a scenario that works but teaches or plays badly.

The library runs these on every load of a scenario that has no errors, so `validate`, `list`, `play` and the
picker agree. Each warning is located at the line and column of the thing it is about. Warnings never stop a
scenario from being played; they say where a trainee would notice something off:

* a beat with only one line, which the customer repeats word for word every time the conversation comes back
  to it (or, with no fallback transition, on every reply until patience or turns run out);
* a line repeated word for word within a beat;
* endings whose lines start with the same words ("Forget it." twice), so the trainee cannot hear which way
  the conversation went;
* a goal with a blank example, or examples another goal has too (the model cannot tell them apart);
* a condition that can never hold given the values its names can take (scores 0–1, mood 0–100, …);
* `{{` or `{%` in text that is shown as written (backstory, summary, …): only lines are templates.
"""

from __future__ import annotations

import itertools
import math
import re

from jinja2 import TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from simulator.content.scenario import DIFFICULTIES, LineVariant, Scenario
from simulator.content.templates import TemplateProblem, evaluate_condition
from simulator.content.yamlfile import LoadedYaml
from simulator.errors import Problem

MAX_LEVEL = 10
"""The highest level any rubric may have (`Level.level`), used when the scenario's rubric is not given."""
_MAX_COMBINATIONS = 20_000


def lint_scenario(scenario: Scenario, yaml: LoadedYaml, file: str,
                  max_levels: dict[str, int] | None = None) -> list[Problem]:
    """Warnings (severity "warning") about weak content in a scenario that is otherwise valid.

    `max_levels`: each criterion's highest level in the scenario's rubric (the library passes the rubric its
    checks used); without it, conditions on levels are checked against the most any rubric may have.
    """
    linter = _Linter(scenario, yaml, file)
    linter.run(max_levels or {})
    return linter.problems


class _Linter:
    def __init__(self, scenario: Scenario, yaml: LoadedYaml, file: str):
        self.s = scenario
        self.yaml = yaml
        self.file = file
        self.problems: list[Problem] = []

    def at(self, path: tuple, message: str) -> None:
        line, col = self.yaml.mark_for(path)
        self.problems.append(Problem(self.file, line, col, message, "warning"))

    def run(self, max_levels: dict[str, int]) -> None:
        self._lines()
        self._endings()
        self._goals()
        self._conditions(max_levels)
        self._shown_as_written()

    # -- beats and their lines

    def _lines(self) -> None:
        revisited = _beats_on_a_cycle(self.s)
        for bi, beat in enumerate(self.s.beats):
            seen: dict[str, int] = {}
            for li, variant in enumerate(beat.lines):
                text = variant.text if isinstance(variant, LineVariant) else variant
                key = _normal(text)
                if key in seen:
                    self.at(_line_path(beat, bi, li),
                            f"this line repeats line {seen[key] + 1} of beat {beat.id!r} word for word; "
                            "write a different one (each visit picks one line)")
                else:
                    seen[key] = li
            single = [d for d in DIFFICULTIES if _distinct_lines(beat, d) <= 1]
            if not single:
                continue
            at_which = "" if len(single) == len(DIFFICULTIES) else f" at {' and '.join(single)} difficulty"
            has_fallback = any(t.when is None for t in beat.transitions)
            path = ("beats", bi, "lines", 0) if len(beat.lines) == 1 else ("beats", bi, "lines")
            if not has_fallback:
                self.at(path, f"beat {beat.id!r} has only one line{at_which} and no fallback transition (one "
                              "without `when:`): while none of its conditions holds the customer says the same "
                              "line again on every reply until patience or turns run out; add lines, or an "
                              "always-transition")
            elif beat.id in revisited:
                self.at(path, f"beat {beat.id!r} has only one line{at_which}; the conversation can come back to it "
                              "and the customer then repeats it word for word; add another line")

    # -- endings

    def _endings(self) -> None:
        first: dict[tuple[str, ...], int] = {}
        for ei, ending in enumerate(self.s.endings):
            key = _opening_words(ending.line)
            if not key:
                continue
            if key in first:
                other = self.s.endings[first[key]]
                words = " ".join(re.findall(r"[\w'’]+", ending.line)[: len(key)])
                self.at(("endings", ei, "line"),
                        f"ending {ending.id!r} starts like ending {other.id!r} (\"{words} …\"): a trainee hearing "
                        "either cannot tell at first which way it went; start its line differently")
            else:
                first[key] = ei

    # -- goals

    def _goals(self) -> None:
        owner: dict[str, int] = {}
        sets: dict[frozenset[str], int] = {}
        for gi, goal in enumerate(self.s.goals):
            keys = [_normal(e) for e in goal.examples]
            blank = [i for i, k in enumerate(keys) if not k]
            for i in blank:
                self.at(("goals", gi, "examples", i),
                        f"goal {goal.id!r} has a blank example; no reply is close to it, so write a phrasing "
                        "that meets the goal")
            wanted = frozenset(k for k in keys if k)
            if not wanted:
                continue
            if wanted in sets:
                other = self.s.goals[sets[wanted]]
                self.at(("goals", gi, "examples"),
                        f"goal {goal.id!r} has the same examples as goal {other.id!r}: the model cannot tell them "
                        "apart, so one is always met with the other; give each its own phrasings")
            else:
                sets[wanted] = gi
                for i, key in enumerate(keys):
                    if key and key in owner and owner[key] != gi:
                        other = self.s.goals[owner[key]]
                        self.at(("goals", gi, "examples", i),
                                f"goal {other.id!r} has this example too: a reply close to it meets both "
                                "goals at once; give each goal its own phrasings")
            for key in keys:
                owner.setdefault(key, gi)

    # -- conditions

    def _conditions(self, max_levels: dict[str, int]) -> None:
        ranges = _Ranges(self.s, max_levels)
        for bi, beat in enumerate(self.s.beats):
            for ti, transition in enumerate(beat.transitions):
                if transition.when is None:
                    continue
                why = never_holds(transition.when, ranges)
                if why is not None:
                    target = f"beat {transition.to!r}" if transition.to else f"ending {transition.end!r}"
                    self.at(("beats", bi, "transitions", ti, "when"),
                            f"this condition can never hold ({why}), so the transition to {target} is never taken")

    # -- text shown as written

    def _shown_as_written(self) -> None:
        s = self.s
        fields: list[tuple[tuple, str, str]] = [
            (("title",), "title", s.title),
            (("summary",), "summary", s.summary),
            (("setting", "business"), "setting.business", s.setting.business),
            (("setting", "role"), "setting.role", s.setting.role),
            (("persona", "name"), "persona.name", s.persona.name),
            (("persona", "backstory"), "persona.backstory", s.persona.backstory),
        ]
        fields += [(("persona", "traits", i), "a trait", t) for i, t in enumerate(s.persona.traits)]
        for gi, goal in enumerate(s.goals):
            fields.append((("goals", gi, "description"), "a goal's description", goal.description))
            fields += [(("goals", gi, "examples", i), "a goal's example", e) for i, e in enumerate(goal.examples)]
        fields += [(("endings", ei, "summary"), "an ending's summary", e.summary) for ei, e in enumerate(s.endings)]
        for path, what, text in fields:
            found = re.search(r"\{\{.*?(\}\}|$)|\{%.*?(%\}|$)", text)
            if found:
                self.at(path, f"{what} is shown as written, not filled in as a template: the trainee would see "
                              f"{found.group(0)[:40]!r} literally; write the value out (only the customer's lines, "
                              "ending lines and model replies are templates)")


# -- helpers -------------------------------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _line_path(beat, bi: int, li: int) -> tuple:
    return ("beats", bi, "lines", li) + (("text",) if isinstance(beat.lines[li], LineVariant) else ())


def _distinct_lines(beat, difficulty: str) -> int:
    """How many different lines the customer can say on this beat at `difficulty` (as the engine picks them)."""
    candidates = [v for v in beat.lines if isinstance(v, str) or difficulty in {d.value for d in v.difficulties}]
    candidates = candidates or list(beat.lines)
    return len({_normal(v.text if isinstance(v, LineVariant) else v) for v in candidates})


def _beats_on_a_cycle(scenario: Scenario) -> set[str]:
    """Beats the conversation can come back to through transitions (`to:`)."""
    edges = {b.id: {t.to for t in b.transitions if t.to} for b in scenario.beats}
    on_cycle = set()
    for start in edges:
        stack, seen = list(edges[start]), set()
        while stack:
            node = stack.pop()
            if node == start:
                on_cycle.add(start)
                break
            if node in seen or node not in edges:
                continue
            seen.add(node)
            stack.extend(edges[node])
    return on_cycle


def _opening_words(line: str) -> tuple[str, ...]:
    """What a line opens with: its first sentence when that is three words or fewer ("Forget it."), else its
    first three words."""
    first_sentence = re.split(r"[.!?…]", line, maxsplit=1)[0]
    words = re.findall(r"[\w'’]+", first_sentence.casefold())
    if not words:
        return ()
    return tuple(words) if len(words) <= 3 else tuple(words[:3])


# -- conditions that can never hold --------------------------------------------------------------------------------

_parser = SandboxedEnvironment()
_COMPARISONS = {"eq", "ne", "gt", "gteq", "lt", "lteq"}
_LOOKUP_BASES = {"scores", "levels", "goals"}
_PLAIN_NAMES = {"overall", "red_flag", "mood", "patience", "turn", "difficulty"}


class _Ranges:
    """The values each name a condition reads can take when transitions are tried."""

    def __init__(self, scenario: Scenario, max_levels: dict[str, int]):
        self.max_levels = max_levels
        self.turn_limit = scenario.turn_limit
        # Patience never rises; easy difficulty starts with 2 more. At 0 the session ends before any transition.
        self.max_patience = scenario.persona.patience + 2

    def domain(self, key: str):
        base, _, attr = key.partition(".")
        if base == "scores" or key == "overall":
            return ("float", 0.0, 1.0)
        if key == "mood":
            return ("float", 0.0, 100.0)
        if base == "levels":
            return ("int", 0, self.max_levels.get(attr, MAX_LEVEL))
        if key == "turn":
            return ("int", 1, self.turn_limit)
        if key == "patience":
            return ("int", 1, self.max_patience)
        if base == "goals" or key == "red_flag":
            return ("bool",)
        if key == "difficulty":
            return ("choice", DIFFICULTIES)
        return None

    def describe(self, key: str) -> str:
        d = self.domain(key)
        if d is None or d[0] in ("bool", "choice"):
            return ""
        lo, hi = d[1], d[2]
        fmt = (lambda v: f"{v:g}")
        return f"{key} is {fmt(lo)}–{fmt(hi)}"


def _key(node) -> str | None:
    """`mood`, `scores.empathy`, `scores["empathy"]`: the name a simple reference reads, else None."""
    if isinstance(node, nodes.Name) and node.name in _PLAIN_NAMES:
        return node.name
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name in _LOOKUP_BASES:
        return f"{node.node.name}.{node.attr}"
    if (isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and node.node.name in _LOOKUP_BASES
            and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
        return f"{node.node.name}.{node.arg.value}"
    return None


def _constant(node):
    if isinstance(node, nodes.Const):
        return True, node.value
    if isinstance(node, (nodes.Neg, nodes.Pos)) and isinstance(node.node, nodes.Const) \
            and isinstance(node.node.value, (int, float)) and not isinstance(node.node.value, bool):
        return True, -node.node.value if isinstance(node, nodes.Neg) else node.node.value
    return False, None


def _simple(node, keys: set[str], numbers: set[float]) -> bool:
    """True when `node` is built only from and/or/not, comparisons and plain names or constants; collects the
    names read and the numbers compared with."""
    if isinstance(node, (nodes.And, nodes.Or)):
        return _simple(node.left, keys, numbers) and _simple(node.right, keys, numbers)
    if isinstance(node, nodes.Not):
        return _simple(node.node, keys, numbers)
    if isinstance(node, nodes.Compare):
        if not all(op.op in _COMPARISONS for op in node.ops):
            return False
        return all(_simple(part, keys, numbers) for part in [node.expr, *(op.expr for op in node.ops)])
    key = _key(node)
    if key is not None:
        keys.add(key)
        return True
    ok, value = _constant(node)
    if ok:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            numbers.add(float(value))
        return ok
    return False


def _candidates(domain, numbers: set[float]) -> list:
    kind = domain[0]
    if kind == "bool":
        return [False, True]
    if kind == "choice":
        return list(domain[1])
    lo, hi = domain[1], domain[2]
    if kind == "int":
        points = {lo, hi}
        for c in numbers:
            points |= {math.floor(c), math.floor(c) + 1, math.ceil(c) - 1, math.ceil(c)}
        return sorted(p for p in points if lo <= p <= hi)
    eps = 1e-6 * max(1.0, hi - lo)
    points = {lo, hi} | {v for c in numbers for v in (c - eps, c, c + eps) if lo <= v <= hi}
    ordered = sorted(points)
    return sorted(set(ordered) | {(a + b) / 2 for a, b in zip(ordered, ordered[1:])})


def never_holds(source: str, ranges: _Ranges) -> str | None:
    """Why the condition `source` can never be true, or None when it can (or is too complex to tell)."""
    try:
        tree = _parser.parse("{{ " + source + " }}")
    except TemplateError:
        return None
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    keys: set[str] = set()
    numbers: set[float] = set()
    if not _simple(body[0].nodes[0], keys, numbers):
        return None
    ordered = sorted(keys)
    domains = [ranges.domain(k) for k in ordered]
    if any(d is None for d in domains):
        return None
    choices = [_candidates(d, numbers) for d in domains]
    if math.prod(len(c) for c in choices) > _MAX_COMBINATIONS:
        return None
    for values in itertools.product(*choices):
        context = {"scores": {}, "levels": {}, "goals": {}, "overall": 0.5, "red_flag": False, "mood": 50.0,
                   "patience": 1, "turn": 1, "difficulty": "medium"}
        for key, value in zip(ordered, values):
            base, _, attr = key.partition(".")
            if attr:
                context[base][attr] = value
            else:
                context[base] = value
        try:
            if evaluate_condition(source, context):
                return None
        except TemplateProblem:
            return None
    described = [d for d in (ranges.describe(k) for k in ordered) if d]
    if described:
        return "; ".join(described)
    return "no values of " + ", ".join(ordered) + " make it true"
