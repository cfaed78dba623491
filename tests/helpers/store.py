"""Shared helpers for the store, review, export and progress tests (imported by them; holds no tests itself).

`store_url` runs a test on SQLite and, when FRONTLINE_TEST_PG_URL is set, on PostgreSQL too (each test gets a
fresh schema there). `Clock` gives fixed, increasing timestamps so screenshots and reports are reproducible.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpers.fakes import FakeScorer
from simulator.engine import Conversation

PG_ENV = "FRONTLINE_TEST_PG_URL"
PG_SKIP = f"PostgreSQL tests need a server: set {PG_ENV} (e.g. FRONTLINE_TEST_PG_URL=\"$(.ci/start-postgres.sh)\")"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday


class Clock:
    """Each call is `step` later than the one before, starting at `start`."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(minutes=1)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        moment = self.now
        self.now += self.step
        return moment

    def jump(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Local time is UTC, so dates and weeks in reports and screenshots come out the same everywhere.
    Autouse in the modules that import it."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def sqlite_url(folder) -> str:
    return f"sqlite:///{folder}/frontline.db"


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"{PG_ENV} is set but the server cannot be reached: {exc}")
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def tire():
    """The (frozen copy of the) tyre scenario and its rubric, loaded once (both are immutable)."""
    from helpers.content import TIRE
    from simulator.content.library import Library

    library = Library()
    loaded = library.load(TIRE)
    return library.require(loaded), library.rubric_for(loaded)


WARM = ["I'm so sorry you drove all this way with it #all=0.9 goals=acknowledge_trip",
        "We've never stocked tyres here, so it must be the car centre #e=0.8 o=0.7 s=0.8 goals=explain_kindly",
        "I'll ring Parkway now and tell them you're coming #all=0.9 goals=solve_it",
        "Not at all, it's an easy mix-up. Dev is expecting you #all=0.9"]
COLD = ["Not my problem #all=0.1", "Ring head office #all=0.05", "Whatever #all=0.1", "No #all=0.1",
        "Bye #all=0.1"]


def play(store, tire, replies, *, trainee="ann", seed=0, mode="practice", finish=True, difficulty=None,
         content_hash="hash-1"):
    """Play `replies` with the FakeScorer, storing every turn like `frontline play`; returns (session id, conv)."""
    scenario, rubric = tire
    conversation = Conversation(scenario, rubric, FakeScorer(), seed=seed, difficulty=difficulty, trainee=trainee)
    session_id = store.start_session(trainee=trainee, conversation=conversation, mode=mode,
                                     content_hash=content_hash)
    for reply in replies:
        if conversation.finished:
            break
        store.record_turn(session_id, conversation.respond(reply))
    if finish and conversation.finished:
        store.finish_session(session_id, conversation.result())
    return session_id, conversation
