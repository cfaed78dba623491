"""The versioned schema (Alembic revisions; databases stamped by the older schema_version table upgrade too),
where the database is, and what a bad database URL says."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from helpers.fakes import FakeScorer
from simulator.store import migrations
from simulator.cli import main
from simulator.services import Services
from simulator.settings import default_sqlite_path
from simulator.store import Store, StoreError, resolve_url
from helpers.store import WARM, Clock, pg_url, play, sqlite_url, store_url, tire  # noqa: F401 (fixtures)


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _make_v1_database(url: str) -> None:
    """A database as Frontline's first schema left it, with one finished session of two turns."""
    engine = _engine(url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=1) == (0, 1)
        md = sa.MetaData()
        md.reflect(conn)
        trainees, sessions, turns = md.tables["trainees"], md.tables["sessions"], md.tables["turns"]
        when = datetime(2025, 11, 3, 14, 0)
        trainee_id = conn.execute(trainees.insert().values(name="old-timer", created_at=when)).inserted_primary_key[0]
        session_id = conn.execute(sessions.insert().values(
            trainee_id=trainee_id, scenario_id="tire-return", scenario_title="The tyre we never sold",
            setting="Hillside Hardware", content_hash="abc", rubric_id="service", model_version="minilm-0",
            difficulty="medium", mode="practice", seed=1, opening="Refund, please.", pass_mark=0.6, started_at=when,
            ended_at=when, ending="sorted", ending_kind="resolved", ending_summary="She left calm.", overall=0.7,
            passed=True, averages={"empathy": 0.7, "ownership": 0.7, "script_avoidance": 0.7},
        )).inserted_primary_key[0]
        for n in (1, 2):
            conn.execute(turns.insert().values(
                session_id=session_id, number=n, beat="opening", customer_line="Refund, please.",
                reply=f"reply {n}", scores={"empathy": 0.7, "ownership": 0.7, "script_avoidance": 0.7},
                levels={"empathy": 1, "ownership": 1, "script_avoidance": 1},
                evidence={"empathy": ["reply"], "ownership": [], "script_avoidance": []},
                feedback={"empathy": "", "ownership": "", "script_avoidance": ""}, overall=0.7, red_flags=[],
                goals_met=[], mood_before=35.0, mood_after=40.0, patience_after=4, next_beat="doubt",
                customer_reaction="Hmm.", ending=None, nearest_model_reply=None, model_version="minilm-0",
                created_at=when,
            ))
    engine.dispose()


def test_a_new_database_gets_the_newest_schema(store_url):
    with Store(store_url) as store:
        assert store.schema_version == migrations.LATEST
        with store.engine.connect() as conn:
            assert migrations.current_version(conn) == migrations.LATEST
            assert conn.exec_driver_sql("SELECT count(*) FROM schema_version").scalar() == 1
    with Store(store_url) as again:  # opening it again changes nothing
        assert again.schema_version == migrations.LATEST


def test_a_version_1_database_opens_in_this_frontline_with_its_sessions(store_url):
    _make_v1_database(store_url)
    with Store(store_url, now=Clock()) as store:
        assert store.schema_version == migrations.LATEST == 4
        (old,) = store.sessions(with_turns=True)
        assert (old.trainee, old.overall, old.passed, old.reviewed) == ("old-timer", 0.7, True, False)
        assert [t.reply for t in old.turns] == ["reply 1", "reply 2"]
        assert old.started_at.year == 2025 and old.started_at.tzinfo is not None
        override = store.override(old.turns[0].id, "empathy", 2, "warmer than the model thought", "kim")
        assert override.model_level == 1
        store.mark_reviewed(old.id, "kim")
        assert store.session(old.id).reviewed


def test_a_version_2_database_keeps_its_turns_and_new_turns_keep_their_notes(store_url, tire):
    _make_v1_database(store_url)
    engine = _engine(store_url)
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=2) == (1, 2)
    engine.dispose()
    with Store(store_url, now=Clock()) as store:
        assert store.schema_version == 4
        (old,) = store.sessions(with_turns=True)
        assert [t.notes for t in old.turns] == [[], []]  # turns stored before notes were kept
        repeated = "I'll check that for you now #all=0.6"
        session_id, conversation = play(store, tire, [repeated, repeated], trainee="ann", finish=False)
        stored = store.session(session_id).turns
        assert stored[1].notes and stored[1].notes == conversation.turns[1].notes
        assert [t.to_turn() for t in stored] == conversation.turns


def test_a_database_from_a_newer_frontline_is_refused_with_a_clear_message(store_url):
    with Store(store_url):
        pass
    engine = _engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE schema_version SET version = 99")
    engine.dispose()
    with pytest.raises(StoreError, match="newer Frontline.*version 99"):
        Store(store_url)


def test_someone_elses_database_is_left_alone(tmp_path):
    url = sqlite_url(tmp_path)
    engine = _engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE sessions (id INTEGER PRIMARY KEY, secret TEXT)")
    engine.dispose()
    with pytest.raises(StoreError, match="not Frontline's"):
        Store(url)


def test_sqlite_runs_in_wal_with_a_busy_timeout_and_foreign_keys(tmp_path):
    with Store(sqlite_url(tmp_path)) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_foreign_keys_are_enforced(tmp_path, tire):
    with Store(sqlite_url(tmp_path)) as store:
        session_id, _ = play(store, tire, WARM[:1], finish=False)
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE turns SET session_id = 12345")


def test_where_the_database_is(monkeypatch, tmp_path, _isolated_data_dir):
    assert resolve_url("sqlite:////x/y.db") == "sqlite:////x/y.db"
    monkeypatch.setenv("FRONTLINE_DB", "postgresql://u@h/db")
    assert resolve_url(None) == "postgresql://u@h/db"
    assert resolve_url("sqlite:////x/y.db") == "sqlite:////x/y.db"  # explicit wins
    monkeypatch.delenv("FRONTLINE_DB")
    assert default_sqlite_path() == _isolated_data_dir / "frontline.db"
    assert resolve_url(None) == f"sqlite:///{_isolated_data_dir / 'frontline.db'}"
    monkeypatch.setenv("FRONTLINE_DATA_DIR", str(tmp_path / "new" / "folder"))
    with Store() as store:  # the default folder is created
        assert store.url.endswith("new/folder/frontline.db")
    assert (tmp_path / "new" / "folder" / "frontline.db").exists()


def test_cli_play_stores_its_session_in_the_default_database(tmp_path, _isolated_data_dir):
    replies = tmp_path / "r.txt"
    replies.write_text("\n".join(WARM) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["play", "tire-return", "--replies", str(replies), "--trainee", "ann", "--mode", "test", "--seed", "4"],
                Services(scorer_factory=FakeScorer, stdout=out, stderr=err)) == 0
    assert main(["play", "tire-return", "--replies", str(replies), "--no-save"],
                Services(scorer_factory=FakeScorer, stdout=out, stderr=err)) == 0
    with Store() as store:
        (session,) = store.sessions(with_turns=True)
    assert (session.trainee, session.mode, session.seed, session.finished) == ("ann", "test", 4, True)
    import hashlib

    from simulator.settings import scenarios_dir

    assert session.content_hash == hashlib.sha256((scenarios_dir() / "tire-return.yaml").read_bytes()).hexdigest()


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("db, message", [
    ("nonsense", "is not a database URL"),
    ("mysql://u@h/db", "SQLite or PostgreSQL"),
    ("sqlite:////no/such/folder/f.db", "folder /no/such/folder does not exist"),
    ("postgresql://frontline@127.0.0.1:1/x", "cannot reach the database at"),
])
def test_bad_database_urls_are_explained_without_a_traceback(tmp_path, db, message):
    replies = tmp_path / "r.txt"
    replies.write_text("hello\n")
    for argv in (["--db", db, "play", "tire-return", "--replies", str(replies)], ["--db", db, "progress"],
                 ["--db", db, "export", "1"], ["--db", db, "export-labels"], ["--db", db, "review"]):
        code, _, err = _run(argv)
        assert code == 2
        assert err.startswith("frontline: ") and message in err and "Traceback" not in err


def test_a_file_that_is_not_a_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    code, _, err = _run(["--db", f"sqlite:///{junk}", "progress"])
    assert code == 2 and "is not a usable SQLite database" in err


def test_resume_without_an_unfinished_session_says_so(tmp_path):
    replies = tmp_path / "r.txt"
    replies.write_text("hello\n")
    code, _, err = _run(["play", "tire-return", "--replies", str(replies), "--trainee", "ann", "--resume"])
    assert code == 2 and "ann has no unfinished session of tire-return" in err


def test_resume_from_the_cli_continues_with_the_next_replies(tmp_path):
    first, rest = tmp_path / "first.txt", tmp_path / "rest.txt"
    first.write_text("\n".join(WARM[:2]) + "\n")
    rest.write_text("\n".join(WARM[2:]) + "\n")
    assert _run(["play", "tire-return", "--replies", str(first), "--trainee", "ann", "--seed", "2"])[0] == 0
    code, out, err = _run(["play", "tire-return", "--replies", str(rest), "--trainee", "ann", "--resume", "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["finished"] and doc["seed"] == 2 and [t["reply"] for t in doc["turns"]] == WARM
    with Store() as store:
        (session,) = store.sessions(with_turns=True)
    assert session.finished and [t.reply for t in session.turns] == WARM


# -- Alembic, and databases from before it ---------------------------------------------------------------------------


def _make_released_database(url: str, version: int) -> None:
    """A database exactly as the Frontline that shipped schema `version` left it: its tables, a finished session
    of two turns, and its version in `schema_version` only (those Frontlines knew nothing of Alembic)."""
    _make_v1_database(url)
    engine = _engine(url)
    with engine.begin() as conn:
        if version > 1:
            assert migrations.upgrade(conn, target=version) == (1, version)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        assert conn.exec_driver_sql("SELECT version FROM schema_version").scalar() == version
    engine.dispose()


def _versions(url: str) -> tuple[str, list[int]]:
    engine = _engine(url)
    with engine.connect() as conn:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        legacy = conn.exec_driver_sql("SELECT version FROM schema_version").scalars().all()
    engine.dispose()
    assert len(revision) == 1
    return revision[0], legacy


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_every_released_schema_upgrades_seamlessly_with_its_sessions(store_url, tire, version):
    _make_released_database(store_url, version)
    with Store(store_url, now=Clock()) as store:
        assert store.schema_version == migrations.LATEST
        (old,) = store.sessions(with_turns=True)
        assert (old.trainee, old.overall, old.passed) == ("old-timer", 0.7, True)
        assert [t.reply for t in old.turns] == ["reply 1", "reply 2"]
        session_id, conversation = play(store, tire, WARM, trainee="new")  # and the new schema takes new work
        assert [t.to_turn() for t in store.session(session_id).turns] == conversation.turns
    # Alembic now knows the revision, and the old table says the same, for any older Frontline that looks.
    assert _versions(store_url) == (f"{migrations.LATEST:04d}", [migrations.LATEST])
    with Store(store_url) as again:
        assert again.schema_version == migrations.LATEST and len(again.sessions()) == 2


def test_a_new_database_is_made_by_the_alembic_revisions(store_url):
    with Store(store_url) as store:
        assert store.schema_version == migrations.LATEST
    assert _versions(store_url) == (f"{migrations.LATEST:04d}", [migrations.LATEST])
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrations.REVISIONS), version_locations=[str(migrations.REVISIONS)])
    chain = [r.revision for r in script.walk_revisions()]
    assert chain == [f"{n:04d}" for n in range(migrations.LATEST, 0, -1)]  # one line of history, no branches


def test_an_unknown_alembic_revision_is_refused_as_a_newer_frontlines(store_url):
    with Store(store_url):
        pass
    engine = _engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0007'")
    engine.dispose()
    with pytest.raises(StoreError, match="newer Frontline.*version 7"):
        Store(store_url)
    engine = _engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'")
    engine.dispose()
    with pytest.raises(StoreError, match="newer Frontline"):
        Store(store_url)


def test_many_frontlines_opening_an_old_database_at_once_upgrade_it_exactly_once(store_url):
    import threading

    _make_released_database(store_url, 1)
    opened: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def open_it() -> None:
        try:
            start.wait()
            with Store(store_url) as store:
                opened.append(store.schema_version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures
    assert opened == [migrations.LATEST] * 6
    assert _versions(store_url) == (f"{migrations.LATEST:04d}", [migrations.LATEST])
    with Store(store_url) as store:
        (old,) = store.sessions(with_turns=True)
        assert len(old.turns) == 2
