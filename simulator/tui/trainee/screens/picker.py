"""The scenario picker: the first screen of `frontline`. Type to filter, ↑/↓ to choose, Enter to start."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from simulator.content.scenario import DIFFICULTIES, MODES
from simulator.session import login_name
from simulator.tui.trainee.messages import BestResultsLoaded, ScenariosLoaded
from simulator.tui.widgets.safe_input import SafeInput
from simulator.tui.widgets.status import ModelStatus
from simulator.tui.widgets.text import literal



@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    business: str
    role: str
    difficulty: str
    summary: str
    pass_mark: float | None

    @property
    def haystack(self) -> str:
        return " ".join((self.id, self.title, self.business, self.role, self.difficulty, self.summary)).casefold()


class PickerScreen(Screen):
    TITLE = "Frontline"
    SUB_TITLE = "pick a scenario"

    BINDINGS = [
        Binding("enter", "start", "Start", show=True, tooltip="start the chosen scenario (in the name box: done)"),
        Binding("ctrl+d", "cycle_difficulty", "Difficulty", priority=True,
                tooltip="cycle the difficulty: easy, medium, hard"),
        Binding("ctrl+t", "toggle_mode", "Practice/test", priority=True,
                tooltip="switch between practice and test mode"),
        Binding("down", "move(1)", "Next", show=False, tooltip="next scenario (type in the filter box to filter)"),
        Binding("up", "move(-1)", "Previous", show=False, tooltip="previous scenario"),
        Binding("ctrl+n", "edit_name", "Your name", tooltip="type your name (your sessions and best results are kept under it)"),
        Binding("question_mark", "app.help", "Help", show=False, tooltip="this help, when not typing"),
        Binding("q", "app.request_quit", "Quit", show=False, tooltip="quit, when not typing"),
    ]

    def __init__(self, highlight: str | None = None) -> None:
        super().__init__()
        self.initial_highlight = highlight
        self.entries: list[Entry] = []
        self.best: dict[str, float] = {}
        self.best_loaded = False
        self.entries_loaded = False
        self._start_when_loaded = False
        self.broken: list[tuple[str, list[str]]] = []
        self.difficulty_choice: str | None = None
        self._shown_difficulty: str | None = None
        self._auto_changes = 0
        self.given_name = ""
        """The name the app was started with (--trainee or the login name): the name box starts with it."""

    # -- layout -------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.app
        yield Header()
        with Vertical(id="picker"):
            with Horizontal(id="greeting"):
                yield Label("Hello", id="hello")
                fixed = getattr(app, "name_fixed", False)  # `frontline serve`: the name comes from the sign-in
                yield SafeInput(app.trainee, placeholder="your name", id="trainee-name", select_on_focus=True,
                                max_length=60, disabled=fixed)
                yield Static(Text.assemble(" — choose a customer to practise with. ",
                                           ("" if fixed else "(Ctrl+N: your name)", "dim")), id="greeting-text")
            yield SafeInput(placeholder="Type to filter scenarios…", id="filter")
            yield OptionList(id="scenarios")
            with Horizontal(id="choices"):
                yield Label("Difficulty", classes="choice-label")
                with RadioSet(id="difficulty"):
                    for d in DIFFICULTIES:
                        yield RadioButton(d, id=f"difficulty-{d}")
                yield Label("Mode", classes="choice-label")
                with RadioSet(id="mode"):
                    for m in MODES:
                        yield RadioButton(m, value=(m == app.mode), id=f"mode-{m}")
            yield Static(id="picker-hint")
            yield ModelStatus(id="model-status")
        yield Footer()

    def on_mount(self) -> None:
        self.difficulty_choice = self.app.difficulty
        self.given_name = self.app.trainee
        self._fit_name_box()
        self.query_one("#trainee-name", Input).cursor_blink = not self.app.quiet
        self._fill()
        filter_box = self.query_one("#filter", Input)
        filter_box.cursor_blink = not self.app.quiet
        filter_box.focus()
        self.app.screen_ready()
        # Reading and validating the scenario files and opening the store take a moment: after the first paint,
        # in a thread, so the screen is up at once and typing into the filter works meanwhile.
        self.call_after_refresh(self._load_in_background)

    @work(thread=True, exit_on_error=False, group="picker-load")
    def _load_in_background(self) -> None:
        entries, broken = read_entries(self.app.library)
        self.post_message(ScenariosLoaded(entries, broken))
        self.app.call_from_thread(self.app.start_loading)
        trainee = self.app.trainee
        self.post_message(BestResultsLoaded(self.app.link.best_results(trainee), trainee))

    @work(thread=True, exit_on_error=False, exclusive=True, group="picker-best")
    def _load_best(self, trainee: str) -> None:
        self.post_message(BestResultsLoaded(self.app.link.best_results(trainee), trainee))

    # -- the trainee's name -------------------------------------------------------------------------------------

    @property
    def trainee(self) -> str:
        """The name typed in the name box; the name the app started with while the box is empty."""
        typed = self.query_one("#trainee-name", Input).value.strip()
        return typed or self.given_name or login_name()

    def _fit_name_box(self) -> None:
        """The name box as wide as the name (and room to type), so the greeting reads as one sentence."""
        for box in self.query("#trainee-name").results(Input):
            box.styles.width = max(8, min(32, len(box.value) + 3))

    def _name_changed(self) -> None:
        self._fit_name_box()
        name = self.trainee
        if name == self.app.trainee:
            return
        self.app.trainee = name  # the sessions started from here, and their best results, go under it
        self.best_loaded = False
        self._load_best(name)

    def action_edit_name(self) -> None:
        if getattr(self.app, "name_fixed", False):
            self.notify("You signed in under this name; to practise as someone else, sign out in the browser.")
            return
        self.query_one("#trainee-name", Input).focus()

    def on_scenarios_loaded(self, message: ScenariosLoaded) -> None:
        self.entries = message.entries
        self.broken = message.broken
        self.entries_loaded = True
        self._fill(keep=self._highlighted_id() or self.initial_highlight)
        if self.broken:
            first = "\n".join(problems[0] for _, problems in self.broken[:3] if problems)
            self.notify(f"{len(self.broken)} scenario file(s) cannot be played (listed at the end):\n{first}",
                        severity="warning", timeout=10, markup=False)
        if self._start_when_loaded:
            self._start_when_loaded = False
            self.action_start()

    def on_best_results_loaded(self, message: BestResultsLoaded) -> None:
        if message.trainee is not None and message.trainee != self.app.trainee:
            return  # read for a name since changed
        self.best = message.best
        self.best_loaded = True
        self._fill(keep=self._highlighted_id())

    # -- the list -------------------------------------------------------------------------------------------------

    def _matches(self) -> list[Entry]:
        words = self.query_one("#filter", Input).value.casefold().split()
        return [e for e in self.entries if all(w in e.haystack for w in words)]

    def _prompt(self, entry: Entry) -> Text:
        best = self.best.get(entry.id)
        head = Text.assemble(literal(entry.title, "bold", one_line=True), "  ",
                             (f"[{entry.difficulty}]", _DIFFICULTY_STYLE.get(entry.difficulty, "")))
        if best is not None:
            mark = entry.pass_mark if entry.pass_mark is not None else 0.6
            head.append(f"  best {best:.0%}", "bold green" if best >= mark else "bold yellow")
        else:
            head.append("  not played yet", "dim")
        return Text.assemble(
            head, "\n",
            literal(f"{entry.business} · {entry.role}", "italic", one_line=True), "\n",
            literal(entry.summary, "dim", one_line=True),
        )

    def _broken_matches(self) -> list[tuple[str, list[str]]]:
        words = self.query_one("#filter", Input).value.casefold().split()
        return [(path, problems) for path, problems in self.broken
                if all(w in (path + " " + " ".join(problems)).casefold() for w in words)]

    @staticmethod
    def _broken_prompt(path: str, problems: list[str]) -> Text:
        text = Text.assemble(("⚠ cannot be played: ", "bold red"), literal(path, "bold", one_line=True))
        for problem in problems[:3]:
            text.append("\n")
            text.append_text(literal(problem, "red", one_line=True))
        if len(problems) > 3:
            text.append(f"\n… and {len(problems) - 3} more: run `frontline validate {path}`", "dim")
        return text

    def _fill(self, keep: str | None = None) -> None:
        options = self.query_one("#scenarios", OptionList)
        matches = self._matches()
        options.clear_options()
        items: list[Option | None] = []
        for i, entry in enumerate(matches):
            if i:
                items.append(None)  # a separator line
            items.append(Option(self._prompt(entry), id=entry.id))
        for path, problems in self._broken_matches():
            if items:
                items.append(None)
            items.append(Option(self._broken_prompt(path, problems), disabled=True))
        options.add_options(items)
        if matches:
            ids = [e.id for e in matches]
            options.highlighted = options.get_option_index(keep) if keep in ids else 0
        hint = self.query_one("#picker-hint", Static)
        if not self.entries_loaded:
            hint.update(Text("Reading the scenarios…", style="italic"))
        elif not self.entries:
            hint.update(Text("No scenarios found. Add YAML files with --scenarios DIR.", style="bold red"))
        elif not matches:
            hint.update(Text("No scenario matches the filter.", style="yellow"))
        else:
            hint.update(Text(f"{len(matches)} of {len(self.entries)} scenarios · Enter starts · "
                             "Ctrl+D difficulty · Ctrl+T practice/test", style="dim"))
        self._follow_scenario_difficulty()

    def _highlighted_id(self) -> str | None:
        options = self.query_one("#scenarios", OptionList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    def _entry(self, scenario_id: str | None) -> Entry | None:
        return next((e for e in self.entries if e.id == scenario_id), None)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._fill(keep=self._highlighted_id())
        elif event.input.id == "trainee-name":
            self._name_changed()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._follow_scenario_difficulty()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "trainee-name":  # done with the name: on to choosing a scenario
            self._name_changed()
            self.query_one("#filter", Input).focus()
            return
        self.action_start()

    def action_move(self, step: int) -> None:
        options = self.query_one("#scenarios", OptionList)
        if options.option_count == 0:
            return
        current = options.highlighted if options.highlighted is not None else -1
        options.highlighted = max(0, min(options.option_count - 1, current + step))

    # -- difficulty and mode ------------------------------------------------------------------------------------

    @property
    def difficulty(self) -> str:
        if self.difficulty_choice:
            return self.difficulty_choice
        entry = self._entry(self._highlighted_id())
        return entry.difficulty if entry else "medium"

    @property
    def mode(self) -> str:
        return "test" if self.query_one("#mode-test", RadioButton).value else "practice"

    def _press(self, button_id: str) -> None:
        button = self.query_one(f"#{button_id}", RadioButton)
        if not button.value:
            self._auto_changes += 1
            button.value = True

    def _follow_scenario_difficulty(self) -> None:
        wanted = self.difficulty
        if wanted != self._shown_difficulty:
            self._shown_difficulty = wanted
            self._press(f"difficulty-{wanted}")

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id != "difficulty":
            return
        if self._auto_changes:
            self._auto_changes -= 1
            return
        chosen = str(event.pressed.id).removeprefix("difficulty-")
        self.difficulty_choice = chosen
        self._shown_difficulty = chosen

    def action_cycle_difficulty(self) -> None:
        current = self.difficulty
        self.difficulty_choice = DIFFICULTIES[(DIFFICULTIES.index(current) + 1) % len(DIFFICULTIES)]
        self._follow_scenario_difficulty()
        self.notify(f"Difficulty: {self.difficulty_choice}", timeout=2)

    def action_toggle_mode(self) -> None:
        target = "practice" if self.mode == "test" else "test"
        self.query_one(f"#mode-{target}", RadioButton).value = True
        note = "feedback after every reply" if target == "practice" else "feedback held back until the debrief"
        self.notify(f"Mode: {target} — {note}", timeout=3)

    # -- go -----------------------------------------------------------------------------------------------------

    def action_start(self) -> None:
        if not self.entries_loaded:  # Enter pressed in the first instant: start once the list is there
            self._start_when_loaded = True
            return
        scenario_id = self._highlighted_id()
        if scenario_id is None:
            self.notify("No scenario chosen.", severity="warning")
            return
        self.app.start_session(scenario_id, difficulty=self.difficulty, mode=self.mode)


_DIFFICULTY_STYLE = {"easy": "green", "medium": "yellow", "hard": "red"}


def read_entries(library) -> tuple[list[Entry], list[tuple[str, list[str]]]]:
    """The valid scenarios of the library as picker entries (the first of a repeated id), and the files that
    cannot be played with their problems (the same ones `frontline validate` prints)."""
    entries: list[Entry] = []
    broken: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for loaded in library.scenarios():
        s = loaded.model
        if s is None or loaded.errors:
            broken.append((str(loaded.path), [str(p) for p in (loaded.errors or ["could not be read"])]))
            continue
        if s.id in seen:  # the same id in two folders: the first one found is the one played
            continue
        seen.add(s.id)
        entries.append(Entry(
            id=s.id, title=s.title, business=s.setting.business, role=s.setting.role,
            difficulty=s.difficulty.value, summary=s.summary, pass_mark=s.pass_mark,
        ))
    return entries, broken
