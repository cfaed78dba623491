"""The dialogue engine: deterministic, and the customer reacts the way the scores say."""

from __future__ import annotations

import pytest

from helpers.fakes import FakeScorer
from simulator.engine import Conversation, mood_label


@pytest.fixture
def tire(library):
    scenario = library.scenario("tire-return")
    return scenario, library.rubric(scenario.rubric)


def play(tire, replies, **kw):
    scenario, rubric = tire
    conversation = Conversation(scenario, rubric, FakeScorer(), **kw)
    for reply in replies:
        if conversation.finished:
            break
        conversation.respond(reply)
    return conversation


def test_same_seed_same_conversation_and_seed_changes_lines(tire):
    replies = ["Hi #all=0.6", "Right #all=0.5", "Let me call them #all=0.9 goals=solve_it"]
    a, b = play(tire, replies, seed=3), play(tire, replies, seed=3)
    assert [t.to_dict() for t in a.turns] == [t.to_dict() for t in b.turns]
    openings = {Conversation(*tire, FakeScorer(), seed=s).opening for s in range(12)}
    assert len(openings) >= 2  # variants are really drawn, not always the first


def test_hard_only_lines_appear_only_on_hard(tire):
    hard_line = "Don't even start"
    medium = {Conversation(*tire, seed=s, difficulty="medium").opening for s in range(30)}
    hard = {Conversation(*tire, seed=s, difficulty="hard").opening for s in range(30)}
    assert not any(hard_line in line for line in medium)
    assert any(hard_line in line for line in hard)


def test_good_replies_calm_the_customer_and_brush_offs_anger_her(tire):
    calm = play(tire, ["That drive sounds awful #all=0.95"])
    angry = play(tire, ["Not my problem #all=0.05"])
    start = tire[0].persona.mood
    assert calm.mood > start > angry.mood
    assert mood_label(calm.mood) != mood_label(angry.mood)


def test_difficulty_changes_patience_and_push_back(tire):
    easy = Conversation(*tire, seed=0, difficulty="easy")
    hard = Conversation(*tire, seed=0, difficulty="hard")
    assert easy.patience > hard.patience
    e, h = play(tire, ["no #all=0.1"], difficulty="easy"), play(tire, ["no #all=0.1"], difficulty="hard")
    assert (e.turns[0].mood_before - e.turns[0].mood_after) < (h.turns[0].mood_before - h.turns[0].mood_after)


def test_warm_path_resolves_and_passes(tire):
    c = play(tire, ["I'm sorry you drove all this way #all=0.9 goals=acknowledge_trip",
                    "We never sold tyres; I'll ring Parkway now #all=0.9 goals=explain_kindly,solve_it",
                    "Ringing them now #all=0.9"])
    assert c.finished and c.ending.id == "sorted"
    assert [t.beat for t in c.turns] == ["opening", "doubt", "relief"]
    result = c.result()
    assert result.passed and result.ending_kind == "resolved" and result.turns == 3
    assert set(c.goals_met.values()) == {True}


def test_red_flag_walks_her_out_and_fails(tire):
    c = play(tire, ["You obviously got it somewhere else, your fault #all=0.2 flag"])
    assert c.ending.id == "storms_out"
    assert c.turns[0].red_flags == ["blames_customer"]
    assert not c.result().passed


def test_patience_runs_out(tire):
    c = play(tire, ["meh #e=0.2 o=0.1 s=0.3"] * 10)
    assert c.finished and c.ending.id in {"storms_out", "wants_manager"}
    assert len(c.turns) < tire[0].turn_limit


def test_turn_limit_ends_the_session(tire):
    scenario, rubric = tire
    c = play(tire, ["ok #e=0.3 o=0.45 s=0.5"] * 20, difficulty="easy")
    assert c.finished
    assert len(c.turns) <= scenario.turn_limit


def test_goal_met_once_and_only_when_requested(tire):
    c = play(tire, ["Sorry #all=0.6 goals=acknowledge_trip,not_a_goal", "Sorry again #all=0.6 goals=acknowledge_trip"])
    assert c.turns[0].goals_met == ["acknowledge_trip"]
    assert c.turns[1].goals_met == []
    assert all(g.id != "acknowledge_trip" for g in c.request_for("x").goals)


def test_model_replies_are_rendered_templates(tire):
    c = play(tire, ["Sorry about the trip #all=0.9"])
    assert c.turns[0].next_beat == "doubt"
    request = c.request_for("anything")
    assert any("Parkway Car Centre" in r for r in request.model_replies)
    assert not any("{{" in r for r in request.model_replies)


def test_apply_after_the_end_is_refused(tire):
    c = play(tire, ["your fault #all=0.1 flag"])
    with pytest.raises(RuntimeError):
        c.apply("again", FakeScorer().score(c.request_for("again")))


def test_weakest_turns_are_the_lowest_scored(tire):
    c = play(tire, ["a #all=0.6", "b #all=0.2", "c #all=0.4"], difficulty="easy")
    assert [t.reply for t in c.weakest_turns(2)] == ["b #all=0.2", "c #all=0.4"]
