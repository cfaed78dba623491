"""One practice session: the conversation, the scorer and the store, driven through one object.

The headless `frontline play --replies`, the trainee app, `--watch` and the browser all drive a
`PracticeSession`:

    session = PracticeSession.start(scenario, rubric, scorer=scorer, link=link, trainee="sam", seed=3)
    turn = session.submit("I'm sorry — let me sort this out now.")   # score, move on, store
    ...
    if session.finished: session.result

An app that scores in a worker thread asks for `session.request_for(reply)` there, calls the scorer, and
hands the score back with `session.apply(reply, score)` on its own thread. Either way every scored turn is
committed before the call returns; the session row itself is stored with its first turn, so opening a
scenario and leaving without replying stores nothing.

`StoreLink` is the session's way to the store. It opens the store on first use (an app opens it in a
background thread), and either raises `StoreError` (the command line: exit 2) or, when given `warn`, reports a
failure once and lets the trainee play on unsaved (the apps).
"""

from __future__ import annotations

import getpass
import threading
from typing import Any, Callable

from simulator.content.rubric import Rubric
from simulator.content.scenario import MODES, Difficulty, Scenario
from simulator.engine import Conversation, SessionResult, Turn
from simulator.errors import ResumeError, StoreError, UsageError
from simulator.scoring.base import ReplyScore, Scorer, ScoreRequest


def login_name() -> str:
    """The user's login name, or "trainee" where there is none (some containers)."""
    try:
        return getpass.getuser() or "trainee"
    except Exception:
        return "trainee"


def trainee_name(name: str | None = None) -> str:
    """The name given, else the login name: how a trainee is known in the store."""
    if name and name.strip():
        return name.strip()
    return login_name()


def check_reply(reply: str) -> str:
    """A reply as the session takes it; raises UsageError for one no back-end can store (a NUL byte)."""
    if "\x00" in reply:
        raise UsageError("a reply contains a NUL byte (\\0), which cannot be stored; remove it")
    return reply


# -- the way to the store ---------------------------------------------------------------------------------------


class StoreLink:
    """The session store, opened on first use, shared by every session of one process.

    Without `warn`, every failure raises StoreError. With `warn(message)`, a failure is reported once and the
    call does nothing more (saving stops, playing goes on); `problem` then says why.
    """

    def __init__(self, open_store: Callable[[], Any] | None, *, warn: Callable[[str], None] | None = None):
        self._open_store = open_store
        self._warn = warn
        self._lock = threading.Lock()
        self._store: Any = None
        self._opened = False
        self.problem: str | None = None if open_store is not None else "saving is off (--no-save)"

    @property
    def enabled(self) -> bool:
        return self._open_store is not None

    def _fail(self, message: str, exc: BaseException | None = None) -> None:
        if self._warn is None:
            if isinstance(exc, StoreError):
                raise exc
            raise StoreError(message) from None
        if self.problem is None:  # the first failure is reported; later ones only repeat it
            self.problem = message
            self._warn(message)

    @property
    def store(self) -> Any:
        """The open store, or None when saving is off or the store could not be opened (lenient links)."""
        with self._lock:
            if not self._opened and self._open_store is not None:
                self._opened = True
                try:
                    self._store = self._open_store()
                except ImportError:
                    self._fail("Progress is not being saved: the session store is not available.")
                except Exception as exc:  # a bad --db URL, a read-only folder, …
                    self._opened = self._warn is not None  # a strict link may be asked again
                    self._fail(f"Progress is not being saved: cannot open the database ({exc}).", exc)
            return self._store

    def call(self, what: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        store = self.store
        if store is None:
            return default
        try:
            return fn(store)
        except Exception as exc:
            self._fail(f"Could not {what}: {exc}", exc)
            return default

    def best_results(self, trainee: str) -> dict[str, float]:
        return self.call("read your best results", lambda s: dict(s.best_results(trainee)), {}) or {}

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:
                pass


NO_SAVE = StoreLink(None)
"""A link that stores nothing (--no-save)."""


# -- one session ----------------------------------------------------------------------------------------------------


class PracticeSession:
    """A conversation being played: scored with `scorer`, stored through `link` turn by turn."""

    def __init__(self, conversation: Conversation, *, trainee: str, mode: str = "practice",
                 content_hash: str = "", scorer: Scorer | None = None, link: StoreLink = NO_SAVE,
                 session_id: int | None = None):
        if mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.conversation = conversation
        self.trainee = trainee
        self.mode = mode
        self.content_hash = content_hash
        self.scorer = scorer
        self.link = link
        self.session_id = session_id
        self._start_tried = session_id is not None
        self._finish_stored = False

    # -- starting

    @classmethod
    def start(cls, scenario: Scenario, rubric: Rubric, *, trainee: str | None = None,
              display_name: str | None = None, seed: int = 0, difficulty: Difficulty | str | None = None,
              mode: str = "practice", content_hash: str = "", scorer: Scorer | None = None,
              link: StoreLink = NO_SAVE) -> PracticeSession:
        """A new session. `trainee` is the name it is stored under (default: the login name); `display_name`
        is how the customer's lines address the trainee ({{ trainee }}), by default the same name."""
        stored_as = trainee_name(trainee)
        conversation = Conversation(scenario, rubric, scorer, seed=seed, difficulty=difficulty,
                                    trainee=display_name or stored_as)
        return cls(conversation, trainee=stored_as, mode=mode, content_hash=content_hash, scorer=scorer, link=link)

    @classmethod
    def resume(cls, scenario: Scenario, rubric: Rubric, *, trainee: str | None = None,
               display_name: str | None = None, content_hash: str = "", scorer: Scorer | None = None,
               link: StoreLink, mode: str | None = None) -> PracticeSession | None:
        """The trainee's last unfinished session of `scenario`, rebuilt turn by turn, or None if there is none.

        Raises ResumeError when the scenario changed so that the stored turns no longer replay the same way.
        A session that had ended without its end being stored (the process died in between) is finished now.
        """
        stored_as = trainee_name(trainee)
        store = link.store
        if store is None:
            return None
        stored = link.call("find your last session", lambda s: s.last_unfinished(stored_as, scenario.id))
        if stored is None:
            return None
        conversation = replay(stored, scenario, rubric, scorer, display_name=display_name or stored_as)
        session = cls(conversation, trainee=stored_as, mode=stored.mode if stored.mode in MODES else (mode or "practice"),
                      content_hash=content_hash, scorer=scorer, link=link, session_id=stored.id)
        if conversation.finished:
            session._store_finish()
        return session

    # -- playing

    @property
    def finished(self) -> bool:
        return self.conversation.finished

    @property
    def result(self) -> SessionResult:
        return self.conversation.result()

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def request_for(self, reply: str) -> ScoreRequest:
        """What to ask the scorer about `reply` now (for a caller that scores in another thread)."""
        return self.conversation.request_for(check_reply(reply))

    def submit(self, reply: str) -> Turn:
        """Score `reply` with the session's scorer, move the conversation on and store the turn."""
        if self.scorer is None:
            raise RuntimeError("this session has no scorer; score elsewhere and call apply()")
        return self.apply(reply, self.scorer.score(self.request_for(reply)))

    def apply(self, reply: str, score: ReplyScore) -> Turn:
        """Move the conversation on by a reply already scored, and store the turn (and the end, if it ended)."""
        turn = self.conversation.apply(check_reply(reply), score)
        self._store_turn(turn)
        if self.conversation.finished:
            self._store_finish()
        return turn

    # -- storing

    def _store_turn(self, turn: Turn) -> None:
        if not self.link.enabled:
            return
        if self.session_id is None:
            if self._start_tried:
                return  # starting failed once (and was reported); the rest of this session goes unsaved
            self._start_tried = True
            # start_session stores the turns the conversation already has, this one included
            self.session_id = self.link.call("start saving this session", lambda s: s.start_session(
                trainee=self.trainee, conversation=self.conversation, mode=self.mode,
                content_hash=self.content_hash, scorer_version=turn.model_version))
            return
        self.link.call("save this turn", lambda s: s.record_turn(self.session_id, turn))

    def _store_finish(self) -> None:
        if self._finish_stored or self.session_id is None:
            return
        self._finish_stored = True
        result = self.conversation.result()
        self.link.call("save the result", lambda s: s.finish_session(self.session_id, result))


# -- rebuilding a stored session ------------------------------------------------------------------------------------


def _same_course(replayed: Turn, stored: Any) -> bool:
    return (
        replayed.beat == stored.beat
        and replayed.customer_line == stored.customer_line
        and replayed.customer_reaction == stored.customer_reaction
        and replayed.ending == stored.ending
        and replayed.patience_after == stored.patience_after
        and abs(replayed.mood_after - stored.mood_after) < 1e-9
    )


def replay(stored: Any, scenario: Scenario, rubric: Rubric, scorer: Scorer | None = None, *,
           display_name: str | None = None) -> Conversation:
    """A Conversation in exactly the state `stored` (a StoredSession) left it: same seed and difficulty, the
    stored turns applied with their stored scores. `display_name` defaults to the stored trainee's name."""
    conversation = Conversation(scenario, rubric, scorer, seed=stored.seed, difficulty=stored.difficulty,
                                trainee=display_name or stored.trainee)
    changed = (f"session {stored.id} cannot be continued: scenario {scenario.id!r} or rubric {rubric.id!r} has "
               "changed since it was played")
    for turn in stored.turns:
        if conversation.finished:
            raise ResumeError(f"{changed} (it now ends before turn {turn.number}); start a new session")
        try:
            replayed = conversation.apply(turn.reply, turn.reply_score(rubric))
        except KeyError as exc:
            raise ResumeError(f"{changed} (criterion {exc} is new); start a new session") from None
        if not _same_course(replayed, turn):
            raise ResumeError(f"{changed} (turn {turn.number} now goes differently); start a new session")
    return conversation
