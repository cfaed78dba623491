"""The debrief: the ending reached, pass or fail, per-criterion averages, every turn, and better replies."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from simulator.content.scenario import ENDING_WORDS
from simulator.engine import Conversation, Turn, mood_label
from simulator.content.templates import render_line
from simulator.tui.widgets.meters import Meter
from simulator.tui.widgets.text import clean, criterion_styles, emphasis, highlight_evidence, literal


class DebriefScreen(Screen):
    BINDINGS = [
        Binding("r", "app.retry", "Retry", tooltip="retry the same scenario"),
        Binding("p", "app.pick", "Pick another", tooltip="pick another scenario"),
        Binding("q", "app.request_quit", "Quit", show=False, tooltip="quit"),
        Binding("question_mark", "app.help", "Help", show=False, tooltip="this help"),
    ]

    def __init__(self, conversation: Conversation, *, setup: Any, session_id: int | None) -> None:
        super().__init__()
        self.conversation = conversation
        self.setup = setup
        self.session_id = session_id
        self.result = conversation.result()
        self.styles_by_criterion = criterion_styles(conversation.rubric.criterion_ids)

    def compose(self) -> ComposeResult:
        c = self.conversation
        r = self.result
        yield Header()
        with VerticalScroll(id="debrief"):
            yield Static(self._verdict(), id="verdict", classes="-passed" if r.passed else "-failed")
            yield Static(self._ending(), id="ending")
            yield Static(Text("Average per criterion", style="bold"), classes="section")
            for criterion in c.rubric.criteria:
                yield Meter(criterion.name, value=r.averages.get(criterion.id, 0.0), label_width=18,
                            classes="average", id=f"average-{criterion.id}")
            yield Meter("Overall", value=r.overall, label_width=18, classes="average", id="average-overall")
            yield Static(self._goals(), id="debrief-goals")
            yield Static(Text("Where to improve", style="bold"), classes="section")
            yield Static(self._better_replies(), id="better")
            yield Static(Text("Turn by turn", style="bold"), classes="section")
            for turn in c.turns:
                yield Static(self._turn(turn), classes="turn")
        with Horizontal(id="debrief-buttons"):
            yield Button("Retry (r)", id="retry", variant="primary")
            yield Button("Pick another (p)", id="pick")
            yield Button("Quit (q)", id="quit", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Debrief — {clean(self.conversation.scenario.title, one_line=True)}"
        self.sub_title = self.app.now().strftime("%d %b %Y %H:%M")
        # The debrief is for reading: PgDn, PgUp, ↑ and ↓ scroll it at once (Tab reaches the buttons; r, p, q too).
        self.query_one("#debrief", VerticalScroll).focus()
        self.app.screen_ready()

    # -- parts ------------------------------------------------------------------------------------------------------

    def _verdict(self) -> Text:
        r = self.result
        word = "PASS" if r.passed else "FAIL"
        text = Text.assemble(
            (f" {word} ", "bold reverse green" if r.passed else "bold reverse red"),
            "  overall ", (f"{r.overall:.0%}", "bold"), f" against a pass mark of {r.pass_mark:.0%}",
            f" · {r.turns} repl{'y' if r.turns == 1 else 'ies'}",
            f" · {self.conversation.difficulty.value} · {self.setup.mode}",
        )
        if r.passed:
            text.append("\nPassed: your replies averaged at least the pass mark, every criterion reached its floor, "
                        "and the conversation was resolved.", "italic")
        else:
            text.append("\nNot passed, because:", "bold")
            for reason in r.why_not_passed or ["the session did not meet the pass rules"]:
                text.append("\n  • ")
                text.append_text(literal(reason))
        return text

    def _ending(self) -> Text:
        c = self.conversation
        r = self.result
        text = Text.assemble(("Ending: ", "bold"), (ENDING_WORDS.get(r.ending_kind, "the conversation ended"), "bold"))
        if r.ending_summary:
            text.append("\n")
            text.append_text(literal(r.ending_summary))
        text.append("\n")
        text.append_text(literal(c.scenario.persona.name, "bold", one_line=True))
        text.append(f" ({mood_label(c.mood)}): ", "italic")
        text.append_text(literal(c.customer_line))
        return text

    def _goals(self) -> Text:
        goals = self.conversation.scenario.goals
        met = self.conversation.goals_met
        text = Text("Goals", style="bold")
        for goal in goals:
            done = met.get(goal.id, False)
            text.append("\n✔ " if done else "\n✘ ", "bold green" if done else "bold red")
            text.append_text(literal(goal.description, one_line=True))
        return text

    def better_reply(self, turn: Turn) -> str | None:
        """turn.nearest_model_reply, else the beat's first model reply, with its {{ variables }} filled in."""
        scenario = self.conversation.scenario
        source = turn.nearest_model_reply
        if not source:
            beat = next((b for b in scenario.beats if b.id == turn.beat), None)
            source = beat.model_replies[0] if beat is not None and beat.model_replies else None
        if not source:
            return None
        try:
            return render_line(source, self.conversation._line_context())
        except Exception:
            return source

    def shortfalls(self, turn: Turn) -> list[str]:
        """How `turn` fell short, in words: under the pass mark, a criterion under its floor, a red flag, or
        something the customer noticed. Empty for a turn that did not fall short."""
        c = self.conversation
        why = []
        if turn.overall < c.pass_mark:
            why.append(f"overall {turn.overall:.2f}, under the pass mark of {c.pass_mark:.2f}")
        for criterion in c.rubric.criteria:
            score = turn.scores.get(criterion.id, 0.0)
            if score < criterion.floor:
                why.append(f"{criterion.name} {score:.2f}, under its floor of {criterion.floor:.2f}")
        if turn.red_flags:
            why.append("a red flag")
        if turn.notes:
            why.append("the customer noticed something (see the turn below)")
        return why

    def short_turns(self) -> list[Turn]:
        """The turns that fell short, weakest first (up to three)."""
        return [t for t in self.conversation.weakest_turns(len(self.conversation.turns)) if self.shortfalls(t)][:3]

    def _better_replies(self) -> Text:
        c = self.conversation
        if not c.turns:
            return Text("No replies to look at.", style="dim")
        short = self.short_turns()
        if not short:
            text = Text("No reply fell short: each one reached the pass mark and every criterion's floor.",
                        style="italic")
            if not self.result.passed:
                text.append("\nThe session did not pass for the reasons above.", "italic")
            return text
        # The same better reply for several turns is shown once, under all of them.
        groups: dict[str | None, list[Turn]] = {}
        for turn in short:
            groups.setdefault(self.better_reply(turn), []).append(turn)
        text = Text()
        for i, (better, turns) in enumerate(groups.items()):
            if i:
                text.append("\n\n")
            for j, turn in enumerate(turns):
                if j:
                    text.append("\n")
                text.append(f"Turn {turn.number}", "bold")
                text.append(f" (overall {turn.overall:.2f}: {'; '.join(self.shortfalls(turn))})", "dim")
                text.append("\n  You said: ", "italic")
                text.append_text(literal(turn.reply))
            if better:
                text.append("\n  A better reply would have been: ", "bold green")
                text.append_text(literal(better))
            else:
                text.append("\n  (this scenario has no model reply for that moment)", "dim")
        return text

    def _turn(self, turn: Turn) -> Text:
        c = self.conversation
        rubric = c.rubric
        name = c.scenario.persona.name
        text = Text.assemble((f"Turn {turn.number}", "bold"), (f"  overall {turn.overall:.2f}", ""))
        text.append("\n")
        text.append_text(literal(name, "bold", one_line=True))
        text.append(": ")
        text.append_text(literal(turn.customer_line))
        reply, _ = highlight_evidence(turn.reply, turn.evidence, self.styles_by_criterion)
        text.append("\nYou: ", "bold")
        text.append_text(reply)
        text.append("\n")
        for i, criterion in enumerate(rubric.criteria):
            if i:
                text.append(" · ", "dim")
            text.append_text(literal(criterion.name, f"bold {self.styles_by_criterion[criterion.id]}",
                                     one_line=True))
            text.append(f" {turn.scores.get(criterion.id, 0.0):.2f}")
        for criterion in rubric.criteria:
            phrases = turn.evidence.get(criterion.id) or []
            feedback = turn.feedback.get(criterion.id, "")
            text.append("\n  ")
            text.append_text(literal(criterion.name, self.styles_by_criterion[criterion.id], one_line=True))
            text.append(": ")
            text.append_text(emphasis(feedback))
            if phrases:
                text.append(" — evidence: ", "dim")
                text.append_text(literal(" | ".join(f"“{p}”" for p in phrases[:3]), "italic", one_line=True))
        flags = {f.id: f for f in rubric.red_flags}
        for flag_id in turn.red_flags:
            text.append("\n  ⚑ Red flag: ", "bold red")
            text.append_text(emphasis(flags[flag_id].feedback) if flag_id in flags else literal(flag_id))
        for note in turn.notes:
            text.append("\n  ↻ The customer noticed: ", "bold yellow")
            text.append_text(emphasis(note))
        text.append(f"\n  mood {turn.mood_before:.0f} → {turn.mood_after:.0f}, patience {turn.patience_after}",
                    "dim")
        return text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"retry": self.app.action_retry, "pick": self.app.action_pick,
                  "quit": self.app.action_request_quit}.get(str(event.button.id))
        if action is not None:
            action()
