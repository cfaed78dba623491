"""The trainer's review app: Pilot tests of filtering, overriding and marking reviewed, and screenshots."""

from __future__ import annotations

import io
from datetime import date

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services
from simulator.store import Store
from simulator.tui.review.app import OverrideModal, ReviewApp, SessionListScreen, SessionScreen, make_review_app
from helpers.store import COLD, WARM, Clock, play, tire, utc  # noqa: F401 (fixtures)

SIZE = (120, 36)
MARKUP_REPLY = "[bold]Sorry[/bold] about <that> #e=0.9 o=0.4 s=0.7"


@pytest.fixture
def store(tmp_path, tire):
    clock = Clock()
    s = Store(f"sqlite:///{tmp_path}/review.db", now=clock)
    play(s, tire, WARM, trainee="ann")           # 1: passed
    clock.jump(days=2)
    play(s, tire, COLD, trainee="bob")           # 2: failed
    clock.jump(days=2)
    play(s, tire, [MARKUP_REPLY, WARM[1]], trainee="[red]eve", finish=False)  # 3: unfinished, markup in names
    yield s
    s.close()


def _rows(app: ReviewApp) -> list[str]:
    table = app.screen.query_one("#sessions", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_the_list_filters_by_trainee_result_and_review(store):
    app = make_review_app(store, reviewer="kim")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SessionListScreen)
        assert _rows(app) == ["3", "2", "1"]
        app.screen.query_one("#f-trainee", Input).value = "bob"
        await pilot.pause()
        assert _rows(app) == ["2"]
        app.screen.query_one("#f-trainee", Input).value = ""
        app.screen.query_one("#f-result", Select).value = "passed"
        await pilot.pause()
        assert _rows(app) == ["1"]
        app.screen.query_one("#f-result", Select).value = Select.NULL
        app.screen.query_one("#f-since", Input).value = "2026-03-04"
        await pilot.pause()
        assert _rows(app) == ["3", "2"]
        app.screen.query_one("#f-until", Input).value = "not a date"
        await pilot.pause()
        assert "until: expected a date" in str(app.screen.query_one("#list-status").content)
        assert _rows(app) == ["3", "2"]
        app.screen.query_one("#f-until", Input).value = ""
        app.screen.query_one("#f-since", Input).value = ""
        store.mark_reviewed(2, "kim")
        app.screen.query_one("#f-unreviewed", Checkbox).value = True
        await pilot.pause()
        assert _rows(app) == ["3", "1"]


async def test_filters_given_on_the_command_line_apply_from_the_start(store):
    app = make_review_app(store, reviewer="kim", passed=False, since=date(2026, 3, 1), until=date(2026, 3, 31))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert _rows(app) == ["2"]
        assert app.screen.query_one("#f-since", Input).value == "2026-03-01"


async def test_override_a_level_with_a_comment_keeps_the_model_level(store):
    app = make_review_app(store, reviewer="kim")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # session 1 (ann)
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen) and app.screen.session_id == 1
        await pilot.press("down", "o")  # turn 1, ownership
        await pilot.pause()
        assert isinstance(app.screen, OverrideModal)
        await pilot.press("1", "tab", *"vague", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
        table = app.screen.query_one("#criteria", DataTable)
        row = [str(c) for c in table.get_row_at(table.cursor_row)]
        assert row[:2] == ["1", "ownership"] and row[4:6] == ["1", "kim"] and row[-1] == "vague"

    turn = store.session(1).turns[0]
    override = turn.overrides["ownership"]
    assert (override.level, override.model_level, override.reviewer) == (1, turn.levels["ownership"], "kim")
    assert override.comment == "vague" and turn.levels["ownership"] == 2


async def test_cancelling_the_dialog_changes_nothing(store):
    app = make_review_app(store, reviewer="kim", open_session=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OverrideModal)
        await pilot.press("0", "escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
    assert store.session(1).override_count == 0


async def test_mark_reviewed_and_back_to_the_list(store):
    app = make_review_app(store, reviewer="kim", open_session=2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        s = store.session(2)
        assert s.reviewed and s.reviewed_by == "kim"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionListScreen)
        table = app.screen.query_one("#sessions", DataTable)
        reviewed = str(table.get_row_at(table.get_row_index("2"))[-1])
        assert reviewed == "✓ kim"
        app.screen.query_one("#f-unreviewed", Checkbox).value = True
        await pilot.pause()
        assert "2" not in _rows(app)
    app = make_review_app(store, reviewer="kim", open_session=2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("m")  # pressed again: not reviewed after all
        await pilot.pause()
    assert not store.session(2).reviewed


async def test_stored_text_is_shown_literally_never_as_markup(store):
    app = make_review_app(store, reviewer="kim")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "[red]eve" in app.export_screenshot()
        await pilot.press("enter")  # session 3
        await pilot.pause()
        svg = app.export_screenshot()
        assert "[bold]Sorry[/bold]" in svg and "&lt;that&gt;" in svg


async def test_an_unknown_session_is_reported_not_crashed_on(store):
    app = make_review_app(store, reviewer="kim", open_session=999)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SessionListScreen)
        assert any("no session with id 999" in str(n.message) for n in app._notifications)


def test_review_command_passes_its_filters(monkeypatch, _isolated_data_dir, tire):
    with Store(now=Clock()) as s:
        play(s, tire, WARM, trainee="ann")
    seen = {}

    def fake_run(self, *args, **kwargs):
        seen.update(filters=self.filters, reviewer=self.reviewer, sessions=len(self.store.sessions()))

    monkeypatch.setattr(ReviewApp, "run", fake_run)
    out, err = io.StringIO(), io.StringIO()
    code = main(["review", "--trainee", "ann", "--failed", "--unreviewed", "--since", "2026-03-01",
                 "--reviewer", "kim"], Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
    assert code == 0, err.getvalue()
    f = seen["filters"]
    assert (f.trainee, f.passed, f.unreviewed, f.since, seen["reviewer"], seen["sessions"]) == (
        "ann", False, True, date(2026, 3, 1), "kim", 1)
    with pytest.raises(SystemExit):
        main(["review", "--since", "March"], Services(stdout=out, stderr=err))


# -- screenshots -------------------------------------------------------------------------------------------------


def test_snapshot_session_list(store, snap_compare):
    store.mark_reviewed(1, "kim")
    assert snap_compare(make_review_app(store, reviewer="kim"), terminal_size=SIZE)


def test_snapshot_session_with_an_override(store, snap_compare):
    turn = store.session(3).turns[0]
    store.override(turn.id, "ownership", 2, "she [i]did[/i] offer to help", "kim")
    assert snap_compare(make_review_app(store, reviewer="kim", open_session=3), terminal_size=SIZE,
                        press=["down"])


def test_snapshot_override_dialog(store, snap_compare):
    assert snap_compare(make_review_app(store, reviewer="kim", open_session=1), terminal_size=SIZE,
                        press=["down", "o", "2"])


SMALL = (80, 24)


async def test_undo_comment_sort_unfinished_and_help(store):
    app = make_review_app(store, reviewer="kim")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        app.screen.query_one("#f-unfinished", Checkbox).value = True
        await pilot.pause()
        assert _rows(app) == ["3"]
        app.screen.query_one("#f-unfinished", Checkbox).value = False
        await pilot.pause()
        table = app.screen.query_one("#sessions", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[4] == "diff." and {"emp.", "own.", "scr."} <= set(labels)
        await pilot.press("s")  # by trainee
        await pilot.pause()
        assert _rows(app) == ["3", "1", "2"]  # "[red]eve" sorts before ann (the "[" comes first)
        assert "sorted by trainee" in str(app.screen.query_one("#list-status").content)
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.query_one("#help-text").content)
        assert "Sort" in help_text and "Refresh" in help_text and "Filters" in help_text
        await pilot.press("escape")
        app.screen.query_one("#f-trainee", Input).value = "ann"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("down", "o", "0", "ctrl+s")  # turn 1 ownership to level 0
        await pilot.pause()
        overridden = store.session(1)
        assert overridden.overridden and overridden.final_overall < overridden.overall  # the trainer's level counts
        assert "with the trainer's levels" in str(app.screen.query_one("#session-info").content)
        await pilot.press("u")
        await pilot.pause()
        assert not store.session(1).overridden and "ownership" not in store.session(1).turns[0].overrides
        assert [o.is_undo for o in store.session(1).turns[0].history] == [False, True]
        await pilot.press("c", *"Good recovery", "enter")
        await pilot.pause()
        assert store.session(1).comment == "Good recovery"
        assert "Good recovery" in str(app.screen.query_one("#session-info").content)
        await pilot.press("f1")
        await pilot.pause()
        help_text = str(app.screen.query_one("#help-text").content)
        assert "Undo override" in help_text and "Comment" in help_text and "Mark reviewed" in help_text


def test_snapshot_session_list_80x24(store, snap_compare):
    store.mark_reviewed(1, "kim")
    assert snap_compare(make_review_app(store, reviewer="kim"), terminal_size=SMALL)


def test_snapshot_session_80x24(store, snap_compare):
    turn = store.session(1).turns[0]
    store.override(turn.id, "ownership", 0, "no time given", "kim")
    assert snap_compare(make_review_app(store, reviewer="kim", open_session=1), terminal_size=SMALL,
                        press=["down"])


def test_snapshot_override_dialog_80x24(store, snap_compare):
    assert snap_compare(make_review_app(store, reviewer="kim", open_session=1), terminal_size=SMALL,
                        press=["down", "o"])
