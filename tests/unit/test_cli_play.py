"""`frontline play SCENARIO --replies FILE`: how managers dry-run a scenario without a screen."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv: str, stdin: str = "", scorer=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    services = Services(scorer_factory=lambda: scorer or FakeScorer(), stdin=io.StringIO(stdin), stdout=out,
                        stderr=err)
    code = main(list(argv), services)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "replies.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


WARM = ("I'm sorry you carried that all the way here #all=0.9 goals=acknowledge_trip",
        "We've never sold tyres; I'll ring Parkway for you now #all=0.9 goals=explain_kindly,solve_it",
        "They're expecting you, ask for Dev #all=0.9")
COLD = ("Not my problem #all=0.1", "Ring someone else #all=0.1", "Whatever #all=0.1", "No #all=0.1")


def test_different_reply_files_reach_different_endings(tmp_path):
    code, warm, _ = run_cli("play", "tire-return", "--replies", write(tmp_path, *WARM), "--no-save")
    assert code == 0
    assert "Ending: sorted (resolved)" in warm and "Result: PASS" in warm
    code, cold, _ = run_cli("play", "tire-return", "--replies", write(tmp_path, *COLD), "--no-save")
    assert code == 0
    assert "(walked_out)" in cold or "(escalated)" in cold
    assert "Result: FAIL" in cold


def test_transcript_shows_scores_evidence_and_customer(tmp_path):
    _, out, _ = run_cli("play", "tire-return", "--replies", write(tmp_path, WARM[0]), "--no-save")
    assert out.count("Margaret: ") == 2
    assert "You: I'm sorry you carried" in out
    assert "empathy 0.90 (level 2)" in out
    assert "goals met: acknowledge_trip" in out
    assert "Not finished: the replies ran out at turn 1" in out


def test_json_transcript_from_stdin(tmp_path):
    code, out, _ = run_cli("play", "tire-return", "--replies", "-", "--json", "--seed", "4", "--no-save",
                           stdin="\n".join(WARM))
    assert code == 0
    doc = json.loads(out)
    assert doc["scenario"] == "tire-return" and doc["seed"] == 4 and doc["finished"]
    assert [t["number"] for t in doc["turns"]] == [1, 2, 3]
    assert doc["result"]["ending"] == "sorted" and doc["result"]["passed"] is True
    assert set(doc["turns"][0]["scores"]) == {"empathy", "ownership", "script_avoidance"}


def test_extra_replies_after_the_end_are_reported(tmp_path):
    _, out, _ = run_cli("play", "tire-return", "--replies", write(tmp_path, *WARM, "one more", "and another"),
                        "--no-save")
    assert "(2 reply line(s) not used: the conversation had already ended)" in out


def test_bad_input_is_a_clear_message_and_exit_2(tmp_path):
    code, _, err = run_cli("play", "tire-retrun", "--replies", write(tmp_path, "hi"))
    assert code == 2 and "no scenario with id 'tire-retrun'; did you mean 'tire-return'?" in err
    code, _, err = run_cli("play", "tire-return", "--replies", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot read replies file" in err
    code, _, err = run_cli("play", "tire-return", "--replies", write(tmp_path, "", "   "))
    assert code == 2 and "no replies in the file" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nbeats: nope\n")
    code, _, err = run_cli("play", str(broken), "--replies", write(tmp_path, "hi"))
    assert code == 2 and f"{broken}:2:8:" in err
    assert "Traceback" not in err


@pytest.mark.shipped
def test_list_shows_every_shipped_scenario():
    code, out, _ = run_cli("list")
    assert code == 0
    for path in (ROOT / "scenarios").glob("*.yaml"):
        assert path.stem in out


def test_module_entry_point_runs_without_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "simulator", "validate", "/nonexistent"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stdout and "Traceback" not in proc.stderr
