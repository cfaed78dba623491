"""`frontline score | eval | train` handlers, called through an argparse parser as the CLI will."""

from __future__ import annotations

import io
import json

import pytest

from helpers.scoring import CONTEXT, WARM_OWNING, scorer, write_tiny_labelled, write_tiny_rubric  # noqa: F401  (fixtures)
from simulator.cli import main
from simulator.services import Services


def run(argv: list[str], monkeypatch=None, stdin: str | None = None) -> tuple[int, str, str]:
    """Through `frontline`'s own entry point, with the real scorer."""
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, Services(stdin=io.StringIO(stdin or ""), stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def line(id_, reply, context=CONTEXT) -> str:
    return json.dumps({"id": id_, "context": context, "reply": reply})


def test_bad_jsonl_line_exits_2_naming_the_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(line("a", "Fine.") + "\n{not json\n" + line("c", "Ok.") + "\n")
    status, out, err = run(["score", "--jsonl", str(path)])
    assert status == 2 and out == ""
    assert err.startswith("frontline: ") and f"{path}:2:" in err and "Traceback" not in err


def test_jsonl_file_line_without_reply_exits_2_before_scoring(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(line("a", "x") + "\n" + '{"id": "b", "context": "hi"}\n')
    status, out, err = run(["score", "--jsonl", str(path)])
    assert status == 2 and out == "" and f"{path}:2: 'reply' must be a string" in err


def test_unknown_rubric_and_missing_input_exit_2(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(line("a", "Fine.") + "\n")
    status, _, err = run(["score", "--jsonl", str(path), "--rubric", "no_such_rubric"])
    assert status == 2 and "no rubric with id 'no_such_rubric'" in err
    status, _, err = run(["score"])
    assert status == 2 and err.startswith("frontline: nothing to score")
    status, _, err = run(["score", "--jsonl", str(tmp_path / "absent.jsonl")])
    assert status == 2 and "no such file" in err


@pytest.mark.model
def test_jsonl_scores_every_line_in_order_with_a_huge_reply(scorer, tmp_path, monkeypatch):
    huge = ("Let me sort that out for you right now. " * 3000)[:100_000]
    text = "\n".join([line("first", WARM_OWNING), line(2, "Not my problem, ring head office."), "", line("huge", huge)])
    status, out, err = run(["score", "--jsonl", "-"], monkeypatch, stdin=text + "\n")
    assert status == 0, err
    records = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in records] == ["first", 2, "huge"]
    for record in records:
        assert set(record["scores"]) == {"empathy", "ownership", "script_avoidance"}
        assert all(0 <= v <= 1 for v in record["scores"].values())
        assert set(record["levels"]) == set(record["scores"]) and set(record["evidence"]) == set(record["scores"])
    assert records[0]["scores"]["ownership"] > records[1]["scores"]["ownership"]


@pytest.mark.model
def test_single_reply_is_human_readable(scorer):
    status, out, err = run(["score", WARM_OWNING, "--context", CONTEXT])
    assert status == 0, err
    assert "Empathy" in out and "Ownership" in out and "level" in out and "overall" in out
    assert "I'll book an engineer" in out  # evidence is quoted


@pytest.mark.model
def test_train_and_eval_for_a_new_rubric(scorer, tmp_path):
    rubric = write_tiny_rubric(tmp_path)
    data, n_rows = write_tiny_labelled(tmp_path)
    out_dir = tmp_path / "heads"
    status, out, err = run(["train", "--rubric", str(rubric), "--data", str(data), "--out", str(out_dir)])
    assert status == 0, err
    assert (out_dir / "tiny_custom.npz").is_file() and "greeting" in out
    meta = json.loads((out_dir / "tiny_custom.json").read_text())
    assert meta["rows"]["train"] + meta["rows"]["test"] == n_rows and meta["data_hash"]

    status, out, err = run(["eval", "--rubric", str(rubric), "--data", str(data)])
    assert status == 0, err
    assert "greeting" in out and "frontline" in out and "vader" in out


def test_train_with_data_missing_a_criterion_exits_2(tmp_path):
    rubric = write_tiny_rubric(tmp_path)
    data = tmp_path / "labelled.jsonl"
    data.write_text(json.dumps({"id": "1", "context": "hi", "reply": "hello", "empathy": 1}) + "\n")
    status, _, err = run(["train", "--rubric", str(rubric), "--data", str(data)])
    # rows may label only some criteria (a new criterion's data labels just it), but every criterion needs some
    assert status == 2 and f"no row of {data} labels 'greeting'" in err
    data.write_text(json.dumps({"id": "1", "context": "hi", "reply": "hello", "empathy": 1, "greeting": "x"}) + "\n")
    status, _, err = run(["train", "--rubric", str(rubric), "--data", str(data)])
    assert status == 2 and f"{data}:1: 'greeting' must be an integer level" in err


@pytest.mark.model
def test_score_over_a_pipe_answers_each_line_before_the_next_is_written(tmp_path):
    """`frontline score --jsonl -` as a local scoring service: another program writes a line, reads its answer,
    then writes the next, with standard input still open; a bad line gets an error object and the rest go on."""
    import os
    import selectors
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "simulator", "score", "--jsonl", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": ""})
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)

    def ask(text: str) -> dict:
        proc.stdin.write(text.encode("utf-8") + b"\n")
        proc.stdin.flush()
        assert selector.select(timeout=120), "no answer while standard input stayed open"
        return json.loads(proc.stdout.readline())

    try:
        first = ask(line("a", WARM_OWNING))
        assert first["id"] == "a" and first["levels"]["ownership"] == 2
        bad = ask("{not json")
        assert bad["line"] == 2 and bad["error"].startswith("<stdin>:2: not valid JSON")
        third = ask(line("c", "Not my problem, ring head office."))
        assert third["id"] == "c" and third["scores"]["ownership"] < first["scores"]["ownership"]
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=60)
    assert status == 2 and "1 line(s) could not be scored" in err and "Traceback" not in err
