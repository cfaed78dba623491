"""A trainer's override changes the session's result, pass/fail and what is listed; it can be undone; the
history keeps both. Also: a version-3 database upgrades to schema 4 and its old overrides start to count."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from helpers.store import WARM, Clock, pg_url, play, store_url, tire, utc  # noqa: F401 (fixtures)
from simulator.store import Store, StoreError
from simulator.store import migrations

# Every reply at 0.65 on every criterion: passes (pass mark 0.6, floors 0.4) only if it ends resolved.
OKAY = [r.split(" #")[0] + " #all=0.65" + (" goals=" + r.split("goals=")[1] if "goals=" in r else "") for r in WARM]


def _played(store, tire):
    session_id, conversation = play(store, tire, OKAY)
    assert conversation.result().passed and conversation.result().ending_kind == "resolved"
    return store.session(session_id)


def test_an_override_changes_the_result_and_keeps_the_models_beside_it(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session = _played(store, tire)
        model_overall = session.overall
        assert session.final_overall == model_overall and not session.overridden
        for turn in session.turns:  # the trainer: no ownership at all in any reply
            store.override(turn.id, "ownership", 0, "never takes it on", "kim")
        after = store.session(session.id)
        assert after.overridden
        assert after.overall == model_overall and after.passed  # the model's result is kept
        assert after.criterion_averages()["ownership"] == 0.0  # level 0 of 0-2 counts as 0.0
        assert after.model_averages()["ownership"] == pytest.approx(0.65)
        assert after.final_overall == pytest.approx((0.65 + 0.0 + 0.65) / 3)
        assert after.final_passed is False  # under the pass mark and under ownership's floor
        assert [s.id for s in store.sessions(passed=False)] == [session.id]
        assert store.sessions(passed=True) == []
        listed = store.sessions()[0]
        assert listed.final_passed is False and listed.override_count == len(session.turns)


def test_a_higher_level_can_lift_a_failing_session_to_a_pass(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        low = [r.replace("#all=0.65", "#e=0.65 o=0.7 s=0.3") for r in OKAY]
        session_id, conversation = play(store, tire, low)
        assert conversation.result().below_floor == ["script_avoidance"]
        session = store.session(session_id)
        for turn in session.turns:
            store.override(turn.id, "script_avoidance", 2, "", "kim")
        after = store.session(session_id)
        assert after.final_passed is True and after.passed is False
        assert after.criterion_averages()["script_avoidance"] == 1.0
        assert [s.id for s in store.sessions(passed=True)] == [session_id]


def test_a_walked_out_session_stays_failed_whatever_the_levels(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        # a red flag: she storms out after the first reply
        low = [r.replace("#all=0.65", "#e=0.65 o=0.3 s=0.65 flag") for r in OKAY]
        session_id, conversation = play(store, tire, low)
        assert conversation.result().ending_kind == "walked_out"
        for turn in store.session(session_id).turns:
            for cid in ("empathy", "ownership", "script_avoidance"):
                store.override(turn.id, cid, 2, "", "kim")
        after = store.session(session_id)
        assert after.final_overall == 1.0 and after.final_passed is False


def test_undo_goes_back_one_step_and_the_history_keeps_everything(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session = _played(store, tire)
        turn = session.turns[0]
        first = store.override(turn.id, "empathy", 0, "cold", "kim")
        store.override(turn.id, "empathy", 1, "on reflection", "lee")
        assert store.turn(turn.id).level("empathy") == 1
        undo = store.undo_override(turn.id, "empathy", "lee")
        assert undo.is_undo and undo.level == 0 and undo.reviewer == "lee"
        assert store.turn(turn.id).overrides["empathy"] == first
        store.undo_override(turn.id, "empathy", "kim")
        back = store.turn(turn.id)
        assert "empathy" not in back.overrides and back.level("empathy") == turn.levels["empathy"]
        assert [(o.level, o.reviewer, o.is_undo) for o in back.history] == [
            (0, "kim", False), (1, "lee", False), (0, "lee", True), (turn.levels["empathy"], "kim", True)]
        assert all(o.created_at is not None for o in back.history)
        session = store.session(session.id)
        assert not session.overridden and session.final_overall == session.overall and session.override_count == 0
        with pytest.raises(StoreError, match="no override to undo"):
            store.undo_override(turn.id, "empathy", "kim")


def test_a_level_the_rubric_does_not_have_is_refused(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session = _played(store, tire)
        with pytest.raises(StoreError, match="levels 0 to 2"):
            store.override(session.turns[0].id, "empathy", 3, "", "kim")


def test_an_override_before_the_end_counts_once_the_session_finishes(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        scenario, rubric = tire
        session_id, conversation = play(store, tire, OKAY[:1], finish=False)
        turn = store.session(session_id).turns[0]
        store.override(turn.id, "script_avoidance", 0, "", "kim")
        assert store.session(session_id).final_passed is None  # unfinished
        for reply in OKAY[1:]:
            if not conversation.finished:
                store.record_turn(session_id, conversation.respond(reply))
        store.finish_session(session_id, conversation.result())
        done = store.session(session_id)
        assert done.passed and done.overridden
        assert done.criterion_averages()["script_avoidance"] == pytest.approx(0.65 * (len(done.turns) - 1)
                                                                              / len(done.turns))


def test_a_session_comment_is_kept_with_who_and_when(store_url, tire):
    with Store(store_url, now=Clock()) as store:
        session = _played(store, tire)
        store.comment(session.id, "  Good recovery after turn 2.  ", "kim")
        kept = store.session(session.id)
        assert (kept.comment, kept.comment_by) == ("Good recovery after turn 2.", "kim")
        assert kept.comment_at is not None
        store.comment(session.id, "", "kim")
        assert store.session(session.id).comment == ""


def _make_v3_database_with_an_override(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=3) == (0, 3)
        md = sa.MetaData()
        md.reflect(conn)
        trainees, sessions, turns, reviews = (md.tables[n] for n in ("trainees", "sessions", "turns", "reviews"))
        when = datetime(2026, 1, 5, 10, 0)
        trainee_id = conn.execute(trainees.insert().values(name="old-timer", created_at=when)).inserted_primary_key[0]
        session_id = conn.execute(sessions.insert().values(
            trainee_id=trainee_id, scenario_id="tire-return", scenario_title="The tyre we never sold",
            setting="Hillside Hardware", content_hash="abc", rubric_id="service", model_version="minilm-0",
            difficulty="medium", mode="practice", seed=1, opening="Refund, please.", pass_mark=0.6, started_at=when,
            ended_at=when, ending="sorted", ending_kind="resolved", ending_summary="She left calm.", overall=0.7,
            passed=True, averages={"empathy": 0.7, "ownership": 0.7, "script_avoidance": 0.7}, reviewed=True,
            reviewed_by="kim", reviewed_at=when,
        )).inserted_primary_key[0]
        scores = {"empathy": 0.7, "ownership": 0.7, "script_avoidance": 0.7}
        turn_id = conn.execute(turns.insert().values(
            session_id=session_id, number=1, beat="opening", customer_line="Refund, please.", reply="No.",
            scores=scores, levels={"empathy": 1, "ownership": 1, "script_avoidance": 1},
            evidence={k: [] for k in scores}, feedback={k: "" for k in scores}, overall=0.7, red_flags=[],
            goals_met=[], mood_before=35.0, mood_after=40.0, patience_after=4, next_beat=None,
            customer_reaction="Hmm.", ending="sorted", nearest_model_reply=None, model_version="minilm-0",
            created_at=when, notes=[],
        )).inserted_primary_key[0]
        conn.execute(reviews.insert().values(turn_id=turn_id, criterion="ownership", model_level=1, level=0,
                                             comment="refused", reviewer="kim", created_at=when))
    engine.dispose()


def test_a_version_3_database_upgrades_and_its_old_overrides_start_to_count(store_url, tire):
    _make_v3_database_with_an_override(store_url)
    with Store(store_url, now=Clock()) as store:
        assert store.schema_version == migrations.LATEST == 4
        (old,) = store.sessions(with_turns=True)
        assert old.passed and old.reviewed and old.comment == "" and old.turns[0].level("ownership") == 0
        assert not old.overridden  # the rule for its result is not known until its rubric is given
        _, rubric = tire
        assert store.refresh_results(lambda rid: rubric if rid == "service" else None) == 1
        old = store.session(old.id)
        assert old.final_passed is False and old.final_overall == pytest.approx((0.7 + 0.0 + 0.7) / 3)
        assert store.refresh_results(lambda rid: rubric) == 0  # done once
        store.undo_override(old.turns[0].id, "ownership", "kim")
        assert store.session(old.id).final_passed is True
