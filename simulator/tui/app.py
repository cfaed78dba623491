"""The trainee's app: one factory, `make_app`, used by the command line (launch.py) and by the tests.

Threads: the scoring model loads in a thread worker started on mount, and each reply is scored in a thread
worker. Those threads only call the scorer (or the store, to read best results) and post a message; the UI
thread applies scores to the conversation, stores turns and updates widgets.
"""

from __future__ import annotations

import getpass
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

from simulator.loading import ContentError, Library, require
from simulator.tui.messages import ScorerLoaded, ScorerLoadFailed

MODES = ("practice", "test")
DIFFICULTIES = ("easy", "medium", "hard")
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


class Saver:
    """The session store, opened on first use. Every call degrades to doing nothing (with one warning)
    when saving is off (--no-save), the store module is not installed, or the database fails."""

    def __init__(self, services: Any, *, enabled: bool, warn: Callable[[str], None]):
        self.services = services
        self.enabled = enabled
        self._warn = warn
        self._lock = threading.Lock()
        self._store: Any = None
        self._opened = False
        self._warned = False
        self.problem: str | None = None if enabled else "saving is off (--no-save)"

    def _complain(self, message: str) -> None:
        self.problem = self.problem or message
        if not self._warned:
            self._warned = True
            self._warn(message)

    @property
    def store(self) -> Any:
        with self._lock:
            if not self._opened:
                self._opened = True
                if self.enabled:
                    try:
                        self._store = self.services.open_store()
                    except ImportError:
                        self._complain("Progress is not being saved: the session store is not available.")
                    except Exception as exc:  # a bad --db URL, a read-only folder, …
                        self._complain(f"Progress is not being saved: cannot open the database ({exc}).")
            return self._store

    def _call(self, what: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        store = self.store
        if store is None:
            return default
        try:
            return fn(store)
        except Exception as exc:
            self._complain(f"Could not {what}: {exc}")
            return default

    def best_results(self, trainee: str) -> dict[str, float]:
        return self._call("read your best results", lambda s: dict(s.best_results(trainee)), {}) or {}

    def start(self, *, trainee: str, conversation: Any, mode: str, content_hash: str) -> int | None:
        return self._call("start saving this session", lambda s: s.start_session(
            trainee=trainee, conversation=conversation, mode=mode, content_hash=content_hash))

    def record_turn(self, session_id: int | None, turn: Any) -> None:
        if session_id is not None:
            self._call("save this turn", lambda s: s.record_turn(session_id, turn))

    def finish(self, session_id: int | None, result: Any) -> None:
        if session_id is not None:
            self._call("save the result", lambda s: s.finish_session(session_id, result))

    def resume(self, trainee: str, scenario: Any, rubric: Any, scorer: Any) -> tuple[Any, int, str | None] | None:
        """The trainee's last unfinished session of `scenario`: (conversation, session id, its mode), or None.
        A session that can no longer be continued is reported and None returned."""
        store = self.store
        if store is None:
            return None
        try:
            from simulator.store import resume_conversation

            found = resume_conversation(store, trainee, scenario, rubric, scorer)
            if found is None:
                return None
            conversation, session_id = found
            mode = None
            try:
                mode = store.session(session_id).mode
            except Exception:
                pass
            return conversation, session_id, mode
        except ImportError:
            return None
        except Exception as exc:
            self._warn(f"Could not resume your last session: {exc}")
            return None

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None and hasattr(store, "close"):
            try:
                store.close()
            except Exception:
                pass


class FrontlineApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "Frontline"
    SUB_TITLE = "customer-service practice"

    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True),
        Binding("ctrl+c", "ctrl_c", "Quit", show=False, priority=True),
        Binding("f1", "help", "Help"),
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
    ) -> None:
        super().__init__()
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
        self.scorer: Any = None
        self._loading_started = False
        self.scorer_error = ""
        self.scorer_seconds: float | None = None
        self.saver = Saver(services, enabled=save, warn=self._warn_from_any_thread)
        self.launched_at = time.perf_counter()
        self.first_screen_at: float | None = None
        if deterministic:
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
        self.saver.store

    def on_unmount(self) -> None:
        self.saver.close()

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
                ids.append(require(self.library.find_scenario(self.initial_scenario)).rubric)
            else:
                ids.extend(sorted({ld.model.rubric for ld in self.library.scenarios() if ld.model is not None}))
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

    def on_scorer_load_failed(self, message: ScorerLoadFailed) -> None:
        error = message.error
        self.scorer_error = str(error) or type(error).__name__
        self.scorer_state = "failed"
        self.notify(f"The scoring model could not be loaded: {self.scorer_error}", title="Scoring model",
                    severity="error", timeout=10, markup=False)

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
        from simulator.tui.screens.picker import PickerScreen

        setup = next((getattr(s, "setup") for s in reversed(self.screen_stack) if getattr(s, "setup", None)), None)
        self._show(PickerScreen(highlight=setup.scenario_id if setup is not None else None))

    def start_session(self, scenario_id: str, *, difficulty: str | None, mode: str, resume: bool = False,
                      fallback_to_picker: bool = False) -> bool:
        """Open the play screen on a new (or resumed) session; False, with a notification, if it cannot."""
        from simulator.engine import Conversation
        from simulator.tui.screens.play import PlayScreen

        try:
            loaded = self.library.find_scenario(scenario_id)
            scenario = require(loaded)
            rubric = self.library.rubric(scenario.rubric)
            conversation = None
            session_id = None
            if resume:
                found = self.saver.resume(self.trainee, scenario, rubric, self.scorer)
                if found is not None:
                    conversation, session_id, stored_mode = found
                    mode = stored_mode if stored_mode in MODES else mode
                    if conversation.finished:  # it ended but the end was never stored: store it, start afresh
                        self.saver.finish(session_id, conversation.result())
                        conversation, session_id = None, None
                    else:
                        self.notify(f"Resuming your session after turn {len(conversation.turns)}.", markup=False)
                if conversation is None:
                    self.notify(f"No unfinished session of {scenario.id} to resume; starting a new one.",
                                markup=False)
            if conversation is None:  # stored from its first reply on (PlayScreen.record_turn)
                conversation = Conversation(scenario, rubric, None, seed=self.seed, difficulty=difficulty,
                                            trainee=self.trainee)
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
        setup = Setup(scenario_id=scenario.id, difficulty=conversation.difficulty.value, mode=mode,
                      seed=conversation.seed, content_hash=loaded.content_hash)
        self._show(PlayScreen(conversation, setup=setup, session_id=session_id))
        return True

    def show_debrief(self, conversation: Any, setup: Setup, session_id: int | None) -> None:
        from simulator.tui.screens.debrief import DebriefScreen

        self._show(DebriefScreen(conversation, setup=setup, session_id=session_id))

    def _play_screen(self):
        from simulator.tui.screens.play import PlayScreen

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
        saved = self.saver.store is not None and play is not None and play.session_id is not None
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
        from textual.widgets import Input

        focused = self.focused
        if isinstance(focused, Input) and focused.selected_text:
            focused.action_copy()
            return
        self.action_request_quit()

    def action_help(self) -> None:
        from simulator.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen())

    def action_pick(self) -> None:
        self._confirm_leaving(self.show_picker, "Abandon this session and pick another scenario?")

    def action_retry(self) -> None:
        play = self._play_screen()
        setup = play.setup if play is not None else getattr(self.screen, "setup", None)
        if setup is None:
            self.notify("Start a scenario first.")
            return
        self._confirm_leaving(
            lambda: self.start_session(setup.scenario_id, difficulty=setup.difficulty, mode=setup.mode),
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
) -> FrontlineApp:
    """The app. `scenario_id` opens the play screen directly (else the picker); `deterministic` is the test
    profile: no cursor blink or animations, a fixed clock, the given seed."""
    return FrontlineApp(
        services,
        library=library or Library(),
        trainee=trainee or _default_trainee(),
        scenario_id=scenario_id,
        difficulty=difficulty,
        mode=mode,
        seed=seed,
        deterministic=deterministic,
        resume=resume,
        save=save,
    )


def _default_trainee() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "trainee"


def library_for(scenario_dirs: Iterable[str | Path] | None) -> Library:
    return Library(scenario_dirs=[Path(p) for p in (scenario_dirs or [])])
