"""The trainer's review: a filterable list of sessions, each session's transcript with its scores and evidence,
overrides of any criterion's level on any turn (the model's level stays beside the trainer's), and a reviewed flag.

Every piece of stored text (replies, names, scenario text) is shown as rich `Text`, never parsed as markup, so
a reply like "[bold]hi[/bold]" shows exactly as typed, and goes through `clean` (`literal`), so an escape
sequence in it shows as inert stand-ins (␛…) instead of reaching the terminal.

    app = make_review_app(store, reviewer="kim", unreviewed=True)
    app.run()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button, Checkbox, DataTable, Footer, Header, Input, RadioButton, RadioSet, Select, Static,
)

from simulator.reports.exports import criteria_of, local_time, result_words, verdict
from simulator.store import Store, StoredSession, StoredTurn, StoreError
from simulator.terminal import clean
from simulator.tui.widgets.text import literal

# Evidence highlight per criterion (rubric order), readable on the dark and light themes alike.
EVIDENCE_STYLES = ("underline #5fafff", "underline #ff875f", "underline #5fd787", "underline #d787d7",
                   "underline #ffd75f")


@dataclass
class ReviewFilters:
    trainee: str | None = None
    scenario: str | None = None
    since: date | None = None
    until: date | None = None
    passed: bool | None = None
    """True: passed only; False: failed only; None: both (and unfinished)."""
    unreviewed: bool = False
    unfinished: bool = False


@dataclass(frozen=True)
class OverrideResult:
    level: int
    comment: str


def _style_for(criteria: list[str], criterion: str) -> str:
    return EVIDENCE_STYLES[criteria.index(criterion) % len(EVIDENCE_STYLES)] if criterion in criteria else ""


def reply_text(turn: StoredTurn, criteria: list[str]) -> Text:
    """The reply with each criterion's evidence phrases underlined in that criterion's colour."""
    from simulator.reports.exports import evidence_segments

    text = Text()
    for piece, owners in evidence_segments(turn.reply, turn.evidence):
        text.append(clean(piece), style=_style_for(criteria, owners[0]) if owners else "")
    return text


def turn_text(session: StoredSession, turn: StoredTurn, criteria: list[str]) -> Text:
    text = Text()
    text.append(f"Turn {turn.number}", style="bold")
    text.append(f" · {clean(turn.beat, one_line=True)} · overall {turn.overall:.2f} · mood {turn.mood_before:.0f} → {turn.mood_after:.0f}"
                f" · patience {turn.patience_after}\n", style="dim")
    text.append("Customer: ", style="bold")
    text.append(clean(turn.customer_line) + "\n")
    text.append(f"{clean(session.trainee, one_line=True)}: ", style="bold")
    text.append_text(reply_text(turn, criteria))
    text.append("\n")
    width = max((len(c) for c in criteria), default=8)
    for cid in criteria:
        if cid not in turn.levels:
            continue
        text.append(f"  {clean(cid, one_line=True):<{width}} ", style=_style_for(criteria, cid).replace("underline ", ""))
        text.append(f"{turn.scores[cid]:.2f}  level {turn.levels[cid]}")
        override = turn.overrides.get(cid)
        if override:
            text.append(f"  → trainer level {override.level}", style="bold yellow")
            text.append(f" ({clean(override.reviewer, one_line=True)}, {local_time(override.created_at)})", style="dim")
        evidence = turn.evidence.get(cid) or []
        if evidence:
            text.append(clean("  “" + "”, “".join(evidence) + "”", one_line=True), style="italic dim")
        text.append("\n")
        if override and override.comment:
            text.append(f"  {'':<{width}} “{clean(override.comment, one_line=True)}”\n", style="yellow")
    notes = []
    if turn.red_flags:
        notes.append("red flags: " + ", ".join(turn.red_flags))
    if turn.goals_met:
        notes.append("goals met: " + ", ".join(turn.goals_met))
    if notes:
        text.append(clean("  " + "; ".join(notes), one_line=True) + "\n", style="bold red" if turn.red_flags else "green")
    text.rstrip()
    return text


def session_info(session: StoredSession) -> Text:
    text = Text()
    text.append(f"Session {session.id}", style="bold")
    text.append(clean(f" · {session.trainee} · {session.scenario_title or session.scenario_id} ({session.scenario_id}) · "
                      f"{local_time(session.started_at)}", one_line=True) + "\n")
    status = verdict(session)
    text.append(status, style={"PASS": "bold green", "FAIL": "bold red"}.get(status, "bold"))
    if session.finished:
        words = result_words(session).split(", ", 1)[-1]
        text.append(clean(f" · {words} · ending {session.ending} ({session.ending_kind})", one_line=True))
    text.append(clean(f" · {session.mode} · {session.difficulty} · seed {session.seed} · model "
                      f"{session.model_version or 'unknown'}", one_line=True) + "\n")
    if session.reviewed:
        text.append(f"Reviewed by {clean(session.reviewed_by or '', one_line=True)} on {local_time(session.reviewed_at)}", style="green")
    else:
        text.append("Not reviewed yet", style="yellow")
    if session.comment:
        text.append("\nComment: ", style="bold")
        text.append(clean(f"{session.comment} ({session.comment_by}, {local_time(session.comment_at)})",
                          one_line=True), style="yellow")
    return text


# -- help and the session comment -----------------------------------------------------------------------------------


class HelpModal(ModalScreen[None]):
    """Every key binding of the screen it was opened from (its real bindings, not a copy)."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("question_mark", "close", show=False),
                Binding("f1", "close", show=False), Binding("q", "close", show=False)]

    def __init__(self, title: str, bindings: list[tuple[str, str]]):
        super().__init__()
        self.title_text = title
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"{self.title_text}: keys\n\n", style="bold")
        width = max((len(k) for k, _ in self.bindings), default=4)
        for key, description in self.bindings:
            text.append(f"  {key:<{width}}  ", style="bold")
            text.append(description + "\n")
        text.append("\nesc: close", style="dim")
        with VerticalScroll(id="help-box"):
            yield Static(text, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)


def binding_rows(screen: Screen, app: App) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for source in (screen, app):
        for b in getattr(source, "BINDINGS", []):
            if not isinstance(b, Binding) or not b.description or b.key in seen:
                continue
            seen.add(b.key)
            keys = ", ".join(app.get_key_display(Binding(k.strip(), "")) if hasattr(app, "get_key_display")
                             else k.strip() for k in b.key.split(","))
            rows.append((keys, b.description))
    return rows


class CommentModal(ModalScreen[str | None]):
    """The trainer's comment on the whole session (empty clears it)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-box"):
            yield Static(Text("Comment on the whole session (enter: save, empty: clear, esc: cancel)"))
            yield Input(self.current, placeholder="what should the trainee take from this session?",
                        id="session-comment")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- the override dialog ------------------------------------------------------------------------------------------


class OverrideModal(ModalScreen[OverrideResult | None]):
    """Pick the trainer's level for one criterion of one turn, with a comment."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        *[Binding(str(n), f"pick({n})", show=False) for n in range(10)],
    ]

    def __init__(self, turn: StoredTurn, criterion: str, levels: list[tuple[int, str]]):
        super().__init__()
        self.turn = turn
        self.criterion = criterion
        self.levels = levels

    def compose(self) -> ComposeResult:
        turn, cid = self.turn, self.criterion
        current = turn.level(cid)
        head = Text()
        head.append(f"Override {clean(cid, one_line=True)} on turn {turn.number}\n", style="bold")
        head.append("Customer: ", style="dim")
        head.append(clean(turn.customer_line) + "\n")
        head.append("Reply: ", style="dim")
        head.append(clean(turn.reply) + "\n")
        head.append(f"Model: level {turn.levels[cid]} (score {turn.scores[cid]:.2f})", style="dim")
        override = turn.overrides.get(cid)
        if override:
            head.append(f"; trainer {clean(override.reviewer, one_line=True)}: level {override.level}", style="dim")
        with Vertical(id="override-box"):
            yield Static(head, id="override-head")
            with RadioSet(id="override-levels"):
                for level, description in self.levels:
                    label = literal(f"{level}" + (f" — {description}" if description else ""))
                    yield RadioButton(label, value=(level == current))
            yield Input(placeholder="comment: why this level?", id="override-comment")
            yield Static(Text("0–9: pick a level · tab: next field · enter or ctrl+s: save · esc: cancel"),
                         id="override-hint")
            with Horizontal(id="override-buttons"):
                yield Button("Cancel", id="override-cancel")
                yield Button("Save", variant="primary", id="override-save")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def action_pick(self, level: int) -> None:
        buttons = list(self.query(RadioButton))
        for (value, _), button in zip(self.levels, buttons):
            if value == level:
                button.value = True

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        index = self.query_one(RadioSet).pressed_index
        if index < 0:
            self.notify("Pick a level first", severity="warning")
            return
        comment = self.query_one("#override-comment", Input).value.strip()
        self.dismiss(OverrideResult(level=self.levels[index][0], comment=comment))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "override-save":
            self.action_save()
        else:
            self.action_cancel()


# -- one session ----------------------------------------------------------------------------------------------------


class SessionScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("o", "override", "Override level"),
        Binding("u", "undo", "Undo override"),
        Binding("c", "comment", "Comment"),
        Binding("m", "toggle_reviewed", "Mark reviewed"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, session_id: int):
        super().__init__()
        self.session_id = session_id
        self.session: StoredSession | None = None
        self.criteria: list[str] = []

    @property
    def review_app(self) -> ReviewApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="session-info")
        yield VerticalScroll(id="transcript")
        yield DataTable(id="criteria", cursor_type="row", zebra_stripes=True)
        yield Static(id="session-status")
        yield Footer()

    async def on_mount(self) -> None:
        try:
            self.session = self.review_app.store.session(self.session_id)
        except StoreError as exc:
            self.app.notify(clean(str(exc)), severity="error", markup=False)
            self.app.pop_screen()
            return
        self.criteria = criteria_of([self.session])
        table = self.query_one("#criteria", DataTable)
        for label in ("turn", "criterion", "score", "model", "trainer", "by", "when", "comment"):
            table.add_column(label, key=label)
        transcript = self.query_one("#transcript", VerticalScroll)
        widgets = [Static(classes="turn", id=f"turn-{t.number}") for t in self.session.turns]
        if self.session.turns:
            widgets.append(Static(classes="closing", id="closing"))
        elif self.session.opening:
            widgets.append(Static(literal("Customer: " + self.session.opening), classes="closing"))
        await transcript.mount_all(widgets)
        self.render_session()
        table.focus()

    def render_session(self, *, keep: str | None = None) -> None:
        session = self.session
        assert session is not None
        self.query_one("#session-info", Static).update(session_info(session))
        for turn in session.turns:
            self.query_one(f"#turn-{turn.number}", Static).update(turn_text(session, turn, self.criteria))
        if session.turns:
            closing = Text()
            closing.append("Customer: ", style="bold")
            closing.append(clean(session.turns[-1].customer_reaction))
            if session.turns[-1].ending:
                closing.append(clean(f"   [{session.ending or session.turns[-1].ending}]", one_line=True), style="dim")
            self.query_one("#closing", Static).update(closing)
        table = self.query_one("#criteria", DataTable)
        table.clear()
        for turn in session.turns:
            for cid in self.criteria:
                if cid not in turn.levels:
                    continue
                o = turn.overrides.get(cid)
                table.add_row(
                    str(turn.number), literal(cid, one_line=True), f"{turn.scores[cid]:.2f}", str(turn.levels[cid]),
                    str(o.level) if o else "", literal(o.reviewer if o else "", one_line=True),
                    local_time(o.created_at) if o else "", literal(o.comment if o else "", one_line=True),
                    key=f"{turn.id}|{cid}",
                )
        if keep is not None:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:
                pass
        overrides = sum(len(t.overrides) for t in session.turns)
        self.query_one("#session-status", Static).update(Text(
            f"{len(session.turns)} turn(s), {overrides} override(s) · o override · u undo · c comment · ? help"
        ))

    def _selected(self) -> tuple[StoredTurn, str] | None:
        table = self.query_one("#criteria", DataTable)
        if not table.row_count or self.session is None:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        turn_id, cid = str(key).split("|", 1)
        turn = next(t for t in self.session.turns if t.id == int(turn_id))
        return turn, cid

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        for widget in self.query(".turn"):
            widget.set_class(widget.id == f"turn-{chosen[0].number}", "current")
        target = self.query_one(f"#turn-{chosen[0].number}", Static)
        self.query_one("#transcript", VerticalScroll).scroll_to_widget(target, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_override()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_override(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        turn, cid = chosen
        levels = self.review_app.levels_for(self.session, cid, turn)  # type: ignore[arg-type]
        key = f"{turn.id}|{cid}"

        def saved(result: OverrideResult | None) -> None:
            if result is None:
                return
            try:
                self.review_app.store.override(turn.id, cid, result.level, result.comment, self.review_app.reviewer,
                                               rubric=self.review_app.rubric(self.session.rubric_id))
                self.session = self.review_app.store.session(self.session_id)
            except StoreError as exc:
                self.notify(clean(str(exc)), severity="error", markup=False)
                return
            self.render_session(keep=key)
            self.notify(f"{clean(cid, one_line=True)} on turn {turn.number}: level {result.level} (model {turn.levels[cid]})")

        self.app.push_screen(OverrideModal(turn, cid, levels), saved)

    def action_undo(self) -> None:
        chosen = self._selected()
        if chosen is None or self.session is None:
            return
        turn, cid = chosen
        if cid not in turn.overrides:
            self.notify(f"{clean(cid, one_line=True)} on turn {turn.number} has no override to undo", severity="warning")
            return
        try:
            undo = self.review_app.store.undo_override(turn.id, cid, self.review_app.reviewer,
                                                       rubric=self.review_app.rubric(self.session.rubric_id))
            self.session = self.review_app.store.session(self.session_id)
        except StoreError as exc:
            self.notify(clean(str(exc)), severity="error", markup=False)
            return
        self.render_session(keep=f"{turn.id}|{cid}")
        self.notify(f"Undone: {clean(cid, one_line=True)} on turn {turn.number} is level {undo.level} again")

    def action_comment(self) -> None:
        if self.session is None:
            return

        def saved(text: str | None) -> None:
            if text is None:
                return
            try:
                self.review_app.store.comment(self.session_id, text, self.review_app.reviewer)
                self.session = self.review_app.store.session(self.session_id)
            except StoreError as exc:
                self.notify(clean(str(exc)), severity="error", markup=False)
                return
            self.render_session()
            self.notify("Comment saved" if text else "Comment cleared")

        self.app.push_screen(CommentModal(self.session.comment), saved)

    def action_toggle_reviewed(self) -> None:
        assert self.session is not None
        table = self.query_one("#criteria", DataTable)
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            self.review_app.store.mark_reviewed(self.session_id, self.review_app.reviewer,
                                                reviewed=not self.session.reviewed)
            self.session = self.review_app.store.session(self.session_id)
        except StoreError as exc:
            self.notify(clean(str(exc)), severity="error", markup=False)
            return
        self.render_session(keep=keep)
        self.notify("Marked reviewed" if self.session.reviewed else "Marked not reviewed")


# -- the list of sessions -------------------------------------------------------------------------------------------


class SessionListScreen(Screen):
    BINDINGS = [
        Binding("f5", "refresh", "Refresh"),
        Binding("ctrl+f", "focus_filters", "Filters"),
        Binding("s", "sort", "Sort"),
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    COLUMNS = ("id", "date", "trainee", "scenario", "diff.", "all", "result", "rev.")
    SORTS = ("date", "trainee", "scenario", "overall")

    def __init__(self) -> None:
        super().__init__()
        self.sort_index = 0
        self.criteria: list[str] = []

    @property
    def review_app(self) -> ReviewApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        f = self.review_app.filters
        yield Header()
        with Horizontal(id="filters"):
            yield Input(f.trainee or "", placeholder="trainee", id="f-trainee")
            yield Input(f.scenario or "", placeholder="scenario", id="f-scenario")
            yield Input(f.since.isoformat() if f.since else "", placeholder="since (date)", id="f-since",
                        classes="date")
            yield Input(f.until.isoformat() if f.until else "", placeholder="until (date)", id="f-until",
                        classes="date")
            initial: Any = "passed" if f.passed else "failed" if f.passed is False else Select.NULL
            yield Select([("passed", "passed"), ("failed", "failed")], prompt="pass/fail", value=initial,
                         id="f-result")
            yield Checkbox("not reviewed", value=f.unreviewed, id="f-unreviewed")
            yield Checkbox("unfinished", value=f.unfinished, id="f-unfinished")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="list-status")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()
        self.query_one("#sessions", DataTable).focus()

    @property
    def sort_keys(self) -> list[str]:
        return list(self.SORTS) + self.criteria

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(self.sort_keys)
        self.action_refresh()
        self.notify(f"Sorted by {clean(self.sort_keys[self.sort_index], one_line=True)}")

    def _sorted(self, sessions: list[StoredSession]) -> list[StoredSession]:
        key = self.sort_keys[self.sort_index % len(self.sort_keys)]
        if key == "date":
            return sessions
        if key in ("trainee", "scenario"):
            return sorted(sessions, key=lambda s: (s.trainee if key == "trainee" else s.scenario_id).lower())
        if key == "overall":
            return sorted(sessions, key=lambda s: (s.final_overall is None, s.final_overall or 0.0))
        return sorted(sessions, key=lambda s: (key not in s.criterion_averages(), s.criterion_averages().get(key, 0)))

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def _read_filters(self) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name in ("trainee", "scenario"):
            text = self.query_one(f"#f-{name}", Input).value.strip()
            values[name] = text or None
        for name in ("since", "until"):
            text = self.query_one(f"#f-{name}", Input).value.strip()
            values[name] = None
            if text:
                try:
                    values[name] = date.fromisoformat(text)
                except ValueError:
                    problems.append(f"{name}: expected a date like 2026-03-01")
        result = self.query_one("#f-result", Select).value
        values["passed"] = True if result == "passed" else False if result == "failed" else None
        values["reviewed"] = False if self.query_one("#f-unreviewed", Checkbox).value else None
        values["finished"] = False if self.query_one("#f-unfinished", Checkbox).value else None
        return values, problems

    def action_refresh(self) -> None:
        table = self.query_one("#sessions", DataTable)
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        filters, problems = self._read_filters()
        damaged: list[StoreError] = []
        try:
            sessions = self.review_app.store.sessions(**filters, damaged=damaged)  # type: ignore[arg-type]
        except StoreError as exc:
            self.query_one("#list-status", Static).update(literal(str(exc), style="red"))
            return
        criteria = criteria_of(sessions)
        if criteria != self.criteria or not table.columns:
            self.criteria = criteria
            table.clear(columns=True)
            for label in self.COLUMNS[:5]:
                table.add_column(label, key=label)
            for cid in criteria:  # short headings so every column fits at 80 columns
                table.add_column(clean(cid, one_line=True)[:3] + ".", key=f"c:{cid}")
            for label in self.COLUMNS[5:]:
                table.add_column(label, key=label)
        table.clear()
        sessions = self._sorted(sessions)
        for s in sessions:
            # "open" for a session still being played: short, so the columns fit at 80
            status = (verdict(s) if s.finished else "open") + ("*" if s.overridden else "")
            averages = s.criterion_averages()
            table.add_row(
                # month-day only and short names, so every column fits at 80 columns (the session shows them whole)
                str(s.id), local_time(s.started_at)[5:10], literal(s.trainee[:8], one_line=True),
                literal(s.scenario_id[:11], one_line=True), s.difficulty[:3],
                *[f"{averages[c]:.2f}" if c in averages else "" for c in criteria],
                "" if s.final_overall is None else f"{s.final_overall:.2f}",
                Text(status, style={"PASS": "green", "FAIL": "red"}.get(status.rstrip("*"), "dim")),
                literal("✓ " + (s.reviewed_by or "")[:4], "green", one_line=True) if s.reviewed else Text("-", style="dim"),
                key=str(s.id),
            )
        if keep is not None:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:
                pass
        sort = clean(self.sort_keys[self.sort_index % len(self.sort_keys)], one_line=True)
        status = Text(f"{len(sessions)} session(s) · sorted by {sort} · enter open · s sort · ? help")
        if any(s.overridden for s in sessions):
            status.append(" · * trainer's levels")
        for problem in problems:
            status.append(f" · {problem}", style="red")
        for error in damaged:  # left out of the list: say which and why
            status.append(" · " + clean(str(error), one_line=True), style="red")
        self.query_one("#list-status", Static).update(status)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.action_refresh()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.action_refresh()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.action_refresh()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#sessions", DataTable).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#f-trainee", Input).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "sessions" and event.row_key.value is not None:
            self.app.push_screen(SessionScreen(int(event.row_key.value)))


# -- the app --------------------------------------------------------------------------------------------------------


class ReviewApp(App[None]):
    CSS_PATH = "review.tcss"
    TITLE = "Frontline · trainer review"

    def __init__(self, store: Store, *, reviewer: str, filters: ReviewFilters | None = None, library=None,
                 open_session: int | None = None):
        super().__init__()
        self.store = store
        self.reviewer = reviewer
        self.filters = filters or ReviewFilters()
        self.library = library
        self.open_session = open_session
        self._rubrics: dict[str, Any] = {}
        self.sub_title = f"reviewer: {reviewer}"

    def get_default_screen(self) -> Screen:
        return SessionListScreen()

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpModal):
            return
        title = "Session" if isinstance(screen, SessionScreen) else "Sessions"
        self.push_screen(HelpModal(title, binding_rows(screen, self)))

    def on_mount(self) -> None:
        if self.open_session is not None:
            self.push_screen(SessionScreen(self.open_session))

    def rubric(self, rubric_id: str):
        """The rubric a session was scored with, for level descriptions; None when it cannot be loaded."""
        if rubric_id not in self._rubrics:
            from simulator.content.library import ContentError, Library

            try:
                self._rubrics[rubric_id] = (self.library or Library()).rubric(rubric_id)
            except (ContentError, OSError):
                self._rubrics[rubric_id] = None
        return self._rubrics[rubric_id]

    def levels_for(self, session: StoredSession, criterion: str, turn: StoredTurn) -> list[tuple[int, str]]:
        rubric = self.rubric(session.rubric_id)
        if rubric is not None and criterion in rubric.criterion_ids:
            return [(lv.level, lv.description) for lv in rubric.criterion(criterion).levels]
        top = max(2, turn.levels[criterion], turn.level(criterion))
        return [(n, "") for n in range(top + 1)]


def make_review_app(
    store: Store,
    *,
    reviewer: str,
    trainee: str | None = None,
    scenario: str | None = None,
    since: date | None = None,
    until: date | None = None,
    passed: bool | None = None,
    unreviewed: bool = False,
    unfinished: bool = False,
    library=None,
    open_session: int | None = None,
) -> ReviewApp:
    """The review app over `store`, its list filtered as given; `open_session` opens that session first."""
    filters = ReviewFilters(trainee=trainee, scenario=scenario, since=since, until=until, passed=passed,
                            unreviewed=unreviewed, unfinished=unfinished)
    return ReviewApp(store, reviewer=reviewer, filters=filters, library=library, open_session=open_session)
