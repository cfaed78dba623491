"""Driving the trainee app in tests: a Services with the fake scorer and a temporary database, and Pilot
helpers that wait for what a trainee would wait for."""

from __future__ import annotations

import time
from pathlib import Path

from textual.events import Paste
from textual.notifications import Notify
from textual.widgets import OptionList, Static

from helpers.fakes import FakeScorer
from simulator.services import Services
from simulator.tui.trainee.screens.debrief import DebriefScreen
from simulator.tui.trainee.screens.picker import PickerScreen
from simulator.tui.trainee.screens.play import PlayScreen
from simulator.tui.widgets.conversation import Bubble

SIZE = (100, 32)


def services(tmp_path: Path, scorer: FakeScorer | None = None, factory=None) -> Services:
    scorer = scorer or FakeScorer()
    return Services(scorer_factory=factory or (lambda: scorer), db_url=f"sqlite:///{tmp_path / 'tui.db'}")


class Recorder:
    """A message hook for run_test: keeps what the app posted."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message) -> None:
        self.messages.append(message)

    def of(self, kind) -> list:
        """Each message once (a bubbling message is seen by every node it reaches)."""
        found, seen = [], set()
        for m in self.messages:
            if isinstance(m, kind) and id(m) not in seen:
                seen.add(id(m))
                found.append(m)
        return found

    def notifications(self, severity: str | None = None) -> list[str]:
        return [m.notification.message for m in self.of(Notify)
                if severity is None or m.notification.severity == severity]


async def wait_until(pilot, predicate, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def screen_text(app) -> str:
    """What is on the terminal now, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def all_text(app) -> str:
    """The plain text of every Static on the screen, also what is scrolled out of view."""
    parts = []
    for widget in app.screen.query(Static):
        content = widget.content
        parts.append(content.plain if hasattr(content, "plain") else str(content))
    return "\n".join(parts)


def picker_entries(app) -> list[str]:
    return [option.prompt.plain for option in app.screen.query_one("#scenarios", OptionList).options]


def screen_segments(app) -> list[str]:
    return [segment.text for strip in app.screen._compositor.render_strips() for segment in strip]


async def ready(pilot) -> None:
    """The scorer is loaded (and, on the picker, the scenarios and best results are read)."""
    app = pilot.app
    await wait_until(pilot, lambda: app.scorer_state == "ready", what="the scorer to load")
    if isinstance(app.screen, PickerScreen):
        await wait_until(pilot, lambda: app.screen.entries_loaded and app.screen.best_loaded, what="the picker")
    await pilot.pause()


def log_text(app) -> str:
    """Everything in the conversation log (also what is scrolled out of view), as plain text."""
    return "\n".join(b.content.plain for b in app.screen.query(Bubble))


async def enter_text(pilot, text: str, *, typed: bool = False) -> None:
    """Put `text` into the focused box: key by key when `typed`, else as one bracketed paste (as a terminal
    sends pasted text), which keeps the suite fast."""
    if typed:
        await pilot.press(*text)
    else:
        pilot.app.focused.post_message(Paste(text))
        await pilot.pause()


async def type_reply(pilot, text: str, *, typed: bool = False) -> None:
    """Enter `text` in the reply box and press Enter; wait until it is applied."""
    app = pilot.app
    screen = app.screen
    assert isinstance(screen, PlayScreen)
    before = len(screen.conversation.turns)
    await enter_text(pilot, text, typed=typed)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(screen.conversation.turns) > before, what=f"reply {text!r} to be applied")
    await pilot.pause()


async def open_debrief(pilot) -> DebriefScreen:
    screen = pilot.app.screen
    assert isinstance(screen, PlayScreen) and screen.finished
    await pilot.press("enter")  # the focused "See your debrief" button
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DebriefScreen), what="the debrief")
    await pilot.pause()
    return pilot.app.screen


# -- playing to every ending ---------------------------------------------------------------------------------------

