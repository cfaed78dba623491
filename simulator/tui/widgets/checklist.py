"""The scenario's goals as a checklist that ticks as goals are met."""

from __future__ import annotations

from typing import Mapping, Sequence

from rich.text import Text
from textual.widgets import Static

from simulator.tui.widgets.text import literal


class GoalChecklist(Static):
    DEFAULT_CSS = """
    GoalChecklist { height: auto; width: 1fr; }
    """

    def show(self, goals: Sequence[tuple[str, str]], met: Mapping[str, bool], *, hidden: bool = False) -> None:
        """`goals` as (id, description) pairs; `hidden` (test mode) shows none ticked."""
        text = Text()
        for i, (goal_id, description) in enumerate(goals):
            if i:
                text.append("\n")
            done = met.get(goal_id, False) and not hidden
            text.append("✔ " if done else "○ ", "bold green" if done else "dim")
            text.append_text(literal(description, "" if not done else "green", one_line=True))
        if not goals:
            text.append("No goals in this scenario.", "dim")
        if hidden:
            text.append("\n(ticks revealed in the debrief)", "dim italic")
        self.update(text)
