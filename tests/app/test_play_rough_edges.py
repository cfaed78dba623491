"""Rough edges a new trainee hit on the play screen, the picker, the debrief and the help — each as they would
notice it. Replies carry fake-scorer directives (`#e=0.9 o=0.2 s=0.5 goals=a,b flag`, `#all=0.9`)."""

from __future__ import annotations

import pytest
from helpers.app import (
    SIZE, Recorder, all_text, enter_text, log_text, open_debrief, ready, screen_text, services, type_reply, wait_until,
)
from helpers.fakes import FakeScorer
from textual.containers import VerticalScroll

from simulator.tui.trainee.app import make_app
from simulator.tui.trainee.screens.debrief import DebriefScreen
from simulator.tui.trainee.screens.help import HelpScreen, key_label
from simulator.tui.trainee.screens.picker import PickerScreen
from simulator.tui.trainee.screens.play import NEW_BELOW, PlayScreen
from simulator.tui.widgets.conversation import ConversationLog
from simulator.tui.widgets.meters import Meter
from simulator.tui.widgets.reply_box import ReplyBox

STORMS_OUT = "Calm down, it's just a tyre #all=0.2 flag"
BAR_CELLS = set("█▏▎▍▌▋▊▉░")


def tyre(tmp_path, scorer: FakeScorer | None = None, **kwargs):
    kwargs.setdefault("scenario_id", "tire-return")
    return make_app(services(tmp_path, scorer), trainee="sam", deterministic=True, **kwargs)


def bar_length(meter: Meter) -> int:
    return sum(1 for ch in meter.render().plain if ch in BAR_CELLS)


# 1. new turns out of sight ------------------------------------------------------------------------------------------


async def test_a_reply_arriving_while_scrolled_up_shows_a_cue_and_end_jumps_to_it(tmp_path):
    scorer = FakeScorer()
    app = tyre(tmp_path, scorer)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        log = play.query_one(ConversationLog)
        await type_reply(pilot, "You drove all this way with it, I'm sorry #e=0.9 o=0.6 s=0.8")
        await type_reply(pilot, "Let me have a look at the tyre for you #all=0.6")
        assert log.at_bottom and NEW_BELOW not in screen_text(app)  # following the bottom

        scorer.release.clear()  # the next reply is scored slowly; meanwhile the trainee scrolls up to read
        await enter_text(pilot, "I'll ring the car centre across the car park now #all=0.7")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("pageup", "pageup", "pageup")  # from the reply box
        await pilot.pause()
        assert not log.at_bottom
        reading_at = log.scroll_y
        scorer.release.set()
        await wait_until(pilot, lambda: len(play.conversation.turns) == 3, what="the third turn")
        await pilot.pause()
        assert log.scroll_y == reading_at  # the view did not move under the trainee
        assert log.unseen and NEW_BELOW in screen_text(app)

        await pilot.press("end")
        await pilot.pause()
        assert log.at_bottom and not log.unseen and NEW_BELOW not in screen_text(app)
        assert play.conversation.customer_line.split()[0] in screen_text(app)


async def test_the_cue_goes_once_the_trainee_scrolls_back_down_themselves(tmp_path):
    scorer = FakeScorer()
    app = tyre(tmp_path, scorer)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        log = play.query_one(ConversationLog)
        await type_reply(pilot, "You drove all this way with it, I'm sorry #e=0.9 o=0.6 s=0.8")
        await type_reply(pilot, "Let me have a look at the tyre for you #all=0.6")
        scorer.release.clear()
        await enter_text(pilot, "I'll ring the car centre across the car park now #all=0.7")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        assert not log.at_bottom
        scorer.release.set()
        await wait_until(pilot, lambda: len(play.conversation.turns) == 3)
        await pilot.pause()
        assert play.query_one("#new-below").display
        for _ in range(10):
            await pilot.press("pagedown")
        await pilot.pause()
        assert log.at_bottom and not play.query_one("#new-below").display


# 2. the reply box grows and wraps -----------------------------------------------------------------------------------


async def test_a_long_reply_wraps_in_a_growing_box_and_new_lines_are_kept(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        box = play.query_one("#reply", ReplyBox)
        assert box.outer_size.height == 3  # one line while empty
        long_reply = "Firstword " + "I am so sorry you carried that heavy tyre all the way here today. " * 3 + "Lastword"
        await enter_text(pilot, long_reply)
        await pilot.pause()
        assert box.outer_size.height > 3
        shown = screen_text(app)
        assert "Firstword" in shown and "Lastword" in shown  # the whole reply is visible, not just its tail
        await pilot.press("ctrl+j")  # a new line; Enter would send
        await pilot.press(*"Thanks")
        assert box.value == long_reply + "\nThanks" and len(play.conversation.turns) == 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(play.conversation.turns) == 1)
        assert play.conversation.turns[0].reply == long_reply + "\nThanks"
        assert box.value == "" and box.outer_size.height == 3


async def test_the_reply_box_cleans_pasted_control_characters_but_keeps_line_breaks(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        box = app.screen.query_one("#reply", ReplyBox)
        await enter_text(pilot, "one\r\ntwo \x1b[31mred\x07 \u202eevil")
        assert box.value == "one\ntwo ␛[31mred␇ evil"
        box.value = "set \x1b]0;title\x07"
        assert "\x1b" not in box.value and "\x07" not in box.value


# 3. room for the conversation at 80×24 -------------------------------------------------------------------------------


async def test_at_80_by_24_the_brief_folds_and_the_conversation_gets_ten_lines(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        play = app.screen
        brief = play.query_one(".brief")
        assert "Your goals" in brief.content.plain  # the whole brief before the first reply
        await type_reply(pilot, "You drove all this way with it, I'm sorry #e=0.9 o=0.6 s=0.8")
        log = play.query_one(ConversationLog)
        assert log.size.height >= 10
        assert not play.query_one("#side").display
        assert brief.outer_size.height <= 4 and "Your goals" not in brief.content.plain
        assert "F2: full brief" in brief.content.plain
        await pilot.press("f2")
        await pilot.pause()
        assert "Your goals" in brief.content.plain and brief.outer_size.height > 4
        await pilot.press("f2")
        await pilot.pause()
        assert "Your goals" not in brief.content.plain


# 4. fixed-width bars --------------------------------------------------------------------------------------------------


async def test_meter_bars_are_one_length_whatever_their_label_number_or_note(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_reply(pilot, "You drove all this way with it, I'm sorry #e=0.9 o=0.6 s=0.8")
        play = app.screen
        meters = list(play.query_one("#side").query(Meter))
        lengths = {m.id or m.label: bar_length(m) for m in meters}
        assert len(set(lengths.values())) == 1, lengths
        mood = play.query_one("#mood", Meter)
        before = bar_length(mood)
        for note, value in (("calm", 95.0), ("frustrated", 45.0), ("calming down", 70.0)):
            mood.note, mood.value = note, value
            assert bar_length(mood) == before


# 5. your own name --------------------------------------------------------------------------------------------------


async def test_the_trainee_types_their_name_in_the_picker_and_plays_under_it(tmp_path):
    svc = services(tmp_path)
    app = make_app(svc, trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        picker = app.screen
        name_box = picker.query_one("#trainee-name")
        assert name_box.value == "sam"  # prefilled with the given name
        await pilot.press("ctrl+n")
        assert app.focused is name_box
        await pilot.press("ctrl+a", "ctrl+k", *"Ana Lima", "enter")
        await pilot.pause()
        assert app.trainee == "Ana Lima" and app.focused is picker.query_one("#filter")
        await pilot.press(*"tyre", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen))
        assert app.screen.session.trainee == "Ana Lima"
        await type_reply(pilot, STORMS_OUT)
        await open_debrief(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen) and app.screen.best_loaded)
        assert app.screen.query_one("#trainee-name").value == "Ana Lima"
        [entry] = [o.prompt.plain for o in app.screen.query_one("#scenarios").options
                   if o.prompt is not None and "The tyre we never sold" in o.prompt.plain]
        assert "best " in entry  # Ana's result, read under her name
    store = svc.open_store()
    try:
        assert "tire-return" in store.best_results("Ana Lima") and store.best_results("sam") == {}
    finally:
        store.close()


# 6. emphasis, not asterisks ------------------------------------------------------------------------------------------


async def test_rubric_emphasis_is_rendered_not_shown_as_asterisks(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=(100, 48)) as pilot:
        await ready(pilot)
        await type_reply(pilot, "You'll have to take that up with whoever sold it #e=0.5 o=0.1 s=0.5")
        play = app.screen
        raw = play.conversation.turns[0].feedback["ownership"]
        assert "*you*" in raw  # the rubric writes Markdown emphasis…
        feedback = play.query(".feedback").last().content
        assert "Say what you will do about it" in feedback.plain and "*" not in feedback.plain
        start = feedback.plain.index("Say what you will") + len("Say what ")
        assert any(s.start == start and "italic" in str(s.style) for s in feedback.spans)  # …shown in italics
        await type_reply(pilot, STORMS_OUT)
        await open_debrief(pilot)
        text = all_text(app)
        assert "Say what you will do about it" in text and "*you*" not in text


# 7. ending words, never ids -----------------------------------------------------------------------------------------


async def test_endings_are_named_in_words_with_their_summary_never_by_id(tmp_path):
    seen = Recorder()
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await ready(pilot)
        await type_reply(pilot, STORMS_OUT)
        play = app.screen
        ending = play.conversation.ending
        assert ending.id == "storms_out"
        shown = log_text(app)
        assert f"The conversation is over: {ending.kind.words}" in shown
        assert " ".join(ending.summary.split()[:5]) in shown and "storms_out" not in shown
        await open_debrief(pilot)
        text = all_text(app)
        assert f"Ending: {ending.kind.words}" in text and "storms_out" not in text and "walked_out" not in text
        assert not any("storms_out" in n or "walked_out" in n for n in seen.notifications())


# 8. the debrief scrolls at once ------------------------------------------------------------------------------------


async def test_the_debrief_scrolls_with_pgdn_on_arrival(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_reply(pilot, "You drove all this way with it, I'm sorry #e=0.9 o=0.6 s=0.8")
        await type_reply(pilot, STORMS_OUT)
        debrief = await open_debrief(pilot)
        scroll = debrief.query_one("#debrief", VerticalScroll)
        assert app.focused is scroll
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert scroll.scroll_y == 0
        await pilot.press("down")
        await pilot.pause()
        assert scroll.scroll_y > 0


# 9. why it passed or failed ----------------------------------------------------------------------------------------


async def test_the_debrief_says_exactly_why_a_session_did_not_pass(tmp_path):
    """Every reply is over the pass mark, but Script-avoidance stays under its floor: the debrief must not say
    every reply reached the pass mark as if that were enough."""
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        for i in range(play.conversation.scenario.turn_limit):
            if play.finished:
                break
            await type_reply(pilot, f"As per our policy number {i}, I do sympathise fully #e=0.9 o=0.9 s=0.1")
        assert play.finished
        debrief = await open_debrief(pilot)
        result = debrief.result
        assert not result.passed and "script_avoidance" in result.below_floor
        verdict = debrief.query_one("#verdict").content.plain
        assert "Not passed, because:" in verdict
        for reason in result.why_not_passed:
            assert reason in verdict
        better = debrief.query_one("#better").content.plain
        assert "Every reply reached the pass mark" not in better
        assert "Script-avoidance 0.10, under its floor of 0.40" in better


async def test_a_passed_session_says_why_it_passed(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        for reply in ["So sorry you came all this way with it #e=.9 o=.8 s=.9 goals=acknowledge_trip",
                      "I'll take it back and refund you now, no receipt needed #all=.95 goals=take_it_back",
                      "There you are, all done #all=.9"]:
            if not play.finished:
                await type_reply(pilot, reply)
        if not play.finished or not play.conversation.result().passed:
            pytest.skip("the scenario no longer resolves along this path")
        debrief = await open_debrief(pilot)
        assert "Passed:" in debrief.query_one("#verdict").content.plain


# 10. better replies: once each, only where a reply fell short ---------------------------------------------------------


async def test_better_replies_are_shown_once_and_only_for_turns_that_fell_short(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=(100, 60)) as pilot:
        await ready(pilot)
        play = app.screen
        await type_reply(pilot, "You drove all this way with a worn tyre, I'm so sorry #all=1.0 goals=acknowledge_trip")
        for reply in ["Do you have a receipt? #all=0.45", "We need the receipt first. #all=0.45",
                      "Without a receipt I really can't. #all=0.45"]:
            if not play.finished:
                await type_reply(pilot, reply)
        while not play.finished:
            await type_reply(pilot, STORMS_OUT)
        debrief = await open_debrief(pilot)
        better = debrief.query_one("#better").content.plain
        assert "Turn 1 " not in better  # 1.00: nothing to improve
        shown = [debrief.better_reply(t) for t in debrief.short_turns()]
        assert len(shown) >= 2
        for reply in set(shown):
            if reply:
                assert better.count(reply) == 1  # the same better reply once, under the turns it answers


# 11. help from the real keys and commands ---------------------------------------------------------------------------


async def test_help_lists_only_keys_and_commands_that_exist(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert "send your reply" in screen_text(app) and "new line" in screen_text(app)
        real_keys = {key_label(k) for cls in (type(app), PickerScreen, PlayScreen, DebriefScreen, ReplyBox)
                     for b in cls.BINDINGS for k in b.key.split(",")}
        real_keys |= {key_label(app.COMMAND_PALETTE_BINDING), "Tab", "Shift+Tab"}
        for _, rows in help_screen.sections:
            for keys, _ in rows:
                for key in keys.split(", "):
                    assert key in real_keys, f"help lists {key!r}, which no binding has"
        titles = {c.title for c in app.get_system_commands(play)}
        assert help_screen.commands and {title for title, _ in help_screen.commands} == titles
        assert "Toggle side panel" in titles and "Show or fold the brief" in titles


# 12. what the customer noticed -----------------------------------------------------------------------------------------


async def test_a_turns_notes_show_in_its_feedback_and_in_the_debrief(tmp_path):
    app = tyre(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        await type_reply(pilot, "Let me have a look at that tyre for you #all=0.6")
        await type_reply(pilot, "Let me have a look at that tyre for you #all=0.6")
        [note] = play.conversation.turns[1].notes
        assert "You said nearly the same thing at turn 1" in note
        feedback = play.query(".feedback").last().content.plain
        assert "The customer noticed: You said nearly the same thing at turn 1" in feedback
        while not play.finished:
            await type_reply(pilot, STORMS_OUT)
        await open_debrief(pilot)
        assert "You said nearly the same thing at turn 1" in all_text(app)


async def test_notes_are_held_back_in_test_mode(tmp_path):
    app = tyre(tmp_path, mode="test")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        play = app.screen
        await type_reply(pilot, "Let me have a look at that tyre for you #all=0.6")
        await type_reply(pilot, "Let me have a look at that tyre for you #all=0.6")
        assert play.conversation.turns[1].notes
        assert "nearly the same thing" not in log_text(app)
        while not play.finished:
            await type_reply(pilot, STORMS_OUT)
        await open_debrief(pilot)
        assert isinstance(app.screen, DebriefScreen)
        assert "You said nearly the same thing at turn 1" in all_text(app)
