"""Hostile stored text, huge ids, damaged databases and NUL bytes: what `export`, `progress`, `review` and the
store do with them. Store tests run on SQLite and, with FRONTLINE_TEST_PG_URL set, on PostgreSQL too."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
import sqlalchemy as sa

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services
from simulator.store import Store, StoreError, UnknownSession, UnknownTurn
from helpers.store import COLD, WARM, Clock, play, sqlite_url, store_url, pg_url, tire, utc  # noqa: F401 (fixtures)

# An SGR colour, an OSC window title ended by BEL, a carriage return and a C1 CSI (0x9b).
HOSTILE = "\x1b[31mred\x1b]0;title\x07 back\rover\x9b2J"
RAW = ("\x1b", "\x07", "\r", "\x9b")
NAME = "mal" + HOSTILE


def _cli(url: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(scorer_factory=FakeScorer, db_url=url, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def _no_raw(text: str) -> None:
    found = [repr(ch) for ch in RAW if ch in text]
    assert not found, f"raw control characters reached the terminal: {found}"


# -- 1. stored text printed to a terminal is inert ---------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path, tire):
    """Session 1: a trainee with escape sequences in their name, their reply and the trainer's comment."""
    url = sqlite_url(tmp_path)
    with Store(url, now=Clock()) as store:
        session_id, _ = play(store, tire, [f"Sorry {HOSTILE} about that #all=0.9"] + WARM[1:], trainee=NAME)
        turn = store.session(session_id).turns[0]
        store.override(turn.id, "empathy", 1, f"comment {HOSTILE}", reviewer="kim")
        store.mark_reviewed(session_id, "kim")
    return url


@pytest.mark.parametrize("fmt", ["md", "csv", "html", "json"])
def test_export_to_stdout_shows_escape_sequences_inertly(hostile, fmt):
    code, out, err = _cli(hostile, "export", "1", "--format", fmt)
    assert code == 0, err
    _no_raw(out)
    if fmt == "json":  # lossless: the escapes are JSON \u escapes, the data is exactly what was stored
        doc = json.loads(out)
        assert doc["trainee"] == NAME and HOSTILE in doc["turns"][0]["reply"]
        assert HOSTILE in doc["turns"][0]["overrides"][0]["comment"]
    else:
        assert "title␇" in out and "␍over" in out  # the text is there, as visible stand-ins


def test_export_to_a_file_keeps_the_exact_text(hostile, tmp_path):
    path = tmp_path / "report.md"
    code, out, err = _cli(hostile, "export", "1", "--out", str(path))
    assert code == 0, err
    text = path.read_bytes().decode("utf-8")  # read_text would turn the \r into a newline
    assert "title\x07" in text and "\x9b2J" in text and "\rover" in text
    _no_raw(err)


def test_progress_team_and_trainee_reports_are_inert(hostile):
    code, out, err = _cli(hostile, "progress")
    assert code == 0, err
    _no_raw(out)
    assert "mal␛[31mred" in out
    code, out, err = _cli(hostile, "progress", "--trainee", NAME)
    assert code == 0, err
    _no_raw(out)
    assert "Progress of mal␛[31mred" in out
    code, out, err = _cli(hostile, "progress", "--trainee", "nobody" + HOSTILE)
    assert code == 2 and "no trainee called" in err
    _no_raw(err)


def test_export_labels_jsonl_and_summary_are_inert(hostile):
    code, out, err = _cli(hostile, "export-labels")
    assert code == 0, err
    _no_raw(out + err)
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert HOSTILE in row["reply"] and row["empathy"] == 1  # the labels themselves are exact
    assert "labelled example(s)" in err and "Agreement" in err


async def test_review_app_shows_stored_escapes_inertly(hostile):
    from simulator.tui.review.app import make_review_app

    with Store(hostile) as store:
        app = make_review_app(store, reviewer="kim", open_session=1)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            screen = app.export_screenshot()
    _no_raw(screen)
    assert "␛[31mred" in screen


# -- 3. huge and negative ids; damaged databases -----------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["99999999999999999999999", "9223372036854775808", "-5", "0"])
def test_export_of_an_id_no_session_can_have_says_so(hostile, session_id):
    code, out, err = _cli(hostile, "export", session_id)
    assert code == 2 and out == ""
    assert f"no session with id {session_id}" in err


def test_store_methods_refuse_ids_beyond_64_bits(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session_id, conversation = play(store, tire, WARM[:1], finish=False)
        for bad in (10**22, 2**63, -1, 0):
            with pytest.raises(UnknownSession):
                store.session(bad)
            with pytest.raises(UnknownTurn):
                store.turn(bad)
            with pytest.raises(UnknownTurn):
                store.override(bad, "empathy", 1, "", "kim")
            with pytest.raises(UnknownSession):
                store.mark_reviewed(bad, "kim")
            with pytest.raises(UnknownSession):
                store.record_turn(bad, conversation.turns[0])
        assert store.session(session_id).turn_count == 1  # nothing else changed


DAMAGE = {
    "scores not JSON": ("turns", "scores", "'not json'", "scores"),
    "scores a number": ("turns", "scores", "5", "scores"),
    "scores JSON null": ("turns", "scores", "'null'", "scores"),
    "text in a number column": ("turns", "overall", "'abc'", "overall"),
    "unreadable date": ("turns", "created_at", "'garbage'", "will not load"),
    "finished without an overall": ("sessions", "overall", "NULL", "overall"),
    "session overall text": ("sessions", "overall", "'high'", "overall"),
    "session start unreadable": ("sessions", "started_at", "'yesterday'", "will not load"),
}


@pytest.fixture
def two_sessions(tmp_path, tire):
    url = sqlite_url(tmp_path)
    with Store(url, now=Clock()) as store:
        play(store, tire, WARM, trainee="ann")
        play(store, tire, COLD, trainee="bob")
    return url, tmp_path / "frontline.db"


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_session_is_named_and_the_others_stay_readable(two_sessions, case):
    url, path = two_sessions
    table, column, value, said = DAMAGE[case]
    where = "session_id = 1" if table == "turns" else "id = 1"
    with sqlite3.connect(path) as con:
        con.execute(f"UPDATE {table} SET {column} = {value} WHERE {where}")

    code, out, err = _cli(url, "export", "1")
    assert code == 2 and out == ""
    assert "session 1 cannot be read" in err and said in err and "backup" in err
    code, out, err = _cli(url, "export", "--all")
    assert code == 2 and "session 1 cannot be read" in err
    code, out, err = _cli(url, "export", "2")
    assert code == 0 and "bob" in out

    with Store(url) as store:  # what the review app loads
        with pytest.raises(StoreError, match="session 1 cannot be read"):
            store.session(1)
        damaged: list = []
        listed = store.sessions(with_turns=table == "turns", damaged=damaged)
        assert [s.id for s in listed] == [2]
        assert [e.session_ids for e in damaged] == [[1]]
    if table == "sessions":  # progress reads the sessions, not their turns
        code, out, err = _cli(url, "progress")
        assert code == 2 and "session 1 cannot be read" in err


async def test_review_list_leaves_a_damaged_session_out_and_says_so(two_sessions):
    from textual.widgets import DataTable

    from simulator.tui.review.app import make_review_app

    url, path = two_sessions
    with sqlite3.connect(path) as con:
        con.execute("UPDATE sessions SET overall = 'high' WHERE id = 1")
    with Store(url) as store:
        app = make_review_app(store, reviewer="kim")
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            table = app.screen.query_one("#sessions", DataTable)
            assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["2"]
            assert "session 1 cannot be read" in str(app.screen.query_one("#list-status").content)
            await pilot.press("enter")  # session 2 opens
            await pilot.pause()
            assert "bob" in app.export_screenshot()


def test_json_of_the_wrong_shape_is_reported_on_both_backends(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        play(store, tire, WARM, trainee="ann")
        play(store, tire, COLD, trainee="bob")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE turns SET levels = '[1, 2]' WHERE session_id = 1"))
    engine.dispose()
    code, _, err = _cli(store_url, "export", "1")
    assert code == 2 and "session 1 cannot be read" in err and "levels" in err
    code, out, _ = _cli(store_url, "export", "2")
    assert code == 0 and "bob" in out


# -- 4. NUL (and lone surrogates) refused before anything is written, the same on every back-end ---------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_an_unstorable_trainee_name_is_refused_and_nothing_is_written(store_url, tire, bad):
    with Store(store_url, now=Clock()) as store:
        with pytest.raises(StoreError, match="the trainee's name contains"):
            play(store, tire, WARM, trainee=bad)
        assert store.sessions() == [] and store.trainees() == []
        play(store, tire, WARM, trainee="ann")  # the store still works (no aborted transaction)
        assert store.trainees() == ["ann"]
        assert store.sessions(trainee=bad) == [] and store.best_results(bad) == {}


@pytest.mark.parametrize("comment, reviewer", [("bad\x00comment", "kim"), ("fine", "k\x00im"), ("x\udc80", "kim")])
def test_an_unstorable_override_is_refused_and_nothing_is_written(store_url, tire, comment, reviewer):
    with Store(store_url, now=Clock()) as store:
        session_id, _ = play(store, tire, WARM)
        turn = store.session(session_id).turns[0]
        with pytest.raises(StoreError, match="contains a (NUL|lone surrogate)"):
            store.override(turn.id, "empathy", 1, comment, reviewer)
        assert store.turn(turn.id).overrides == {}
        store.override(turn.id, "empathy", 1, "fine", "kim")
        assert store.turn(turn.id).overrides["empathy"].level == 1


def test_an_unstorable_reviewer_cannot_mark_a_session_reviewed(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session_id, _ = play(store, tire, WARM)
        with pytest.raises(StoreError, match="the reviewer's name contains a NUL"):
            store.mark_reviewed(session_id, "k\x00im")
        assert not store.session(session_id).reviewed


def test_nul_in_command_line_names_behaves_the_same_on_both_backends(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        play(store, tire, WARM, trainee="ann")
    code, out, err = _cli(store_url, "progress", "--trainee", "an\x00n")
    assert code == 2 and "no trainee called" in err and "Traceback" not in err
    code, out, err = _cli(store_url, "export", "--all", "--trainee", "an\x00n")
    assert code == 2 and "no sessions to export" in err
    code, out, err = _cli(store_url, "review", "--reviewer", "k\x00im")
    assert code == 2 and "--reviewer contains a NUL" in err
