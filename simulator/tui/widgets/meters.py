"""Meters for the side panel: a labelled bar for a value between 0 and a maximum."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label

from simulator.tui.widgets.text import literal

_PARTIAL = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> tuple[str, str]:
    """The filled and empty parts of a bar `width` cells wide."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    filled = "█" * full + (_PARTIAL[rest] if rest and full < width else "")
    return filled, "░" * (width - len(filled))


def level_colour(fraction: float) -> str:
    if fraction < 0.4:
        return "red"
    if fraction < 0.7:
        return "yellow"
    return "green"


class Meter(Widget):
    """`Label ████░░░░ 0.62 note` on one line; the bar takes what width is left."""

    DEFAULT_CSS = """
    Meter { height: 1; width: 1fr; }
    """

    value: reactive[float | None] = reactive(None)
    note: reactive[str] = reactive("")

    def __init__(
        self,
        label: str,
        *,
        value: float | None = None,
        maximum: float = 1.0,
        number: str = "{:.2f}",
        label_width: int = 9,
        colour: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.maximum = maximum
        self.number = number
        self.label_width = label_width
        self.colour = colour
        self.set_reactive(Meter.value, value)

    def render(self) -> Text:
        width = max(1, self.content_size.width)
        label = self.label[: self.label_width].ljust(self.label_width)
        if self.value is None:
            number, fraction = "—", 0.0
        else:
            number, fraction = self.number.format(self.value), (self.value / self.maximum if self.maximum else 0.0)
        tail = f" {number}" + (f" {self.note}" if self.note else "")
        room = width - len(label) - 1 - len(tail)
        if room < 3 and self.note:  # drop the note before squeezing the bar
            tail = f" {number}"
            room = width - len(label) - 1 - len(tail)
        filled, empty = bar(fraction, max(3, room))
        colour = self.colour or level_colour(fraction)
        return Text.assemble(
            (label, "bold"), " ", (filled, colour if self.value is not None else "dim"), (empty, "dim"), tail,
            no_wrap=True, overflow="ellipsis",
        )


class CriterionMeter(Widget):
    """A rubric criterion: its name, then its score for the last reply and its session average."""

    DEFAULT_CSS = """
    CriterionMeter { height: auto; width: 1fr; margin-bottom: 1; }
    CriterionMeter > Label { width: 1fr; }
    """

    def __init__(self, name: str, colour: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.criterion_name = name
        self.colour = colour

    def compose(self) -> ComposeResult:
        yield Label(literal(self.criterion_name, f"bold {self.colour}", one_line=True))
        yield Meter(" last", label_width=5, classes="last")
        yield Meter(" avg", label_width=5, classes="avg")

    def show(self, last: float | None, average: float | None) -> None:
        self.query_one(".last", Meter).value = last
        self.query_one(".avg", Meter).value = average
