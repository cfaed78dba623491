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
    """`Label ████░░░░ 0.62` on one line. The bar's length depends only on the meter's width, its
    `label_width` and `tail_width`, never on the label, the number or the note shown: meters of one width line
    up, and a bar does not jump when its note changes."""

    DEFAULT_CSS = """
    Meter { height: 1; width: 1fr; }
    """

    value: reactive[float | None] = reactive(None)
    note: reactive[str] = reactive("")

    TAIL_WIDTH = 6
    """Cells kept after the bar for the number (and a note when it fits): " 0.62", " 100", " 10/10"."""

    def __init__(
        self,
        label: str,
        *,
        value: float | None = None,
        maximum: float = 1.0,
        number: str = "{:.2f}",
        label_width: int = 9,
        tail_width: int | None = None,
        colour: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.maximum = maximum
        self.number = number
        self.label_width = label_width
        self.tail_width = tail_width if tail_width is not None else self.TAIL_WIDTH
        self.colour = colour
        self.set_reactive(Meter.value, value)

    def bar_width(self, width: int | None = None) -> int:
        """How many cells the bar takes in a meter `width` cells wide (its content width by default)."""
        width = max(1, self.content_size.width if width is None else width)
        return max(3, width - self.label_width - 1 - self.tail_width)

    def render(self) -> Text:
        label = self.label[: self.label_width].ljust(self.label_width)
        if self.value is None:
            number, fraction = "—", 0.0
        else:
            number, fraction = self.number.format(self.value), (self.value / self.maximum if self.maximum else 0.0)
        tail = f" {number}"
        if self.note and len(tail) + 1 + len(self.note) <= self.tail_width:
            tail += f" {self.note}"
        filled, empty = bar(fraction, self.bar_width())
        colour = self.colour or level_colour(fraction)
        return Text.assemble(
            (label, "bold"), " ", (filled, colour if self.value is not None else "dim"), (empty, "dim"),
            tail.ljust(self.tail_width),
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
        yield Meter("  last", classes="last")
        yield Meter("  avg", classes="avg")

    def show(self, last: float | None, average: float | None) -> None:
        self.query_one(".last", Meter).value = last
        self.query_one(".avg", Meter).value = average
