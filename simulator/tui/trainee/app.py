"""The trainee's app: one factory, `make_app`, used by the command line (launch.py) and by the tests.

Threads: the scoring model loads in a thread worker started on mount, and each reply is scored in a thread
worker. Those threads only call the scorer (or the store, to read best results) and post a message; the UI
thread applies scores to the conversation, stores turns and updates widgets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from simulator.content.library import Library
from simulator.content.scenario import DIFFICULTIES, MODES
from simulator.errors import ContentError, FrontlineError
from simulator.session import PracticeSession, StoreLink, login_name
from simulator.tui.trainee.messages import ScorerLoaded, ScorerLoadFailed, WatchReplayed

FIXED_NOW = datetime(2025, 1, 6, 9, 30)
"""The clock of the deterministic (test) profile."""


@dataclass(frozen=True)
class Setup:
    """How a session was asked for: what `retry` repeats."""

    scenario_id: str
    difficulty: str | None
    mode: str
    seed: int
    content_hash: str = ""


class FrontlineApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "Frontline"
    SUB_TITLE = "customer-service practice"

    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True,
                tooltip="quit (asks first when a session is in progress)"),
        Binding("ctrl+c", "ctrl_c", "Quit", show=False, priority=True,
                tooltip="copy the text selected in the reply box; otherwise quit, asking first"),
        Binding("f1", "help", "Help", tooltip="this help"),
    ]

    scorer_state: reactive[str] = reactive("loading")
    """"loading", "ready" or "failed"."""

    def __init__(
        self,
        services: Any,
        *,
        library: Library,
        trainee: str,
        scenario_id: str | None = None,
        difficulty: str | None = None,
        mode: str = "practice",
        seed: int = 0,
        deterministic: bool = False,
        resume: bool = False,
        save: bool = True,
        watch: bool = False,
        name_fixed: bool = False,
        quiet: bool = False,
    ) -> None:
        super().__init__()
        self.name_fixed = name_fixed
        """`frontline serve`: the visitor signed in under `trainee`; the picker does not let them change it."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if difficulty is not None and difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
        self.services = services
        self.library = library
        self.trainee = trainee
        self.initial_scenario = scenario_id
        self.difficulty = difficulty
        self.mode = mode
        self.seed = seed
        self.deterministic = deterministic
        self.resume_first = resume
        self.watching = watch and scenario_id is not None
        """--watch: reload the scenario file on save and replay the conversation on it (nothing is stored)."""
        self._watched: tuple = ()
        self._reload_pending = False
        if self.watching:
            self.sub_title = f"watching {scenario_id}"
        self.scorer: Any = None
        self._loading_started = False
        self.scorer_error = ""
        self.scorer_seconds: float | None = None
        self.link = StoreLink(services.open_store if save and not self.watching else None,
                              warn=self._warn_from_any_thread)
        self.launched_at = time.perf_counter()
        self.first_screen_at: float | None = None
        self.quiet = quiet or deterministic
        """No cursor blink, spinner or animation: each redraw costs CPU and bandwidth that a server running many
        trainees' apps (`frontline serve`) needs for their replies; the tests want stable screens."""
        if self.quiet:
            self.animation_level = "none"

    # -- clock and notifications ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return FIXED_NOW if self.deterministic else datetime.now()

    def _warn_from_any_thread(self, message: str) -> None:
        if threading.get_ident() == self._thread_id:
            self.notify(message, severity="warning", markup=False)
        else:
            self.call_from_thread(self.notify, message, severity="warning", markup=False)

    # -- start-up --------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.watching:
            self._watched = self._watch_stamps()
            self.set_interval(0.5, self.check_watched_files)
        if self.initial_scenario is not None:
            self.start_session(self.initial_scenario, difficulty=self.difficulty, mode=self.mode,
                               resume=self.resume_first, fallback_to_picker=True)
        else:
            self.show_picker()
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        # The picker reads its scenario list first and then calls start_loading itself, so the heavy model
        # import does not slow the list down; the play screen needs nothing else first.
        if self.initial_scenario is not None:
            self.start_loading()
        else:
            self.set_timer(2.0, self.start_loading)  # in case the picker never asks

    def start_loading(self) -> None:
        """Start loading the scoring model and opening the store in the background (once)."""
        if self._loading_started:
            return
        self._loading_started = True
        self.load_scorer()
        self.open_store()

    @work(thread=True, exit_on_error=False, group="open-store")
    def open_store(self) -> None:
        """Open (and migrate) the database off the UI thread, so the first stored turn does not wait for it."""
        self.link.store

    def on_unmount(self) -> None:
        self.link.close()

    def screen_ready(self) -> None:
        """Called by the first screen once it is mounted (time to first screen)."""
        if self.first_screen_at is None:
            self.first_screen_at = time.perf_counter()

    @work(thread=True, exit_on_error=False, exclusive=True, group="load-scorer")
    def load_scorer(self) -> None:
        started = time.perf_counter()
        try:
            scorer = self.services.make_scorer()
            load = getattr(scorer, "load", None)  # the real scorer loads lazily unless asked now
            if callable(load):
                load(self._rubrics())
        except BaseException as exc:  # ImportError, ScorerError, OSError, …: tell the trainee, keep running
            self.post_message(ScorerLoadFailed(exc))
            return
        self.post_message(ScorerLoaded(scorer, time.perf_counter() - started))

    def _rubrics(self) -> list[Any]:
        """The rubrics the scorer should prepare up front: the initial scenario's, or every scenario's."""
        ids: list[str] = []
        try:
            if self.initial_scenario is not None:
                ids.append(self.library.scenario(self.initial_scenario).rubric)
            else:
                ids.extend(sorted({ld.model.rubric for ld in self.library.scenarios() if ld.usable}))
        except Exception:
            pass
        rubrics = []
        for rubric_id in ids:
            try:
                rubrics.append(self.library.rubric(rubric_id))
            except Exception:
                continue
        return rubrics

    def on_scorer_loaded(self, message: ScorerLoaded) -> None:
        self.scorer = message.scorer
        self.scorer_seconds = message.seconds
        self.scorer_error = ""
        self.scorer_state = "ready"
        if self._reload_pending:
            self._reload_pending = False
            self.reload_watched()

    def on_scorer_load_failed(self, message: ScorerLoadFailed) -> None:
        error = message.error
        self.scorer_error = str(error) or type(error).__name__
        self.scorer_state = "failed"
        self.notify(f"The scoring model could not be loaded: {self.scorer_error}", title="Scoring model",
                    severity="error", timeout=10, markup=False)

    # -- --watch: play while writing ------------------------------------------------------------------------

    def _watched_files(self) -> list[Path]:
        """The scenario file being played and the rubric file it is scored with."""
        files = []
        try:
            loaded = self.library.find_scenario(self.initial_scenario)
        except ContentError:
            return files
        files.append(loaded.path)
        if loaded.model is not None:
            try:
                files.append(self.library.find_rubric(loaded.model.rubric).path)
            except ContentError:
                pass
        return files

    def _watch_stamps(self) -> tuple:
        stamps = []
        for path in self._watched_files():
            try:
                st = path.stat()
                stamps.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append((str(path), None, None))
        return tuple(stamps)

    def check_watched_files(self) -> None:
        """Polled twice a second with --watch: reload when the scenario or its rubric changed on disk."""
        stamps = self._watch_stamps()
        if stamps != self._watched:
            self._watched = stamps
            self.reload_watched()

    def reload_watched(self) -> None:
        """Load the edited scenario; show its problems, or replay the conversation so far on it."""
        from simulator.tui.trainee.screens.play import PlayScreen

        play = self._play_screen()
        try:
            loaded = self.library.find_scenario(self.initial_scenario)
            problems = [str(p) for p in loaded.errors] or ([] if loaded.model else [f"{loaded.path}:1:1: cannot be read"])
        except ContentError as exc:
            problems = [str(p) for p in exc.problems]
        if problems:
            if isinstance(play, PlayScreen):
                play.show_problems(problems)
            self.notify("\n".join(problems[:3]), title="The scenario has problems", severity="error", timeout=10,
                        markup=False)
            return
        if play is None:  # it could not be started before: now it can
            self.start_session(self.initial_scenario, difficulty=self.difficulty, mode=self.mode)
            return
        if self.scorer is None:
            self._reload_pending = True
            return
        replies = [turn.reply for turn in play.session.turns]
        self._replay(loaded, replies, play.setup)

    @work(thread=True, exit_on_error=False, exclusive=True, group="watch-replay")
    def _replay(self, loaded: Any, replies: list[str], setup: Setup) -> None:
        """Off the UI thread: the same seed, difficulty and replies, played again on the edited scenario."""
        session, replayed, problem = None, 0, None
        try:
            scenario = self.library.require(loaded)
            rubric = self.library.rubric_for(loaded)
            session = PracticeSession.start(scenario, rubric, trainee=self.trainee, seed=setup.seed,
                                            difficulty=setup.difficulty, mode=setup.mode,
                                            content_hash=loaded.content_hash, scorer=self.scorer, link=self.link)
            for reply in replies:
                if session.finished:
                    problem = (f"The conversation now ends after {replayed} of your {len(replies)} replies; "
                               "the rest were not replayed.")
                    break
                session.submit(reply)
                replayed += 1
        except Exception as exc:  # a line that fails to render at this point, a scorer error, …
            problem = f"{loaded.path}: replaying stopped after {replayed} of {len(replies)} replies: {exc}"
            if session is not None and session.turns and len(session.turns) != replayed:
                session = None
        self.post_message(WatchReplayed(session, replies, replayed, problem))

    def on_watch_replayed(self, message: WatchReplayed) -> None:
        from simulator.tui.trainee.screens.play import PlayScreen

        play = self._play_screen()
        if message.session is None:
            if play is not None:
                play.show_problems([message.problem or "The edited scenario could not be replayed."])
            return
        draft = play.query_one("#reply").value if play is not None else ""
        conversation = message.session.conversation
        setup = Setup(scenario_id=conversation.scenario.id, difficulty=conversation.difficulty.value,
                      mode=message.session.mode, seed=conversation.seed,
                      content_hash=message.session.content_hash)
        screen = PlayScreen(message.session, setup=setup)
        self._show(screen)

        def restore() -> None:
            if draft and not screen.finished:
                screen.query_one("#reply").value = draft
            if message.problem:
                screen.show_problems([message.problem], heading="Reloaded, but not every reply could be replayed:")

        self.call_after_refresh(restore)
        self.notify(f"Reloaded: replayed {message.replayed} of {len(message.replies)} replies.", markup=False)

    def reload_scorer(self) -> None:
        if self.scorer_state == "ready":
            self.notify("The scoring model is already loaded.")
            return
        self.scorer_error = ""
        self.scorer_state = "loading"
        self.load_scorer()

    # -- moving between screens ------------------------------------------------------------------------------

    def _show(self, screen: Screen) -> None:
        # Keep the stack at [default, current]: modal screens on top are closed first.
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def show_picker(self) -> None:
        from simulator.tui.trainee.screens.picker import PickerScreen

        setup = next((getattr(s, "setup") for s in reversed(self.screen_stack) if getattr(s, "setup", None)), None)
        self._show(PickerScreen(highlight=setup.scenario_id if setup is not None else None))

    def start_session(self, scenario_id: str, *, difficulty: str | None, mode: str, resume: bool | None = None,
                      fallback_to_picker: bool = False) -> bool:
        """Open the play screen on a new (or resumed) session; False, with a notification, if it cannot.
        `resume` None: resume when the app was started with resume and no scenario (the picker of `serve`)."""
        from simulator.tui.trainee.screens.play import PlayScreen

        if resume is None:
            resume = self.resume_first and self.initial_scenario is None and not self.watching

        try:
            loaded = self.library.find_scenario(scenario_id)
            scenario = self.library.require(loaded)
            rubric = self.library.rubric_for(loaded)
            session = None
            if resume:
                session = self._resume(loaded, scenario, rubric)
            if session is None:  # stored from its first reply on
                session = PracticeSession.start(scenario, rubric, trainee=self.trainee, seed=self.seed,
                                                difficulty=difficulty, mode=mode, content_hash=loaded.content_hash,
                                                link=self.link)
        except ContentError as exc:
            problems = "\n".join(str(p) for p in exc.problems[:5])
            self.notify(f"Cannot start {scenario_id}:\n{problems}", severity="error", timeout=15, markup=False)
            if fallback_to_picker:
                self.show_picker()
            return False
        except Exception as exc:  # a template in the scenario that fails to render, …
            self.notify(f"Cannot start {scenario_id}: {exc}", severity="error", timeout=15, markup=False)
            if fallback_to_picker:
                self.show_picker()
            return False
        conversation = session.conversation
        setup = Setup(scenario_id=scenario.id, difficulty=conversation.difficulty.value, mode=session.mode,
                      seed=conversation.seed, content_hash=loaded.content_hash)
        self._show(PlayScreen(session, setup=setup))
        return True

    def _resume(self, loaded: Any, scenario: Any, rubric: Any) -> PracticeSession | None:
        """The trainee's last unfinished session of the scenario, or None (with a notification saying why)."""
        session = None
        try:
            session = PracticeSession.resume(scenario, rubric, trainee=self.trainee, content_hash=loaded.content_hash,
                                             link=self.link)
        except FrontlineError as exc:
            self.notify(f"Could not resume your last session: {exc}", severity="warning", markup=False)
        if session is not None and session.finished:  # it had ended but the end was never stored: now it is
            session = None
        if session is None:
            self.notify(f"No unfinished session of {scenario.id} to resume; starting a new one.", markup=False)
        else:
            self.notify(f"Resuming your session after turn {len(session.turns)}.", markup=False)
        return session

    def show_debrief(self, session: PracticeSession, setup: Setup) -> None:
        from simulator.tui.trainee.screens.debrief import DebriefScreen

        self._show(DebriefScreen(session.conversation, setup=setup, session_id=session.session_id))

    def _play_screen(self):
        from simulator.tui.trainee.screens.play import PlayScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, PlayScreen):
                return screen
        return None

    def session_in_progress(self) -> bool:
        play = self._play_screen()
        return play is not None and not play.conversation.finished

    def _confirm_leaving(self, then: Callable[[], None], question: str) -> None:
        from simulator.tui.widgets.confirm import ConfirmScreen

        if not self.session_in_progress():
            then()
            return
        play = self._play_screen()
        saved = self.link.store is not None and play is not None and play.session.session_id is not None
        if saved:
            detail = (f"Your replies so far are saved: `frontline play {play.setup.scenario_id} --resume` "
                      "picks the session up again.")
        elif play is not None and not play.conversation.turns:
            detail = "You have not replied yet, so there is nothing to save."
        else:
            detail = "This session is not being saved, so it will be lost."

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(ConfirmScreen(question, detail, yes="Leave", no="Stay"), answered)

    # -- actions ----------------------------------------------------------------------------------------------

    def action_request_quit(self) -> None:
        from simulator.tui.widgets.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):  # asked twice: quit
            self.exit(0)
            return
        self._confirm_leaving(lambda: self.exit(0), "Quit Frontline and abandon this session?")

    def action_ctrl_c(self) -> None:
        """Ctrl+C copies a selection in the reply box; otherwise it asks to quit (never just kills the app)."""
        from textual.widgets import Input, TextArea

        focused = self.focused
        if isinstance(focused, (Input, TextArea)) and focused.selected_text:
            focused.action_copy()
            return
        self.action_request_quit()

    def action_help(self) -> None:
        from simulator.tui.trainee.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(under=self.screen))

    def action_pick(self) -> None:
        self._confirm_leaving(self.show_picker, "Abandon this session and pick another scenario?")

    def action_retry(self) -> None:
        play = self._play_screen()
        setup = play.setup if play is not None else getattr(self.screen, "setup", None)
        if setup is None:
            self.notify("Start a scenario first.")
            return
        self._confirm_leaving(
            lambda: self.start_session(setup.scenario_id, difficulty=setup.difficulty, mode=setup.mode,
                                       resume=False),
            "Abandon this session and start it again?",
        )

    # -- command palette -------------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: keys", "Show the key bindings of every screen", self.action_help)
        yield SystemCommand("Pick a scenario", "Go back to the scenario picker", self.action_pick)
        if getattr(screen, "setup", None) is not None:
            yield SystemCommand("Retry scenario", "Start this scenario again from the beginning", self.action_retry)
        toggle = getattr(screen, "action_toggle_panel", None)
        if toggle is not None:
            yield SystemCommand("Toggle side panel", "Show or hide the meters and goals", toggle)
        brief = getattr(screen, "action_toggle_brief", None)
        if brief is not None:
            yield SystemCommand("Show or fold the brief", "Show the whole brief, or fold it to one line", brief)
        if self.scorer_state == "failed":
            yield SystemCommand("Reload scoring model", "Try loading the scoring model again", self.reload_scorer)


def make_app(
    services: Any,
    *,
    scenario_id: str | None = None,
    trainee: str | None = None,
    difficulty: str | None = None,
    mode: str = "practice",
    seed: int = 0,
    library: Library | None = None,
    deterministic: bool = False,
    resume: bool = False,
    save: bool = True,
    watch: bool = False,
    name_fixed: bool = False,
    quiet: bool = False,
) -> FrontlineApp:
    """The app. `scenario_id` opens the play screen directly (else the picker); `deterministic` is the test
    profile: no cursor blink or animations, a fixed clock, the given seed."""
    return FrontlineApp(
        services,
        library=library or Library(),
        trainee=trainee or login_name(),
        scenario_id=scenario_id,
        difficulty=difficulty,
        mode=mode,
        seed=seed,
        deterministic=deterministic,
        resume=resume,
        save=save,
        watch=watch,
        name_fixed=name_fixed,
        quiet=quiet,
    )
