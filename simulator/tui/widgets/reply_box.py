"""The reply box: a text area that wraps and grows with what is typed, where Enter sends.

Like `SafeInput`, it never holds control characters: whatever is typed or pasted has ESC, BEL, bidi overrides
and the like swapped for visible, inert stand-ins (␛, ␇, …) as it arrives. Line breaks are kept (Shift+Enter
or Ctrl+J starts a new line; Enter sends).
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from simulator.tui.widgets.text import clean


class ReplyBox(TextArea):
    DEFAULT_CSS = """
    ReplyBox { height: auto; min-height: 3; max-height: 8; }
    ReplyBox.-textual-compact { min-height: 1; }
    """

    BINDINGS = [
        Binding("enter", "submit", "Send", show=False, tooltip="send your reply"),
        Binding("shift+enter,ctrl+j", "newline", "New line", show=False,
                tooltip="start a new line in your reply (the box grows as you type)"),
    ]

    class Submitted(Message):
        """Enter was pressed in the box; `value` is what it holds."""

        def __init__(self, reply_box: "ReplyBox", value: str) -> None:
            super().__init__()
            self.reply_box = reply_box
            self.value = value

        @property
        def control(self) -> "ReplyBox":
            return self.reply_box

    def __init__(self, text: str = "", *, placeholder: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(clean(text), soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
                         highlight_cursor_line=False, placeholder=placeholder, id=id, classes=classes)

    # -- the text, as an Input's `value` -------------------------------------------------------------------------

    @property
    def value(self) -> str:
        return self.text

    @value.setter
    def value(self, value: str) -> None:
        self.load_text(clean(value))
        self.move_cursor(self.document.end)

    def edit(self, edit):  # every change typed or pasted passes here
        text = edit.text
        if text:
            edit.text = clean(text.replace("\r\n", "\n").replace("\r", "\n"))
        return super().edit(edit)

    async def _on_paste(self, event: events.Paste) -> None:
        event.stop()  # inserted here (by TextArea), once: not again by the app it would bubble up to

    # -- keys ----------------------------------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":  # TextArea would insert a line break: here Enter sends
            event.stop()
            event.prevent_default()
            self.action_submit()

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)
