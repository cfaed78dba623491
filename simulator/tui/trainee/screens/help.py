"""Help: the key bindings of every screen (`?` or F1)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Everywhere", [
        ("F1, ?", "this help (? only when not typing)"),
        ("Ctrl+P", "command palette: retry, pick a scenario, toggle the panel, reload the model…"),
        ("Ctrl+Q, Ctrl+C", "quit (asks first when a session is in progress)"),
        ("q", "quit, when not typing in a box"),
        ("Tab, Shift+Tab", "move between parts of the screen"),
    ]),
    ("Scenario picker", [
        ("type", "filter the scenarios"),
        ("↑ ↓", "choose a scenario"),
        ("Enter", "start the chosen scenario"),
        ("Ctrl+D", "cycle the difficulty: easy, medium, hard"),
        ("Ctrl+T", "switch between practice and test mode"),
    ]),
    ("Playing", [
        ("Enter", "send your reply"),
        ("PgUp, PgDn", "scroll the conversation (also with the mouse)"),
        ("Ctrl+B", "show or hide the side panel"),
        ("Esc", "back to the reply box"),
    ]),
    ("Debrief", [
        ("r", "retry the same scenario"),
        ("p", "pick another scenario"),
        ("q", "quit"),
    ]),
]


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for i, (section, rows) in enumerate(KEYS):
        if i:
            table.add_row("", "")
        table.add_row(Text(section, style="bold underline"), "")
        for key, what in rows:
            table.add_row(Text(key, style="bold cyan"), Text(what))
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%; border: thick $primary; background: $surface;
        padding: 1 2;
    }
    HelpScreen .title { text-style: bold; margin-bottom: 1; }
    HelpScreen .hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [Binding("escape,q,question_mark,f1,enter", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Frontline — keys", classes="title")
            yield Static(help_table())
            yield Static(
                "Reply to the customer in your own words. Each reply is scored on the rubric's criteria by a local "
                "model; in practice mode you see the scores and feedback after every reply, in test mode only in "
                "the debrief. Press Esc to close.",
                classes="hint",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)
