"""Hostile input on the command line: bytes that are not UTF-8 on the scoring pipe, lone surrogates, replies of
any length or content, and the global options (empty or undecodable --db, options after the command)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services
from simulator.store import Store
from helpers.store import WARM, Clock, play, sqlite_url, tire, utc  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[2]
RAW = ("\x1b", "\x07", "\r", "\x9b")


def _cli(*argv: str, stdin: bytes | str = b"", db: str | None = None) -> tuple[int, str, str]:
    """Run `frontline argv` with the fake scorer; bytes on stdin go through a real UTF-8 TextIOWrapper."""
    source = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8") if isinstance(stdin, bytes) else io.StringIO(stdin)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(scorer_factory=lambda: FakeScorer(), db_url=db, stdin=source, stdout=out,
                                     stderr=err))
    return code, out.getvalue(), err.getvalue()


def _line(id_: str, reply: str, context: str = "x") -> bytes:
    return (json.dumps({"id": id_, "context": context, "reply": reply}, ensure_ascii=False) + "\n").encode("utf-8")


def _no_raw(text: str) -> None:
    found = [repr(ch) for ch in RAW if ch in text]
    assert not found, f"raw control characters reached the terminal: {found}"


# -- 2. the scoring pipe ---------------------------------------------------------------------------------------


def test_invalid_utf8_on_stdin_gets_an_error_object_naming_the_line_and_the_rest_go_on():
    data = _line("1", "fine") + b'{"id": "2", "context": "x", "reply": "caf\xe9"}\n' + _line("3", "thanks")
    code, out, err = _cli("score", "--jsonl", "-", stdin=data)
    assert code == 2  # at the end, after every good line was answered
    first, bad, last = [json.loads(line) for line in out.splitlines()]
    assert first["id"] == "1" and last["id"] == "3" and "scores" in last
    assert bad["line"] == 2 and bad["error"].startswith("<stdin>:2: not valid UTF-8") and "0xe9" in bad["error"]
    assert "1 line(s) could not be scored" in err and "Traceback" not in err


def test_invalid_utf8_in_a_jsonl_file_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(_line("1", "fine") + _line("2", "fine") + b'{"id": "3", "reply": "\xff\xfe"}\n')
    code, out, err = _cli("score", "--jsonl", str(path))
    assert code == 2 and out == ""
    assert f"{path}:3: not valid UTF-8" in err


def test_undecodable_bytes_handed_over_as_surrogates_are_refused():
    # What a stdin opened with errors="surrogateescape" (Python's C locale) hands over for the byte 0xff.
    code, out, err = _cli("score", "--jsonl", "-", stdin='{"id": "1", "context": "x", "reply": "a\udcffb"}\n')
    assert code == 2 and "<stdin>:1: not valid UTF-8" in json.loads(out)["error"]


def test_a_lone_surrogate_escape_is_refused_naming_the_line():
    data = _line("1", "fine") + b'{"id":"2","context":"x","reply":"\\ud800"}\n'
    code, out, err = _cli("score", "--jsonl", "-", stdin=data)
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["id"] == "1" and records[1]["line"] == 2
    assert records[1]["error"].startswith("<stdin>:2:") and "lone surrogate" in records[1]["error"]


def test_a_surrogate_pair_escape_is_an_emoji_and_is_scored():
    code, out, err = _cli("score", "--jsonl", "-", stdin=b'{"id":"1","context":"x","reply":"ok \\ud83d\\ude00"}\n')
    assert code == 0, err
    assert json.loads(out)["evidence"]["empathy"] == ["ok 😀"]


REPLIES = {
    "control characters": "Sorry \x1b[31mred\x1b]0;title\x07 back\rover\x9b2J \x00 \x7f done",
    "emoji": "So sorry 😀👍🏽 we'll fix it 🚗",
    "right-to-left": "\u05e9\u05dc\u05d5\u05dd \u202eevil\u202c \u0645\u0631\u062d\u0628\u0627",
    "other languages": "申し訳ございません。Désolé, tut mir leid — извините",
    "line separators inside the text": "one\u2028two\u2029three\x85four",
    "100,000 characters": "I'm sorry. " * 9091,
}


@pytest.mark.parametrize("blank", ["", "   ", " \n\t "])
def test_an_empty_reply_is_refused_clearly_in_every_mode(blank, tmp_path):
    code, out, err = _cli("score", "--context", "My order is late", blank)
    assert code == 2 and out == "" and "'reply' is empty, so there is nothing to score" in err

    code, out, err = _cli("score", "--jsonl", "-", stdin=_line("a", blank) + _line("b", "I'll fix it now."))
    assert code == 2
    refused, scored = [json.loads(line) for line in out.splitlines()]
    assert refused == {"line": 1, "error": "<stdin>:1: 'reply' is empty, so there is nothing to score; give the "
                                          "words said to the customer (or leave the line out)"}
    assert scored["id"] == "b" and "scores" in scored

    path = tmp_path / "in.jsonl"
    path.write_bytes(_line("a", "I'll fix it now.") + _line("b", blank))
    code, out, err = _cli("score", "--jsonl", str(path))
    assert code == 2 and out == "" and f"{path}:2: 'reply' is empty" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", list(REPLIES))
def test_a_reply_of_any_content_or_length_is_scored(kind):
    reply = REPLIES[kind]
    data = _line("a", reply) + b"\r\n" + _line("b", "thanks")  # a blank CRLF line between them is skipped
    code, out, err = _cli("score", "--jsonl", "-", stdin=data)
    assert code == 0, err
    _no_raw(out)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == ["a", "b"]  # one output line per input line, in order
    assert set(records[0]["levels"]) == {"empathy", "ownership", "script_avoidance"}
    assert records[0]["evidence"]["empathy"] == [reply.strip()[:40]]  # the exact text, \u-escaped at most


def test_a_single_reply_with_escape_sequences_prints_inertly():
    code, out, err = _cli("score", "Sorry \x1b[2J\x1b]0;pwned\x07 about\r that\x9b", "--context", "Hi\x1b[5m")
    assert code == 0, err
    _no_raw(out)
    assert "␛[2J" in out and "overall" in out


# -- 5. options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--db", "", "list"], ["export", "1", "--db", ""], ["progress", "--db", "  "]])
def test_an_empty_db_is_refused(argv):
    code, out, err = _cli(*argv)
    assert code == 2 and out == ""
    assert err.startswith("frontline: --db is empty")


@pytest.mark.parametrize("argv", [["--db", "\udcff", "list"], ["export", "1", "--db", "sqlite:////tmp/\udcff.db"],
                                  ["progress", "--trainee", "an\udcffn"]])
def test_undecodable_arguments_are_refused_clearly(argv):
    code, out, err = _cli(*argv)
    assert code == 2 and out == ""
    assert "is not valid UTF-8 text" in err and "\udcff" not in err  # printable: the surrogate is swapped


def test_global_options_work_after_the_command(tmp_path, tire):
    url = sqlite_url(tmp_path)
    with Store(url, now=Clock()) as store:
        play(store, tire, WARM, trainee="zed")
    code, out, err = _cli("progress", "--db", url)
    assert code == 0 and "zed" in out, err
    code, out, err = _cli("export", "--all", "--db", url, "--format", "json")
    assert code == 0, err
    assert [s["trainee"] for s in json.loads(out)["sessions"]] == ["zed"]
    code, out, err = _cli("export", "1", "--db", url)
    assert code == 0 and "zed" in out


def test_scenarios_option_works_before_and_after_the_command(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    text = (REPO / "scenarios" / "tire-return.yaml").read_text(encoding="utf-8")
    (folder / "my-tyres.yaml").write_text(text.replace("id: tire-return", "id: my-tyres", 1), encoding="utf-8")
    for argv in (["list", "--scenarios", str(folder)], ["--scenarios", str(folder), "list"]):
        code, out, err = _cli(*argv)
        assert code == 0, err
        assert "my-tyres" in out and "tire-return" in out
    code, out, _ = _cli("list")
    assert "my-tyres" not in out


def test_schema_out_an_existing_file_is_refused(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text("keep me", encoding="utf-8")
    code, out, err = _cli("schema", "--out", str(path))
    assert code == 2 and "is a file" in err
    assert path.read_text(encoding="utf-8") == "keep me"
