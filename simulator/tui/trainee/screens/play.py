"""Playing a scenario: the conversation, the reply box and a side panel of meters and goals.

A submitted reply is scored in a thread worker (`_score`) that only calls `scorer.score(request)` and posts
`ReplyScored` / `ScoringFailed` with the submission's turn id. Back on the UI thread the reply is applied to
the conversation, the turn is stored, and the widgets are updated. A reply sent before the scoring model is
loaded waits in `pending` and is scored as soon as the model is ready.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Click, Resize
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Label, Static

from simulator.engine import Conversation, Turn, mood_label
from simulator.session import PracticeSession
from simulator.tui.trainee.messages import ReplyScored, ScoringFailed, SessionFinished, TurnApplied
from simulator.tui.widgets.checklist import GoalChecklist
from simulator.tui.widgets.conversation import Bubble, ConversationLog
from simulator.tui.widgets.meters import CriterionMeter, Meter, level_colour
from simulator.tui.widgets.reply_box import ReplyBox
from simulator.tui.widgets.status import ModelStatus
from simulator.tui.widgets.text import clean, criterion_styles, emphasis, highlight_evidence, literal

YOU = "You"
WIDE = 100
"""From this width on the side panel shows by default; narrower, the conversation gets the room (Ctrl+B)."""
NEW_BELOW = "↓ New reply below — press End to jump to it"


@dataclass
class Pending:
    """A reply sent and not yet applied."""

    turn_id: int
    reply: str
    bubble: Bubble
    started: bool = False
    sent_at: float = 0.0


class PlayScreen(Screen):
    BINDINGS = [
        Binding("ctrl+b", "toggle_panel", "Panel", tooltip="show or hide the side panel (meters and goals)"),
        Binding("f2", "toggle_brief", "Brief", tooltip="show the whole brief, or fold it to one line"),
        Binding("pageup", "scroll_log(-1)", "Scroll", show=False, priority=True,
                tooltip="scroll the conversation up (also with the mouse)"),
        Binding("pagedown", "scroll_log(1)", "Scroll", show=False, priority=True,
                tooltip="scroll the conversation down"),
        Binding("end", "end", "Latest", show=False, priority=True,
                tooltip="jump to the newest reply (in the reply box: to the end of the line, once you are there)"),
        Binding("escape", "focus_reply", "Reply box", show=False, tooltip="back to the reply box"),
        Binding("question_mark", "app.help", "Help", show=False, tooltip="this help, when not typing"),
        Binding("q", "app.request_quit", "Quit", show=False, tooltip="quit, when not typing (asks first)"),
    ]

    def __init__(self, session: PracticeSession, *, setup: Any) -> None:
        super().__init__()
        self.session = session
        self.conversation: Conversation = session.conversation
        self.setup = setup
        self.mode = session.mode
        self.pending: Pending | None = None
        self._turn_ids = 0
        self.styles_by_criterion = criterion_styles(self.conversation.rubric.criterion_ids)
        self.last_latency: float | None = None
        """Seconds from sending the last reply to its feedback on screen."""
        self.panel_choice: bool | None = None
        """The trainee's Ctrl+B choice; None: the side panel shows when the screen is wide enough."""
        self.brief_choice: bool | None = None
        """The trainee's F2 choice; None: the whole brief until the first reply, then folded to a line."""
        self._brief: Bubble | None = None

    @property
    def test_mode(self) -> bool:
        return self.mode == "test"

    @property
    def finished(self) -> bool:
        return self.conversation.finished

    # -- layout -------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        c = self.conversation
        persona = c.scenario.persona
        yield Header()
        with Horizontal(id="play-body"):
            with Vertical(id="main"):
                yield Static(id="watch-problems")
                yield ConversationLog(id="log")
                yield Static(Text(NEW_BELOW, style="bold"), id="new-below")
                yield ModelStatus(id="model-status")
                yield Static(id="play-status")
                yield Static(id="mini-status")
                yield ReplyBox(placeholder=self._placeholder(), id="reply")
                yield Button("See your debrief  ⏎", id="to-debrief", variant="success")
            with VerticalScroll(id="side"):
                yield Static(id="turn-count")
                yield Static(literal(persona.name, "bold", one_line=True), id="customer-name", classes="side-heading")
                yield Meter("Mood", maximum=100, number="{:.0f}", id="mood")
                yield Meter("Patience", maximum=c.starting_patience, number="{:.0f}/" + str(c.starting_patience),
                            id="patience")
                yield Label("Your replies" + (" (test mode)" if self.test_mode else ""),
                            classes="side-heading")
                for criterion in c.rubric.criteria:
                    yield CriterionMeter(criterion.name, self.styles_by_criterion[criterion.id],
                                         id=f"criterion-{criterion.id}")
                yield Label("Goals", classes="side-heading")
                yield GoalChecklist(id="goals")
        yield Footer()

    def _placeholder(self, busy: bool = False) -> str:
        if busy:
            return "scoring…" if self.app.scorer_state == "ready" else "waiting for the scoring model…"
        name = clean(self.conversation.scenario.persona.name, one_line=True)
        return f"Reply to {name} and press Enter"

    def on_mount(self) -> None:
        c = self.conversation
        scenario = c.scenario
        self.title = clean(scenario.title, one_line=True)
        self.query_one("#to-debrief").display = False
        self.query_one("#new-below").display = False
        self.show_problems([])
        log = self.query_one(ConversationLog)
        self.watch(log, "unseen", self._unseen_changed)
        with log.batch():  # the brief and what was said so far: mounted together
            self._write_brief()
            for turn in c.turns:  # a resumed session: show what was said so far
                log.add_customer(scenario.persona.name, mood_label(turn.mood_before), turn.customer_line)
                self._write_turn(turn, log.add_trainee(YOU, Text()))
            if c.finished:
                self._finish(announce=False)
            else:
                log.add_customer(scenario.persona.name, mood_label(c.mood), c.customer_line)
                self._prepare_for_reply()
        self._refresh_side()
        self._update_status()
        self._show_panel()
        self.watch(self.app, "scorer_state", self._scorer_state_changed, init=False)
        reply_box = self.query_one("#reply", ReplyBox)
        reply_box.cursor_blink = not self.app.quiet
        reply_box.focus()
        self.app.screen_ready()

    def _write_brief(self) -> None:
        s = self.conversation.scenario
        p = s.persona
        body = Text()
        body.append_text(literal(p.backstory))
        body.append("\n")
        body.append("Customer: ", "bold")
        body.append_text(literal(p.name, one_line=True))
        if p.traits:
            body.append_text(literal(" — " + ", ".join(p.traits), "italic", one_line=True))
        body.append("\n")
        body.append("Difficulty ", "bold")
        body.append(self.conversation.difficulty.value)
        body.append(" · mode ", "bold")
        body.append(self.mode + (" (scores held back until the debrief)" if self.test_mode else ""))
        body.append(" · pass mark ", "bold")
        body.append(f"{self.conversation.pass_mark:.0%}")
        if s.goals:
            body.append("\nYour goals:", "bold")
            for goal in s.goals:
                body.append("\n  ○ ")
                body.append_text(literal(goal.description, one_line=True))
        body.append("\n(F2 or a click folds the brief to one line)", "dim italic")
        self._brief_full = Text.assemble(literal(self._brief_title(), "bold"), "\n", body)
        self._brief = self.query_one(ConversationLog).add(self._brief_text(), "brief")

    def _brief_title(self) -> str:
        s = self.conversation.scenario
        return f"Brief — you are the {clean(s.setting.role, one_line=True).lower()} at {clean(s.setting.business, one_line=True)}"

    @property
    def brief_open(self) -> bool:
        return self.brief_choice if self.brief_choice is not None else not self.conversation.turns

    def _brief_text(self) -> Text:
        if self.brief_open:
            return self._brief_full
        c = self.conversation
        goals = c.scenario.goals
        text = Text.assemble(literal(self._brief_title(), "bold", one_line=True), "\n", no_wrap=True,
                             overflow="ellipsis")
        text.append(f"{c.difficulty.value} · {self.mode} · pass mark {c.pass_mark:.0%}")
        if goals and not self.test_mode:
            text.append(f" · goals {sum(1 for g in goals if c.goals_met.get(g.id))}/{len(goals)} met")
        elif goals:
            text.append(f" · {len(goals)} goals")
        text.append("  F2: full brief", "dim italic")
        return text

    def _refresh_brief(self) -> None:
        if self._brief is not None:
            self._brief.set_class(not self.brief_open, "-folded")
            self._brief.update(self._brief_text())

    # -- the side panel -----------------------------------------------------------------------------------------

    def _refresh_side(self) -> None:
        c = self.conversation
        turns = c.turns
        label = mood_label(c.mood)
        self.sub_title = f"{clean(c.scenario.persona.name, one_line=True)} · {label} · {c.difficulty.value} · {self.mode}"
        shown_turn = len(turns) if c.finished else len(turns) + 1
        self.query_one("#turn-count", Static).update(
            Text.assemble(("Turn ", "bold"), f"{shown_turn} of {c.scenario.turn_limit}",
                          ("  (ended)" if c.finished else "", "dim")))
        self.query_one("#customer-name", Static).update(Text.assemble(
            literal(c.scenario.persona.name, "bold", one_line=True), (f" · {label}", "italic")))
        self.query_one("#mood", Meter).value = c.mood
        self.query_one("#patience", Meter).value = c.patience
        for criterion in c.rubric.criteria:
            meter = self.query_one(f"#criterion-{criterion.id}", CriterionMeter)
            if self.test_mode or not turns:
                meter.show(None, None)
            else:
                avg = sum(t.scores[criterion.id] for t in turns) / len(turns)
                meter.show(turns[-1].scores[criterion.id], avg)
        self.query_one(GoalChecklist).show([(g.id, g.description) for g in c.scenario.goals], c.goals_met,
                                           hidden=self.test_mode)
        self._refresh_brief()
        mini = Text.assemble(("Turn ", "bold"), f"{shown_turn} of {c.scenario.turn_limit}",
                             " · mood ", (f"{c.mood:.0f} {label}", level_colour(c.mood / 100)),
                             f" · patience {c.patience}/{c.starting_patience}")
        if c.scenario.goals and not self.test_mode:
            mini.append(f" · goals {sum(1 for g in c.scenario.goals if c.goals_met.get(g.id))}"
                        f"/{len(c.scenario.goals)}")
        mini.append("   Ctrl+B panel", "dim")
        self.query_one("#mini-status", Static).update(mini)

    def show_problems(self, problems: list[str], heading: str = "") -> None:
        """--watch: the edited file's problems (FILE:LINE:COL lines) above the conversation; [] hides them."""
        panel = self.query_one("#watch-problems", Static)
        panel.display = bool(problems)
        if problems:
            text = Text(heading or "The scenario file has problems; the conversation goes on as it was:",
                        style="bold")
            for line in problems[:8]:
                text.append("\n")
                text.append_text(literal(line, one_line=True))
            if len(problems) > 8:
                text.append(f"\n… and {len(problems) - 8} more (frontline validate shows them all)", "dim")
            panel.update(text)

    def _update_status(self) -> None:
        status = self.query_one("#play-status", Static)
        pending = self.pending
        if pending is None:
            status.display = False
            return
        # While the model loads, ModelStatus above says so, and the reply's bubble says it is waiting.
        status.display = self.app.scorer_state == "ready"
        status.update(Text("Scoring your reply… (you can scroll meanwhile)", style="italic"))

    # -- sending a reply ------------------------------------------------------------------------------------------

    def on_reply_box_submitted(self, event: ReplyBox.Submitted) -> None:
        event.stop()
        if event.reply_box.id != "reply":
            return
        reply = event.value.strip()
        if not reply or self.finished:
            return
        if self.pending is not None:
            self.notify("Still scoring your last reply…", severity="warning", timeout=2)
            return
        event.reply_box.value = ""
        self._turn_ids += 1
        note = "scoring…" if self.app.scorer_state == "ready" else "waiting for the scoring model…"
        log = self.query_one(ConversationLog)
        log.jump_to_latest()  # what you send is where you look
        bubble = log.add_trainee(YOU, literal(reply), note)
        self.pending = Pending(self._turn_ids, reply, bubble, sent_at=time.perf_counter())
        event.reply_box.placeholder = self._placeholder(busy=True)
        self._update_status()
        self._maybe_score()

    def _maybe_score(self) -> None:
        pending = self.pending
        scorer = self.app.scorer
        if pending is None or pending.started or scorer is None:
            return
        pending.started = True
        pending.bubble.update(ConversationLog.trainee_text(YOU, literal(pending.reply), "scoring…"))
        self._score(pending.turn_id, self.session.request_for(pending.reply), scorer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="score")
    def _score(self, turn_id: int, request: Any, scorer: Any) -> None:
        started = time.perf_counter()
        try:
            score = scorer.score(request)
        except Exception as exc:
            self.post_message(ScoringFailed(turn_id, request.reply, exc))
            return
        self.post_message(ReplyScored(turn_id, request.reply, score, time.perf_counter() - started))

    def _scorer_state_changed(self, state: str) -> None:
        if self.pending is not None and not self.pending.started:
            note = "waiting for the scoring model…" if state != "ready" else "scoring…"
            self.pending.bubble.update(ConversationLog.trainee_text(YOU, literal(self.pending.reply), note))
        if self.pending is not None:
            self.query_one("#reply", ReplyBox).placeholder = self._placeholder(busy=True)
        self._update_status()
        if state == "ready":
            self._maybe_score()
            self._prepare_for_reply()

    def _prepare_for_reply(self) -> None:
        """While the trainee reads and types, let the scorer embed the customer's line it will be scored against."""
        scorer = self.app.scorer
        if scorer is not None and hasattr(scorer, "prepare") and not self.finished and self.pending is None:
            self._prepare(self.conversation.customer_line, scorer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="prepare")
    def _prepare(self, customer_line: str, scorer: Any) -> None:
        try:
            scorer.prepare(customer_line)
        except Exception:
            pass  # only a head start: scoring the reply embeds the line again and reports any real failure

    def _is_current(self, turn_id: int) -> bool:
        return self.pending is not None and self.pending.turn_id == turn_id and not self.finished

    def on_reply_scored(self, message: ReplyScored) -> None:
        message.stop()
        if not self._is_current(message.turn_id):
            return  # a stale result (an earlier submission, or the session moved on)
        pending = self.pending
        assert pending is not None
        try:
            turn = self.session.apply(pending.reply, message.score)  # stored before it is shown
        except Exception as exc:  # a scenario line that fails to render, …
            self._give_back(pending, f"Could not continue the conversation: {exc}")
            return
        self.pending = None
        log = self.query_one(ConversationLog)
        with log.batch():  # the feedback and the customer's answer: mounted together, laid out and drawn once
            self._write_turn(turn, pending.bubble)
            if not self.finished:
                log.add_customer(self.conversation.scenario.persona.name, mood_label(turn.mood_after),
                                 turn.customer_reaction)
                self._prepare_for_reply()
            self._refresh_side()
            reply_box = self.query_one("#reply", ReplyBox)
            reply_box.placeholder = self._placeholder()
            self._update_status()
            self.last_latency = time.perf_counter() - pending.sent_at
            self.post_message(TurnApplied(turn, self.session.session_id))
            if self.finished:
                self._finish()

    def on_scoring_failed(self, message: ScoringFailed) -> None:
        message.stop()
        if not self._is_current(message.turn_id):
            return
        assert self.pending is not None
        error = message.error
        self._give_back(self.pending, f"Could not score your reply: {str(error) or type(error).__name__}. "
                                      "It is back in the box — press Enter to send it again.")

    def _give_back(self, pending: Pending, why: str) -> None:
        """The reply was not used: take it off the log, put it back in the reply box, say why."""
        self.pending = None
        pending.bubble.remove()
        reply_box = self.query_one("#reply", ReplyBox)
        if not reply_box.value:
            reply_box.value = pending.reply
        reply_box.placeholder = self._placeholder()
        self._update_status()
        self.notify(why, title="Scoring", severity="error", timeout=10, markup=False)

    # -- showing a scored turn --------------------------------------------------------------------------------------

    def _write_turn(self, turn: Turn, bubble: Bubble) -> None:
        log = self.query_one(ConversationLog)
        bubble.remove_class("-pending")
        if self.test_mode:
            bubble.update(ConversationLog.trainee_text(YOU, literal(turn.reply)))
            log.add(Text("Reply recorded — scores and feedback are held back until the debrief.",
                         style="dim italic"), "feedback")
            return
        reply_text, missing = highlight_evidence(turn.reply, turn.evidence, self.styles_by_criterion)
        bubble.update(ConversationLog.trainee_text(YOU, reply_text))
        log.add(self.feedback_text(turn, missing), "feedback")

    def feedback_text(self, turn: Turn, missing: dict[str, list[str]] | None = None) -> Text:
        rubric = self.conversation.rubric
        scenario = self.conversation.scenario
        text = Text()
        for i, criterion in enumerate(rubric.criteria):
            if i:
                text.append(" · ", "dim")
            colour = self.styles_by_criterion[criterion.id]
            text.append_text(literal(criterion.name, f"bold {colour}", one_line=True))
            text.append(f" {turn.scores.get(criterion.id, 0.0):.2f}")
        text.append(f"   overall {turn.overall:.2f}", "bold")
        for criterion in rubric.criteria:
            feedback = turn.feedback.get(criterion.id)
            if feedback:
                colour = self.styles_by_criterion[criterion.id]
                text.append("\n▸ ", colour)
                text.append_text(literal(criterion.name + ": ", colour, one_line=True))
                text.append_text(emphasis(feedback))
        for cid, phrases in (missing or {}).items():
            for phrase in phrases[:2]:
                text.append("\n  ")
                text.append_text(literal(rubric.criterion(cid).name if cid in rubric.criterion_ids else cid,
                                         f"italic {self.styles_by_criterion.get(cid, '')}", one_line=True))
                text.append(" noticed: ", "italic")
                text.append_text(literal(f"“{phrase}”", one_line=True))
        flags = {f.id: f for f in rubric.red_flags}
        for flag_id in turn.red_flags:
            text.append("\n⚑ Red flag: ", "bold red")
            flag = flags.get(flag_id)
            text.append_text(emphasis(flag.feedback) if flag else literal(flag_id))
        for note in turn.notes:
            text.append("\n↻ The customer noticed: ", "bold yellow")
            text.append_text(emphasis(note))
        goals = {g.id: g for g in scenario.goals}
        for goal_id in turn.goals_met:
            text.append("\n✔ Goal met: ", "bold green")
            text.append_text(literal(goals[goal_id].description if goal_id in goals else goal_id, one_line=True))
        text.append(f"\nMood {turn.mood_before:.0f} → {turn.mood_after:.0f} ({mood_label(turn.mood_after)})"
                    f" · patience {turn.patience_after}", "dim")
        return text

    # -- the end ----------------------------------------------------------------------------------------------------

    def _finish(self, announce: bool = True) -> None:
        c = self.conversation
        ending = c.ending
        assert ending is not None
        log = self.query_one(ConversationLog)
        if announce:
            log.add_customer(c.scenario.persona.name, mood_label(c.mood), c.customer_line)
        text = Text.assemble(("The conversation is over: ", "bold"), (ending.kind.words, "bold"))
        if ending.summary:
            text.append("\n")
            text.append_text(literal(ending.summary, "not bold"))
        text.append("\nPress Enter (or the button below) for your debrief.", "not bold")
        log.add(text, "ending")
        self.query_one("#reply", ReplyBox).display = False
        self.query_one("#play-status", Static).display = False
        button = self.query_one("#to-debrief", Button)
        button.display = True
        button.focus()
        self._refresh_side()
        if announce:
            self.post_message(SessionFinished(c.result(), self.session.session_id))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "to-debrief":
            event.stop()
            self.app.show_debrief(self.session, self.setup)

    # -- actions ------------------------------------------------------------------------------------------------------

    @property
    def panel_shown(self) -> bool:
        return self.panel_choice if self.panel_choice is not None else self.size.width >= WIDE

    def _show_panel(self) -> None:
        shown = self.panel_shown
        self.query_one("#side").display = shown
        self.query_one("#mini-status").display = not shown

    def action_toggle_panel(self) -> None:
        self.panel_choice = not self.panel_shown
        self._show_panel()

    def action_toggle_brief(self) -> None:
        self.brief_choice = not self.brief_open
        self._refresh_brief()

    def on_click(self, event: Click) -> None:
        if event.widget is self._brief:
            self.action_toggle_brief()
        elif event.widget is not None and event.widget.id == "new-below":
            self.query_one(ConversationLog).jump_to_latest()

    def action_scroll_log(self, direction: int) -> None:
        log = self.query_one(ConversationLog)
        if direction < 0:
            log.scroll_page_up(animate=False)
        else:
            log.scroll_page_down(animate=False)

    def action_end(self) -> None:
        """End: to the newest reply when there is something new below (or the reply box is not being typed in);
        in the reply box otherwise, to the end of the line as usual."""
        log = self.query_one(ConversationLog)
        focused = self.focused
        if isinstance(focused, ReplyBox) and not log.unseen:
            focused.action_cursor_line_end()
        elif focused is not None and focused.id == "side":
            focused.scroll_end(animate=False)
        else:
            log.jump_to_latest()

    def _unseen_changed(self, unseen: bool) -> None:
        self.query_one("#new-below").display = unseen

    def action_focus_reply(self) -> None:
        if self.finished:
            self.query_one("#to-debrief", Button).focus()
        else:
            self.query_one("#reply", ReplyBox).focus()

    def on_resize(self, event: Resize) -> None:
        width = event.size.width
        self.set_class(width < WIDE, "-narrow")
        self.set_class(width < 70, "-tiny")
        self._show_panel()
