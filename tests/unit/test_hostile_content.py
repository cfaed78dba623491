"""Hostile or careless scenario files never hang, crash or kill the process.

Deep nesting, values YAML cannot build, templates that would eat the memory or the clock, and templates that fail
only at some difficulty, mood or turn: each is one located FILE:LINE:COL problem and exit status 2, from
`validate` and from `play`, and one such file never stops the other scenarios of its folder from being listed.
Where a regression would take the process down (a stack overflow in C, gigabytes allocated), the command runs
in a subprocess.
"""

from __future__ import annotations

import gc
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services

ROOT = Path(__file__).resolve().parents[2]
TIRE = ROOT / "scenarios" / "tire-return.yaml"
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


def run_cli(*argv: str, db_url: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    services = Services(scorer_factory=FakeScorer, db_url=db_url, stdin=io.StringIO(""), stdout=out, stderr=err)
    code = main(list(argv), services)
    return code, out.getvalue(), err.getvalue()


def run_process(*argv: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)
    return proc, time.monotonic() - started


def located(output: str, path: Path, fragment: str) -> tuple[int, int]:
    """The (line, col) of the problem about `path` whose message holds `fragment`; fails the test otherwise."""
    for line in output.splitlines():
        match = LOCATED.match(line)
        if match and match["file"] == str(path) and fragment in match["message"]:
            return int(match["line"]), int(match["col"])
    raise AssertionError(f"no problem about {path} saying {fragment!r} in:\n{output}")


def line_number(path: Path, needle: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# -- copies of tire-return with one thing changed ---------------------------------------------------------------


def scenario_copy(folder: Path, name: str, text: str | None = None, *, new_id: str | None = None) -> Path:
    text = TIRE.read_text() if text is None else text
    if new_id is not None:
        text = re.sub(r"(?m)^id: .*$", f"id: {new_id}", text, count=1)
    path = folder / name
    path.write_text(text)
    return path


def replace_line(folder: Path, name: str, pattern: str, replacement: str, **kw) -> Path:
    """A copy with the first line matching `pattern` (a regex for the whole line) replaced."""
    text, count = re.subn(f"(?m)^{pattern}$", replacement, TIRE.read_text(), count=1)
    assert count == 1, f"test setup: no line matches {pattern!r} in tire-return.yaml"
    return scenario_copy(folder, name, text, **kw)


def with_template_in_ending(folder: Path, name: str, template: str) -> tuple[Path, int]:
    """A copy whose first ending line starts with `template`; returns it and that line's number. Ending lines
    are said at every difficulty, mood, patience and turn."""
    text = TIRE.read_text()
    endings = text.index("\nendings:\n")
    start = text.index('    line: "', endings) + len('    line: "')
    path = scenario_copy(folder, name, text[:start] + template + " " + text[start:], new_id=f"t-{Path(name).stem}")
    return path, line_number(path, template)


def with_template_in_opening(folder: Path, name: str, template: str) -> tuple[Path, int]:
    """A copy whose opening beat's first line starts with `template`: the line said at turn 0."""
    text = TIRE.read_text()
    beats = text.index("\nbeats:\n")
    start = text.index('      - "', text.index("    lines:\n", beats)) + len('      - "')
    path = scenario_copy(folder, name, text[:start] + template + " " + text[start:])
    return path, line_number(path, template)


def with_condition(folder: Path, name: str, condition: str) -> tuple[Path, int]:
    """A copy whose first beat tries `condition` before its other transitions."""
    first_beat = yaml.safe_load(TIRE.read_text())["beats"][0]["id"]
    text = TIRE.read_text()
    start = text.index("    transitions:\n", text.index("\nbeats:\n")) + len("    transitions:\n")
    added = f'      - when: "{condition}"\n        to: {first_beat}\n'
    path = scenario_copy(folder, name, text[:start] + added + text[start:])
    return path, line_number(path, condition)


# -- 1. nesting deep enough to overflow libyaml's recursive composer ---------------------------------------------

DEEP = {
    "brackets": "title: " + "[" * 30_000 + "]" * 30_000 + "\n",
    "braces": "title: " + "{a: " * 15_000 + "1" + "}" * 15_000 + "\n",
    "dashes": "title:\n  " + "- " * 30_000 + "x\n",
    "indentation": "title:\n" + "".join("  " * i + "a:\n" for i in range(1, 60)) + "  " * 60 + "x\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_nesting_is_one_located_problem_in_validate_list_and_play(tmp_path, kind):
    bad = tmp_path / "deep.yaml"
    bad.write_text("id: deep\n" + DEEP[kind])
    good = scenario_copy(tmp_path, "good.yaml", new_id="tire-return-copy")

    proc, seconds = run_process("validate", str(bad))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    line, col = located(proc.stdout, bad, "the file nests lists/mappings 41 levels deep here (more than 40)")
    assert line >= 2 and col >= 1
    assert seconds < 60

    proc, _ = run_process("list", "--scenarios", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "tire-return-copy" in proc.stdout and str(good) not in proc.stdout
    assert "(broken)" in proc.stdout and str(bad) in proc.stdout
    assert "1 scenario file(s) have errors" in proc.stderr

    replies = tmp_path / "replies.txt"
    replies.write_text("Hello\n")
    proc, _ = run_process("play", str(bad), "--replies", str(replies), "--no-save")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    located(proc.stderr, bad, "levels deep here")


def test_a_megabyte_of_brackets_is_refused_quickly(tmp_path):
    bad = tmp_path / "huge.yaml"
    bad.write_text("id: x\ntitle: " + "[" * 490_000 + "]" * 490_000 + "\n")
    proc, seconds = run_process("validate", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    located(proc.stdout, bad, "levels deep")
    assert seconds < 30  # libyaml alone needs minutes for this file: the check stops at level 41


# -- 2. values YAML recognises but cannot build ------------------------------------------------------------------

UNBUILDABLE = [
    ("title: .*", "title: 2024-02-30", "title: 2024-02-30", 8, "looks like a date but is not a real one"),
    ("turn_limit: .*", "turn_limit: " + "7" * 5000, "turn_limit: 777", 13, "a whole number of 5,000 digits"),
    ("pass_mark: .*", "pass_mark: 1.0e+999", "pass_mark: 1.0e+999", 12, "is not a usable number"),
    ("title: .*", "title: !!binary aGVsbG8=", "title: !!binary", 8, "unsupported YAML tag !!binary"),
]


@pytest.mark.parametrize("pattern, replacement, needle, col, message", UNBUILDABLE,
                         ids=["date", "5000-digits", "infinite", "binary"])
def test_unbuildable_value_is_located_and_the_folder_still_lists(tmp_path, pattern, replacement, needle, col,
                                                                 message):
    bad = replace_line(tmp_path, "bad.yaml", pattern, replacement)
    scenario_copy(tmp_path, "good.yaml", new_id="tire-return-copy")

    code, out, err = run_cli("validate", str(bad))
    assert code == 2 and "Traceback" not in out + err
    assert located(out, bad, message) == (line_number(bad, needle), col)
    assert "quote it if it is text" in out or "plain text" in out

    code, out, err = run_cli("list", "--scenarios", str(tmp_path))
    assert code == 0
    assert "tire-return-copy" in out and f"{bad}:{line_number(bad, needle)}:{col}: " in out


# -- 3. templates that would take the memory or the clock --------------------------------------------------------

BUDGET = {
    "repeat-text": ("{{ 'a' * 10**9 }}", "it would make a text of 1,000,000,000 characters"),
    "repeat-list": ("{{ [1] * 10**9 }}", "it would make a list of 1,000,000,000 items"),
    "center": ("{{ 'x'|center(10**9) }}", "it asks for a width of 1,000,000,000"),
    "printf-star": ("{{ '%*s' % (10**9, 'x') }}", "it asks for a %-format width of 1,000,000,000"),
    "printf-width": ("{{ '%1000000000s' % 'x' }}", "it asks for a %-format width of 1,000,000,000"),
    "ljust": ("{{ 'a'.ljust(10**9) }}", "it asks for a width of 1,000,000,000"),
    "format-width": ("{{ '{:>1000000000}'.format(1) }}", "a format width or precision of 1,000,000,000"),
    "range-list": ("{{ range(10**9)|list }}", "it would make a range of 1,000,000,000 numbers"),
    "lipsum": ("{{ lipsum(10**6) }}", "lorem ipsum text"),
    "power": ("{{ 10**10**10 }}", "numbers in templates must stay within ±10^15"),
    "nested-loops": ("{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
                     "its loops turned more than 10,000 times"),
    "doubling": ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                 "{% endfor %}{{ ns.s }}", "it made a text or list of more than 10,000 characters or items"),
    "output-flood": ("{% set s = 'a' * 9999 %}{% for i in range(999) %}{{ s }}{% endfor %}",
                     "it wrote more than 100,000 characters"),
    "slow": ("{% for i in range(9999) %}{{ (range(9999)|list|sum) % 1 }}{% endfor %}",
             "it ran for more than 0.25 s"),
    "recursion": ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "it calls itself too deeply"),
}


def test_every_template_budget_breach_is_located_and_fast(tmp_path):
    expected = {}
    for name, (template, message) in BUDGET.items():
        path, line = with_template_in_ending(tmp_path, f"{name}.yaml", template)
        expected[path] = (line, message)

    proc, seconds = run_process("validate", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    for path, (line, message) in expected.items():
        found_line, _ = located(proc.stdout, path, message)
        assert found_line == line, path
    assert f"{len(BUDGET)} file(s) checked: {len(BUDGET)} error(s)" in proc.stderr
    assert seconds < 60  # each breach is found in well under a second; a missed one would run for minutes


def test_ordinary_templates_stay_within_the_budget(tmp_path):
    template = ("{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ customer|upper }} {{ '%d%%' % mood }} "
                "{{ '{:,}'.format(12345) }} {{ [1, 2]|join(', ') }} {{ 2 ** 10 }} {{ 'x'|center(9) }}")
    path, _ = with_template_in_ending(tmp_path, "fine.yaml", template)
    code, out, err = run_cli("validate", str(path))
    assert code == 0, out


def test_a_simple_condition_is_not_failed_by_a_busy_machine_or_a_slow_garbage_collection():
    """The time limit counts the condition's own computing: a CI runner that pauses the thread, or a collection
    of the whole process's objects landing inside the condition, once failed `scores.empathy >= 0.5` for
    running over 0.25 s."""
    from simulator.content.templates import TIME_LIMIT, evaluate_condition

    def paused():  # what a descheduled thread looks like from inside: time passes, no CPU is used
        time.sleep(TIME_LIMIT * 2)
        return 0.7

    assert evaluate_condition("paused() * 1 >= 0.5", {"paused": paused})

    def slow_collection(phase, info):  # a collection that takes twice the template's whole budget
        if phase == "start":
            spin_until = time.thread_time() + TIME_LIMIT * 2
            while time.thread_time() < spin_until:
                pass

    def collected():
        gc.collect()
        return 0.7

    gc.callbacks.append(slow_collection)
    try:
        assert evaluate_condition("collected() * 1 >= 0.5", {"collected": collected})
    finally:
        gc.callbacks.remove(slow_collection)


# -- 4. templates and conditions checked over the whole range they read ------------------------------------------

RANGE = {
    "hard": ("ending", "{{ 1 // (difficulty != 'hard') }}", "template fails when difficulty=hard: "),
    "mood": ("ending", "{{ 100 // mood }}", "template fails when mood=0: "),
    "turn": ("opening", "{{ 10 // turn }}", "template fails when turn=0: "),
    "score": ("condition", "1 / (1 - scores.empathy) > 2", "condition fails when scores.empathy=1.0: "),
}


def _range_copy(tmp_path: Path, case: str) -> tuple[Path, int, str]:
    where, source, message = RANGE[case]
    make = {"ending": with_template_in_ending, "opening": with_template_in_opening, "condition": with_condition}
    path, line = make[where](tmp_path, f"{case}.yaml", source)
    return path, line, message


@pytest.mark.parametrize("case", sorted(RANGE))
def test_failing_only_somewhere_in_the_range_is_refused_by_validate(tmp_path, case):
    path, line, message = _range_copy(tmp_path, case)
    code, out, err = run_cli("validate", str(path))
    assert code == 2 and "Traceback" not in out + err
    assert located(out, path, message)[0] == line
    assert "ZeroDivisionError" in out


@pytest.mark.parametrize("case", sorted(RANGE))
def test_failing_only_somewhere_in_the_range_is_refused_by_play_and_nothing_is_stored(tmp_path, case):
    path, line, message = _range_copy(tmp_path, case)
    replies = tmp_path / "replies.txt"
    replies.write_text("I'm so sorry you carried that all this way #all=1.0\n")
    db_url = f"sqlite:///{tmp_path / 'sessions.db'}"

    code, out, err = run_cli("play", str(path), "--replies", str(replies), "--difficulty", "hard", db_url=db_url)
    assert code == 2 and "Traceback" not in out + err
    assert located(err, path, message)[0] == line
    assert Services(db_url=db_url).open_store().sessions() == []

    good = scenario_copy(tmp_path, "good.yaml", new_id="tire-return-copy")
    code, out, err = run_cli("play", str(good), "--replies", str(replies), "--difficulty", "hard", db_url=db_url)
    assert code == 0, err
    assert len(Services(db_url=db_url).open_store().sessions()) == 1
