"""The session store on SQLite and (with FRONTLINE_TEST_PG_URL) PostgreSQL: what goes in comes back out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from helpers.fakes import FakeScorer
from simulator.engine import Conversation
from simulator.session import PracticeSession, StoreLink
from simulator.store import Store, StoreError, UnknownSession, UnknownTurn
from helpers.store import COLD, WARM, Clock, play, pg_url, store_url, tire  # noqa: F401 (fixtures)


@pytest.fixture
def store(store_url):
    s = Store(store_url, now=Clock())
    yield s
    s.close()


def test_a_played_session_comes_back_exactly(store, tire):
    session_id, conversation = play(store, tire, WARM, trainee="ann", seed=3, mode="test")
    stored = store.session(session_id)
    assert [t.to_turn() for t in stored.turns] == conversation.turns
    result = conversation.result()
    assert stored.finished and stored.ending == result.ending and stored.ending_kind == result.ending_kind
    assert stored.overall == pytest.approx(result.overall) and stored.passed is result.passed
    assert stored.averages == pytest.approx(result.averages)
    assert (stored.trainee, stored.scenario_id, stored.rubric_id) == ("ann", "tire-return", "service")
    assert (stored.mode, stored.seed, stored.difficulty, stored.content_hash) == ("test", 3, "medium", "hash-1")
    assert stored.model_version == "fake-1" and stored.opening == conversation.opening
    assert stored.turn_count == len(conversation.turns) and stored.override_count == 0
    assert stored.started_at.tzinfo is not None and stored.ended_at > stored.started_at


def test_each_turn_is_visible_to_another_connection_as_soon_as_it_is_recorded(store, store_url, tire):
    scenario, rubric = tire
    conversation = Conversation(scenario, rubric, FakeScorer())
    session_id = store.start_session(trainee="ann", conversation=conversation, mode="practice", content_hash="")
    other = Store(store_url)
    try:
        for n, reply in enumerate(WARM[:2], 1):
            store.record_turn(session_id, conversation.respond(reply))
            assert other.session(session_id).turn_count == n
        assert not other.session(session_id).finished
    finally:
        other.close()


def test_best_results_are_the_best_finished_overall_per_scenario(store, tire):
    play(store, tire, COLD, trainee="ann")
    _, good = play(store, tire, WARM, trainee="ann")
    play(store, tire, WARM[:1], trainee="ann", finish=False)  # unfinished: not a result
    play(store, tire, WARM, trainee="bob")
    assert store.best_results("ann") == {"tire-return": pytest.approx(good.result().overall)}
    assert store.best_results("nobody") == {}


def test_last_unfinished_is_the_newest_unfinished_with_its_turns(store, tire):
    assert store.last_unfinished("ann", "tire-return") is None
    play(store, tire, WARM[:1], trainee="ann", finish=False)
    newest, _ = play(store, tire, WARM[:2], trainee="ann", finish=False)
    play(store, tire, WARM, trainee="ann")  # finished later: not a candidate
    found = store.last_unfinished("ann", "tire-return")
    assert found.id == newest and [t.number for t in found.turns] == [1, 2]
    assert store.last_unfinished("bob", "tire-return") is None


def test_session_filters(store, tire):
    clock = store._now
    a, _ = play(store, tire, WARM, trainee="ann")  # passes, 2026-03-02
    clock.jump(days=3)
    b, _ = play(store, tire, COLD, trainee="bob")  # fails, 2026-03-05
    c, _ = play(store, tire, WARM[:1], trainee="ann", finish=False)
    ids = lambda **kw: [s.id for s in store.sessions(**kw)]  # noqa: E731
    assert ids() == [c, b, a]
    assert ids(newest_first=False) == [a, b, c]
    assert ids(trainee="ann") == [c, a]
    assert ids(scenario="tire-return", passed=True) == [a]
    assert ids(passed=False) == [b]
    assert ids(finished=False) == [c]
    assert ids(since=date(2026, 3, 3)) == [c, b]
    assert ids(until=date(2026, 3, 2)) == [a]
    assert ids(since=date(2026, 3, 6)) == []
    store.mark_reviewed(b, "kim")
    assert ids(reviewed=False) == [c, a] and ids(reviewed=True) == [b]
    assert ids(limit=1) == [c]
    assert [len(s.turns) for s in store.sessions(with_turns=True)] == [1, 2, 4]


def test_overrides_keep_the_model_level_and_the_newest_is_in_force(store, tire):
    session_id, _ = play(store, tire, WARM)
    turn = store.session(session_id).turns[1]
    model_level = turn.levels["ownership"]
    first = store.override(turn.id, "ownership", 0, "promised nothing concrete", "kim")
    assert (first.model_level, first.level, first.reviewer) == (model_level, 0, "kim") and not first.agrees
    store.override(turn.id, "ownership", 1, "on second thought", "lee")
    again = store.session(session_id)
    t = again.turns[1]
    assert t.levels["ownership"] == model_level  # the model's level is never changed
    assert t.level("ownership") == 1 and t.overrides["ownership"].reviewer == "lee"
    assert [o.level for o in t.history] == [0, 1]
    assert t.effective_levels == {**t.levels, "ownership": 1}
    assert again.override_count == 2
    assert store.turn(turn.id).overrides["ownership"].comment == "on second thought"


def test_review_flag(store, tire):
    session_id, _ = play(store, tire, WARM)
    store.mark_reviewed(session_id, "kim")
    s = store.session(session_id)
    assert s.reviewed and s.reviewed_by == "kim" and s.reviewed_at is not None
    store.mark_reviewed(session_id, "kim", reviewed=False)
    s = store.session(session_id)
    assert not s.reviewed and s.reviewed_by is None and s.reviewed_at is None


def test_bad_requests_say_what_is_wrong(store, tire):
    session_id, conversation = play(store, tire, WARM)
    turn_id = store.session(session_id).turns[0].id
    with pytest.raises(UnknownSession, match="no session with id 999"):
        store.session(999)
    with pytest.raises(UnknownTurn):
        store.override(999999, "empathy", 1, "", "kim")
    with pytest.raises(StoreError, match="has no criterion 'warmth'"):
        store.override(turn_id, "warmth", 1, "", "kim")
    with pytest.raises(StoreError, match="whole number"):
        store.override(turn_id, "empathy", -1, "", "kim")
    with pytest.raises(StoreError, match="reviewer"):
        store.override(turn_id, "empathy", 1, "", " ")
    with pytest.raises(StoreError, match="already ended"):
        store.record_turn(session_id, conversation.turns[-1])
    with pytest.raises(StoreError, match="mode"):
        store.start_session(trainee="ann", conversation=conversation, mode="exam", content_hash="")
    unfinished, conv = play(store, tire, WARM[:1], finish=False)
    with pytest.raises(StoreError, match="already has a turn 1"):
        store.record_turn(unfinished, conv.turns[0])


def test_resume_rebuilds_the_exact_state_and_continues_like_an_unbroken_session(store, tire):
    scenario, rubric = tire
    session_id, interrupted = play(store, tire, WARM[:2], trainee="ann", seed=5, difficulty="hard", finish=False)
    link = StoreLink(lambda: store)
    found = PracticeSession.resume(scenario, rubric, trainee="ann", scorer=FakeScorer(), link=link)
    assert found is not None
    resumed, resumed_id = found.conversation, found.session_id
    assert resumed_id == session_id
    assert resumed.state == interrupted.state and resumed.turns == interrupted.turns
    assert (resumed.seed, resumed.difficulty.value) == (5, "hard")
    for reply in WARM[2:]:
        if not found.finished:
            found.submit(reply)  # stores the turn, and the end with the last one

    unbroken = Conversation(scenario, rubric, FakeScorer(), seed=5, difficulty="hard", trainee="ann")
    for reply in WARM:
        if not unbroken.finished:
            unbroken.respond(reply)
    assert [t.to_turn() for t in store.session(session_id).turns] == unbroken.turns
    assert store.session(session_id).overall == pytest.approx(unbroken.result().overall)
    assert PracticeSession.resume(scenario, rubric, trainee="ann", scorer=FakeScorer(), link=link) is None


def test_trainee_names_are_shared_across_sessions(store, tire):
    play(store, tire, WARM[:1], trainee="ann", finish=False)
    play(store, tire, WARM[:1], trainee="ann", finish=False)
    play(store, tire, WARM[:1], trainee="Zoë", finish=False)
    assert sorted(store.trainees()) == ["Zoë", "ann"]
    assert len(store.sessions(trainee="ann")) == 2


def test_stored_text_is_kept_byte_for_byte(store, tire):
    reply = "Don't worry — I'll sort it 🙂 [bold]now[/bold] <b>& \"quotes\" #all=0.7"
    session_id, conversation = play(store, tire, [reply], finish=False)
    assert store.session(session_id).turns[0].reply == reply
    assert store.session(session_id).turns[0].to_turn() == conversation.turns[0]


def test_session_lookup_of_a_session_started_with_turns_already_played(store, tire):
    scenario, rubric = tire
    conversation = Conversation(scenario, rubric, FakeScorer())
    conversation.respond(WARM[0])
    session_id = store.start_session(trainee="ann", conversation=conversation, mode="practice", content_hash="")
    assert [t.to_turn() for t in store.session(session_id).turns] == conversation.turns
    store.record_turn(session_id, conversation.respond(WARM[1]))
    assert store.session(session_id).turn_count == 2


def test_filters_accept_datetimes(store, tire):
    a, _ = play(store, tire, WARM[:1], finish=False)
    started = store.session(a).started_at
    assert [s.id for s in store.sessions(since=started, until=started)] == [a]
    assert store.sessions(since=started + timedelta(seconds=1)) == []
