"""The conversation log: the brief, the customer's lines, the trainee's replies and feedback cards."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from simulator.tui.widgets.text import literal


class Bubble(Static):
    """One entry of the log. Its content is always a Text built from literal strings."""


class ConversationLog(VerticalScroll):
    """A scrolling log that stays at the bottom while new lines arrive (unless the trainee scrolled up).

    While the trainee reads further up, new entries do not move the view: `unseen` turns True instead (the
    screen shows a cue), and goes back to False once they scroll to the bottom or call `jump_to_latest`.
    """

    DEFAULT_CSS = """
    ConversationLog { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    ConversationLog > Bubble { height: auto; margin: 1 0 0 0; padding: 0 1; }
    ConversationLog > .brief { border: round $primary-darken-1; padding: 0 1; color: $text-muted; }
    ConversationLog > .customer { border-left: thick $warning; background: $warning 10%; margin-right: 6; }
    ConversationLog > .trainee { border-right: thick $accent; background: $accent 12%; margin-left: 6; }
    ConversationLog > .trainee.-pending { color: $text-muted; }
    ConversationLog > .feedback { margin: 0 0 0 8; padding: 0 1; color: $text; }
    ConversationLog > .ending { border: heavy $secondary; text-style: bold; }
    """

    can_focus = True

    unseen: reactive[bool] = reactive(False)
    """Something was added below the part of the log the trainee is reading."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.following = True
        """At the bottom (or sent there): new entries scroll into view."""
        self._batch: list[Bubble] | None = None

    def on_mount(self) -> None:
        # Following is Textual's anchor: the layout that places a new entry also scrolls to it, in the same frame
        # (scrolling after the refresh instead costs a second full redraw of the log for every entry).
        self.anchor()

    @property
    def at_bottom(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 1

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.is_mounted and self.size.height:
            self.following = self.at_bottom
            if self.following:
                self.unseen = False
            self._anchor_to(self.following)

    def _anchor_to(self, following: bool) -> None:
        if following and self._anchor_released:
            self.anchor()
        elif not following and not self._anchor_released:
            self.release_anchor()  # the trainee reads further up: new entries must not move the view

    def add(self, content: Text, *classes: str) -> Bubble:
        """Append an entry; follow it to the bottom unless the trainee has scrolled up to read."""
        bubble = Bubble(content, classes=" ".join(classes))
        if self._batch is not None:
            self._batch.append(bubble)
            return bubble
        self.mount(bubble)
        self.grew()
        return bubble

    @contextmanager
    def batch(self) -> Iterator[list[Bubble]]:
        """Entries added in the block are mounted together at its end: one layout (and one redraw) for all."""
        outer, self._batch = self._batch, []
        try:
            yield self._batch
        finally:
            bubbles, self._batch = self._batch, outer
            if bubbles:
                if outer is not None:
                    outer.extend(bubbles)
                else:
                    self.mount_all(bubbles)
                    self.grew()

    def grew(self) -> None:
        """Something in the log was added or got longer: keep the bottom in view, or say there is more below."""
        if not self.following:
            self.unseen = True
        # following: the anchor keeps the bottom in view at the next layout

    def jump_to_latest(self) -> None:
        """Scroll to the newest entry and follow new ones again."""
        self.following = True
        self.unseen = False
        self.anchor()  # scrolls to the end now, and keeps it there

    def add_brief(self, title: str, body: Text) -> Bubble:
        text = Text.assemble(literal(title, "bold"), "\n", body)
        return self.add(text, "brief")

    def add_customer(self, name: str, mood: str, line: str) -> Bubble:
        text = Text.assemble(literal(name, "bold", one_line=True), (f"  ({mood})", "italic dim"), "\n", literal(line))
        return self.add(text, "customer")

    def add_trainee(self, who: str, reply: Text, note: str = "") -> Bubble:
        bubble = self.add(self.trainee_text(who, reply, note), "trainee")
        if note:
            bubble.add_class("-pending")
        return bubble

    @staticmethod
    def trainee_text(who: str, reply: Text, note: str = "") -> Text:
        head = Text.assemble(literal(who, "bold", one_line=True))
        if note:
            head.append(f"  {note}", "italic")
        return Text.assemble(head, "\n", reply)
