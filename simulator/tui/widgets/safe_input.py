"""An Input that never holds control characters, so a pasted escape sequence cannot reach the terminal."""

from __future__ import annotations

from textual.widgets import Input

from simulator.tui.widgets.text import clean


class SafeInput(Input):
    """Like Input, but ESC, BEL, bidi overrides and other control characters become visible, inert stand-ins
    (␛, ␇, …) as they arrive, whether typed or pasted."""

    def validate_value(self, value: str) -> str:
        return clean(value, one_line=True)
