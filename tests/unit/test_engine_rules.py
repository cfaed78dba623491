"""The rules a trainer expects of a conversation: pass only on every criterion and a resolved ending, goals no
score can stand in for, repeats noticed, lines not repeated while fresh ones remain, difficulty that matters."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.content import TIRE
from helpers.fakes import FakeScorer
from simulator.content.library import Library
from simulator.engine import Conversation

ROOT = Path(__file__).resolve().parents[2]

ACK = "I'm sorry you carried that all the way here #e={e} o={o} s={s} goals=acknowledge_trip"
FIX = "We never sold tyres; I'll ring Parkway for you now #e={e} o={o} s={s} goals=explain_kindly,solve_it"
DONE = "They're expecting you, ask for Dev #e={e} o={o} s={s}"


@pytest.fixture
def tire():
    library = Library()
    scenario = library.scenario("tire-return")
    return scenario, library.rubric(scenario.rubric)


def play(setup, replies, **kwargs) -> Conversation:
    conversation = Conversation(*setup, FakeScorer(), **kwargs)
    for reply in replies:
        if not conversation.finished:
            conversation.respond(reply)
    return conversation


def scenario_from(tmp_path: Path, old: str, new: str):
    text = TIRE.read_text()
    assert old in text, f"test setup: {old!r} not in tire-return.yaml"
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1).replace("id: tire-return", "id: variant", 1))
    library = Library([tmp_path])
    loaded = library.load(path)
    return library.require(loaded), library.rubric_for(loaded)


def test_a_cold_but_competent_trainee_reaches_the_good_ending_but_does_not_pass(tire):
    # just enough warmth to get past the opening, then none: every action right
    c = play(tire, [ACK.format(e=0.55, o=1.0, s=1.0), FIX.format(e=0.0, o=1.0, s=1.0), DONE.format(e=0.0, o=1.0, s=1.0)],
             difficulty="easy")
    assert c.finished and c.ending.kind.value == "resolved"
    result = c.result()
    assert result.overall >= result.pass_mark  # the average alone would pass
    assert not result.passed
    assert result.below_floor == ["empathy"]
    assert any("Empathy averaged 0.18, under its floor of 0.40" in why for why in result.why_not_passed)


def test_a_warm_complete_session_passes_with_no_reasons_against(tire):
    warm = dict(e=0.9, o=0.9, s=0.9)
    result = play(tire, [ACK.format(**warm), FIX.format(**warm), DONE.format(**warm)]).result()
    assert result.passed and result.why_not_passed == [] and result.below_floor == []


def test_an_escalated_ending_never_passes_however_good_the_scores(tmp_path):
    setup = scenario_from(tmp_path, "end: sorted", "end: wants_manager")
    warm = dict(e=0.9, o=0.9, s=0.9)
    c = play(setup, [ACK.format(**warm), FIX.format(**warm), DONE.format(**warm)])
    assert c.ending.kind.value == "escalated"
    result = c.result()
    assert not result.passed and any("escalated" in why for why in result.why_not_passed)


def test_an_ending_that_requires_a_goal_is_skipped_until_the_goal_is_met(tmp_path):
    # the good ending now requires solving it; high scores without the goal must not reach it
    setup = scenario_from(tmp_path, "summary: She leaves calm", "requires: [solve_it]\n    summary: She leaves calm")
    assert setup[0].ending("sorted").requires == ["solve_it"]
    high = "Really sorry, let me see what I can do #all=0.95"
    without = play(setup, [high] + [f"{high} {n}" for n in ("again", "once more", "and more")])
    assert not (without.finished and without.ending.id == "sorted")
    warm = dict(e=0.9, o=0.9, s=0.9)
    with_goal = play(setup, [ACK.format(**warm), FIX.format(**warm), DONE.format(**warm)])
    assert with_goal.ending.id == "sorted"


def test_repeating_a_reply_is_noticed_costs_patience_and_earns_no_goodwill(tire):
    reply = "I understand, let me check that for you #all=0.7"
    once = play(tire, [reply, "Could you tell me when you bought it? #all=0.7"], difficulty="easy")
    twice = play(tire, [reply, reply], difficulty="easy")
    assert once.turns[1].notes == []
    assert twice.turns[1].notes and "turn 1" in twice.turns[1].notes[0]
    assert twice.patience < once.patience
    assert twice.turns[1].mood_after < twice.turns[1].mood_before  # a good score, heard before: no gain
    assert once.turns[1].mood_after > once.turns[1].mood_before


def test_a_refusal_restated_in_other_words_is_noticed(tire):
    c = play(tire, ["There's nothing I can do about that #e=0.3 o=0.0 s=0.5",
                    "Unfortunately that is simply not something we are able to help with #e=0.3 o=0.0 s=0.5"],
             difficulty="easy")
    assert c.turns[0].notes == []
    assert c.turns[1].notes and "refused again" in c.turns[1].notes[0]


def test_a_beat_says_every_line_once_before_any_line_again(tire):
    scenario, _ = tire
    insists = scenario.beat("insists")
    general = [v for v in insists.lines if isinstance(v, str)]
    # stay on the opening-side loop: poor-but-not-failing replies go to `insists` and (no transition out) stay there
    for seed in range(6):
        c = Conversation(*tire, FakeScorer(), seed=seed, difficulty="easy")
        said = []
        for n in range(len(general)):
            turn = c.respond(f"hmm number {n} #e=0.3 o=0.5 s=0.5 {'x' * n}")
            if turn.next_beat == "insists":
                said.append(turn.customer_reaction)
        first = said[: len(general)]
        assert len(first) == len(set(first)), f"seed {seed}: a line came back while others were unused: {first}"


def test_a_hard_customer_says_the_hard_lines_when_the_beat_has_them(tire):
    hard = {Conversation(*tire, seed=s, difficulty="hard").opening for s in range(20)}
    assert all("Don't even start" in line for line in hard)


def test_an_easy_customer_forgives_a_weak_reply_that_costs_patience_at_medium(tire):
    weak = "Erm, right, okay #all=0.35"
    easy, medium = play(tire, [weak], difficulty="easy"), play(tire, [weak], difficulty="medium")
    assert easy.patience == easy.starting_patience
    assert medium.patience == medium.starting_patience - 1
