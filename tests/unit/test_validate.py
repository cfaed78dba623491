"""`frontline validate`: every problem, each at its FILE:LINE:COL, exit 2; shipped content is clean."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from helpers.content import TIRE
from simulator.cli import main
from simulator.services import Services

ROOT = Path(__file__).resolve().parents[2]



def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def broken_copy(tmp_path: Path, old: str, new: str, name: str = "broken.yaml") -> Path:
    text = TIRE.read_text()
    assert old in text, f"test setup: {old!r} not in tire-return.yaml"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.mark.shipped
def test_shipped_scenarios_and_rubrics_are_valid():
    code, out, err = run_cli("validate", str(ROOT / "scenarios"), str(ROOT / "rubrics"))
    assert code == 0, out
    assert " 0 error(s)" in err


@pytest.mark.parametrize(
    "old, new, needle, message",
    [
        ("turn_limit: 8", "turn_limt: 8", "turn_limt", "unknown key 'turn_limt'; did you mean 'turn_limit'?"),
        ("it's already bald.", "it's already {{ tread }}.", "{{ tread }}",
         "template uses {{ tread }} but no such variable is declared"),
        ("        to: doubt\n      - to: insists", "        to: doubts\n      - to: insists", "to: doubts",
         "no beat with id 'doubts'; did you mean 'doubt'?"),
        ("when: scores.empathy >= 0.5 and scores.ownership", "when: scores.empaty >= 0.5 and scores.ownership",
         "scores.empaty", "rubric 'service' has no criterion 'empaty'; did you mean 'empathy'?"),
        ("when: goals.solve_it or", "when: goals.solve or", "goals.solve or", "no goal with id 'solve'"),
        ("Two months is far too soon", "{{ ''.__class__.__mro__ }} Two months is far too soon",
         "__mro__", "template failed: access to attribute '__class__' of 'str' object is unsafe"),
        ("when: turn >= 4 and mood < 30", "when: turn >= 4 and temper < 30", "temper",
         "condition uses unknown name 'temper'"),
        ("on_turn_limit: wants_manager", "on_turn_limit: want_manager", "on_turn_limit",
         "no ending with id 'want_manager'; did you mean 'wants_manager'?"),
        ("rubric: service", "rubric: servce", "rubric: servce", "no rubric with id 'servce'; did you mean 'service'?"),
    ],
)
def test_each_broken_copy_is_reported_at_its_line(tmp_path, old, new, needle, message):
    path = broken_copy(tmp_path, old, new)
    code, out, _ = run_cli("validate", str(path))
    assert code == 2
    expected_line = line_of(path, needle)
    matching = [l for l in out.splitlines() if message in l]
    assert matching, out
    file_, line, col = re.match(r"^(.*):(\d+):(\d+): ", matching[0]).groups()
    assert file_ == str(path) and int(line) == expected_line and int(col) >= 1


def test_unreachable_beat_and_dead_end_beat(tmp_path):
    text = TIRE.read_text()
    text = text.replace("endings:\n", """  - id: lost
    lines: ["Nobody ever comes here."]
    model_replies: ["Hello"]
    transitions:
      - to: lost
endings:
""", 1)
    path = tmp_path / "graph.yaml"
    path.write_text(text)
    code, out, _ = run_cli("validate", str(path))
    assert code == 2
    line = line_of(path, "- id: lost")
    assert f"{path}:{line}:9: beat 'lost' cannot be reached from the opening beat 'opening'" in out

    text = text.replace("      - to: insists", "      - to: insists\n      - to: lost", 1)
    path.write_text(text)
    _, out, _ = run_cli("validate", str(path))
    assert f"{path}:{line_of(path, '- id: lost')}:9: no ending can be reached from beat 'lost'" in out


def test_every_problem_in_every_file_is_listed(tmp_path):
    a = broken_copy(tmp_path, "turn_limit: 8", "turn_limt: 8", "a.yaml")
    b = broken_copy(tmp_path, "id: tire-return", "id: tire-return-b\nsumary: x", "b.yaml")
    b.write_text(b.read_text().replace("to: insists", "to: nowhere"))
    (tmp_path / "c.yaml").write_bytes(b"\x00\x01binary")
    code, out, err = run_cli("validate", str(tmp_path))
    assert code == 2
    assert "Traceback" not in out + err
    assert "a.yaml" in out and "unknown key 'turn_limt'" in out
    assert "b.yaml" in out and "unknown key 'sumary'; did you mean 'summary'?" in out
    assert "c.yaml:1:1: this is a binary file" in out
    assert "3 file(s) checked" in err


def test_duplicate_scenario_ids_across_files(tmp_path):
    shutil.copy(TIRE, tmp_path / "one.yaml")
    shutil.copy(TIRE, tmp_path / "two.yaml")
    code, out, _ = run_cli("validate", str(tmp_path))
    assert code == 2 and "scenario id 'tire-return' is also used by" in out


def test_yes_warning_does_not_fail_validation(tmp_path):
    path = broken_copy(tmp_path, '      - "Not at all', '      - Yes\n      - "Not at all')
    code, out, _ = run_cli("validate", str(path))
    assert code == 0
    assert f"{path}:{line_of(path, '- Yes')}:9: warning: 'Yes' is kept as text here" in out


def test_missing_path_is_a_clear_error(tmp_path):
    code, out, _ = run_cli("validate", str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in out
