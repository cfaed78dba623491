"""The scoring model's state, shown while it loads ("Loading scoring model…") and hidden once ready."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from simulator.tui.widgets.text import literal

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ModelStatus(Static):
    """Watches the app's `scorer_state` ("loading", "ready" or "failed") and `scorer_error`."""

    DEFAULT_CSS = """
    ModelStatus { height: auto; width: 1fr; padding: 0 1; color: $warning; }
    ModelStatus.-failed { color: $error; }
    """

    def on_mount(self) -> None:
        self._frame = 0
        self._timer = None
        if not getattr(self.app, "quiet", True):
            self._timer = self.set_interval(0.1, self._spin)
        self.watch(self.app, "scorer_state", self._refresh_state)

    def _spin(self) -> None:
        self._frame += 1
        if self.app.scorer_state == "loading":
            self._refresh_state(self.app.scorer_state)

    def _refresh_state(self, state: str) -> None:
        self.set_class(state == "failed", "-failed")
        if state == "ready":
            self.display = False
            if self._timer is not None:
                self._timer.stop()
            return
        self.display = True
        if state == "failed":
            error = getattr(self.app, "scorer_error", "") or "unknown error"
            self.update(Text.assemble(("✖ Scoring model unavailable: ", "bold"), literal(error, one_line=True),
                                      ("  (command palette: Reload scoring model)", "dim")))
        else:
            spin = _SPINNER[self._frame % len(_SPINNER)] if self._timer is not None else "…"
            self.update(Text.assemble((f"{spin} ", "bold"), "Loading scoring model… ",
                                      ("replies are scored once it is ready", "dim")))
