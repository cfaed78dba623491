"""Help: the keys of every screen and the command palette's commands (`?` or F1).

Nothing here is written by hand: the rows come from the real bindings of the app, its screens and the reply box
(a binding's `tooltip` is its help text, else its description), and the commands from the app's own command
palette entries for the screen under the help. A key or command that is not there cannot be listed.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

_KEY_NAMES = {
    "question_mark": "?", "pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc", "enter": "Enter", "end": "End",
    "home": "Home", "up": "↑", "down": "↓", "left": "←", "right": "→", "tab": "Tab", "space": "Space",
}


def key_label(keys: str) -> str:
    """"ctrl+b" → "Ctrl+B", "pageup" → "PgUp", "shift+enter,ctrl+j" → "Shift+Enter, Ctrl+J"."""
    labels = []
    for key in keys.split(","):
        *modifiers, name = key.strip().split("+")
        shown = _KEY_NAMES.get(name)
        if shown is None:
            shown = name.upper() if (len(name) == 1 and modifiers) or (name[:1] == "f" and name[1:].isdigit()) \
                else name.capitalize() if len(name) > 1 else name
        labels.append("+".join([*(m.capitalize() for m in modifiers), shown]))
    return ", ".join(labels)


def binding_rows(bindings: Iterable[Any]) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding with something to say; keys with the same action are merged."""
    rows: dict[str, list[str]] = {}
    for binding in bindings:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        what = binding.tooltip or binding.description
        if not what:
            continue
        rows.setdefault(what, []).append(binding.key_display or key_label(binding.key))
    return [(", ".join(keys), what) for what, keys in rows.items()]


def help_sections(app: Any, under: Screen | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    from simulator.tui.trainee.screens.debrief import DebriefScreen
    from simulator.tui.trainee.screens.picker import PickerScreen
    from simulator.tui.trainee.screens.play import PlayScreen
    from simulator.tui.widgets.reply_box import ReplyBox

    everywhere = binding_rows(type(app).BINDINGS)
    everywhere.append((key_label(app.COMMAND_PALETTE_BINDING), "command palette (its commands are listed below)"))
    everywhere.append(("Tab, Shift+Tab", "move between parts of the screen"))
    screens = [
        (PickerScreen, "Scenario picker", binding_rows(PickerScreen.BINDINGS)),
        (PlayScreen, "Playing", binding_rows([*ReplyBox.BINDINGS, *PlayScreen.BINDINGS])),
        (DebriefScreen, "Debrief", binding_rows(DebriefScreen.BINDINGS)),
    ]
    # The keys of the screen the help was opened on come first.
    screens.sort(key=lambda entry: not isinstance(under, entry[0]))
    return [(title, rows) for _, title, rows in screens[:1]] + [("Everywhere", everywhere)] + \
        [(title, rows) for _, title, rows in screens[1:]]


def command_rows(app: Any, under: Screen | None) -> list[tuple[str, str]]:
    """The command palette's commands on the screen `under` the help, as (title, what it does)."""
    if under is None:
        return []
    return [(c.title, c.help) for c in app.get_system_commands(under)]


def help_table(sections: list[tuple[str, list[tuple[str, str]]]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for i, (section, rows) in enumerate(sections):
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
        width: 84; max-width: 95%; height: auto; max-height: 90%; border: thick $primary; background: $surface;
        padding: 1 2;
    }
    HelpScreen .title { text-style: bold; margin-bottom: 1; }
    HelpScreen .hint { color: $text-muted; margin-top: 1; }
    HelpScreen .commands { margin-top: 1; }
    """

    BINDINGS = [Binding("escape,q,question_mark,f1,enter", "close", "Close")]

    def __init__(self, under: Screen | None = None) -> None:
        super().__init__()
        self.under = under
        """The screen the help was opened over: its command palette entries are listed."""

    def compose(self) -> ComposeResult:
        self.sections = help_sections(self.app, self.under)
        self.commands = command_rows(self.app, self.under)
        with VerticalScroll():
            yield Static("Frontline — keys", classes="title")
            yield Static(help_table(self.sections))
            if self.commands:
                yield Static(help_table([("Commands (Ctrl+P, then type a few letters)", self.commands)]),
                             classes="commands")
            yield Static(
                "Reply to the customer in your own words. Each reply is scored on the rubric's criteria by a local "
                "model; in practice mode you see the scores and feedback after every reply, in test mode only in "
                "the debrief. Press Esc to close.",
                classes="hint",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)
