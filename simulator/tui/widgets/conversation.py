"""The conversation log: the brief, the customer's lines, the trainee's replies and feedback cards."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from simulator.tui.widgets.text import literal


class Bubble(Static):
    """One entry of the log. Its content is always a Text built from literal strings."""


class ConversationLog(VerticalScroll):
    """A scrolling log that stays at the bottom while new lines arrive (unless the trainee scrolled up)."""

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

    def add(self, content: Text, *classes: str) -> Bubble:
        """Append an entry; follow it to the bottom unless the trainee has scrolled up to read."""
        following = self.scroll_y >= self.max_scroll_y - 1
        bubble = Bubble(content, classes=" ".join(classes))
        self.mount(bubble)
        if following:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        return bubble

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
