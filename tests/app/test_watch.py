"""`frontline play FILE --watch`: edit the scenario while playing it, as an author does.

On save the scenario reloads and the conversation replays to where it was with the same seed and replies; a
file with problems shows them in the app with FILE:LINE:COL while the conversation stays as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.content import TIRE
from helpers.app import SIZE, log_text, services, type_reply, wait_until
from simulator.tui.trainee.app import make_app
from simulator.tui.trainee.screens.play import PlayScreen

SOURCE = TIRE
REPLIES = ("I'm sorry you carried that all the way here #all=0.9 goals=acknowledge_trip",
           "Let me look into it #all=0.6")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in the file"
    path.write_text(text.replace(old, new))
    stamp = path.stat().st_mtime_ns + 1_000_000  # a later modification time even on a coarse clock
    os.utime(path, ns=(stamp, stamp))


async def test_saving_the_file_reloads_and_replays_and_problems_show_inside_the_app(tmp_path):
    path = tmp_path / "draft.yaml"
    path.write_text(SOURCE.read_text())
    svc = services(tmp_path)
    app = make_app(svc, scenario_id=str(path), trainee="sam", deterministic=True, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.scorer_state == "ready" and isinstance(app.screen, PlayScreen))
        for reply in REPLIES:
            await type_reply(pilot, reply)
        first = app.screen
        assert len(first.session.turns) == 2
        first.query_one("#reply").value = "a draft I have not sent"

        # 1. a broken save: the problems appear, located; the conversation is untouched
        edit(path, "to: insists", "to: nowhere")
        app.check_watched_files()
        await pilot.pause()
        assert app.screen is first and len(first.session.turns) == 2
        panel = first.query_one("#watch-problems")
        assert panel.display
        shown = panel.content.plain
        assert f"{path}:" in shown and "no beat with id 'nowhere'" in shown

        # 2. a good save: reloaded, replayed with the same replies and seed, the draft kept
        edit(path, "to: nowhere", "to: insists")
        edit(path, "name: Margaret", "name: Marjorie")
        app.check_watched_files()
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen) and app.screen is not first,
                         what="the replayed play screen")
        await pilot.pause()
        replayed = app.screen
        assert [t.reply for t in replayed.session.turns] == list(REPLIES)
        assert replayed.session.conversation.seed == first.session.conversation.seed
        assert "Marjorie  (" in log_text(app) and "Margaret  (" not in log_text(app)  # who speaks each line
        assert not replayed.query_one("#watch-problems").display
        assert replayed.query_one("#reply").value == "a draft I have not sent"

        # 3. an edit that ends the conversation sooner: replayed as far as it goes, and said so
        edit(path, "when: red_flag or mood < 15", "when: \"true\"")
        app.check_watched_files()
        await wait_until(pilot, lambda: app.screen is not replayed, what="the second replay")
        await pilot.pause()
        assert app.screen.session.finished
        assert "now ends after 1 of your 2 replies" in app.screen.query_one("#watch-problems").content.plain
    # an author's play-through is never stored
    from simulator.store import Store

    with Store(svc.db_url) as store:
        assert store.sessions() == []


async def test_a_file_broken_at_start_opens_and_starts_once_it_is_fixed(tmp_path):
    path = tmp_path / "draft.yaml"
    path.write_text(SOURCE.read_text().replace("to: insists", "to: nowhere", 1))
    app = make_app(services(tmp_path), scenario_id=str(path), trainee="sam", deterministic=True, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.scorer_state == "ready")
        await pilot.pause()
        assert not isinstance(app.screen, PlayScreen)  # nothing to play yet; the problems were shown
        edit(path, "to: nowhere", "to: insists")
        app.check_watched_files()
        await wait_until(pilot, lambda: isinstance(app.screen, PlayScreen), what="the fixed scenario to start")
        await pilot.pause()
        assert "Margaret  (" in log_text(app)


def test_watch_plays_on_screen_only(tmp_path):
    import io

    from simulator.cli import main
    from simulator.services import Services

    err = io.StringIO()
    code = main(["play", str(SOURCE), "--watch", "--replies", "-"], Services(stdout=io.StringIO(), stderr=err))
    assert code == 2 and "--watch plays on screen" in err.getvalue()
