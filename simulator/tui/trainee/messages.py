"""Messages between the app's worker threads and its screens, and the events a session posts.

Worker threads never touch widgets: they only post one of these, and the UI thread acts on it.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ScorerLoaded(Message):
    """The scoring model is loaded (posted by the app's loading thread)."""

    def __init__(self, scorer: Any, seconds: float) -> None:
        super().__init__()
        self.scorer = scorer
        self.seconds = seconds


class ScorerLoadFailed(Message):
    """The scoring model could not be loaded; `error` says why."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class ReplyScored(Message):
    """A reply came back from the scorer. `turn_id` identifies the submission; stale ones are dropped."""

    def __init__(self, turn_id: int, reply: str, score: Any, seconds: float) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.reply = reply
        self.score = score
        self.seconds = seconds


class ScoringFailed(Message):
    """The scorer raised while scoring a reply; the session goes on and the reply can be sent again."""

    def __init__(self, turn_id: int, reply: str, error: BaseException) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.reply = reply
        self.error = error


class ScenariosLoaded(Message):
    """The picker's scenario entries, read and validated off the UI thread; `broken` lists the files that cannot
    be played, each as (path, its problems as FILE:LINE:COL lines)."""

    def __init__(self, entries: list[Any], broken: list[tuple[str, list[str]]]) -> None:
        super().__init__()
        self.entries = entries
        self.broken = broken


class BestResultsLoaded(Message):
    """The trainee's best result per scenario, read from the store off the UI thread; `trainee` is whose."""

    def __init__(self, best: dict[str, float], trainee: str | None = None) -> None:
        super().__init__()
        self.best = best
        self.trainee = trainee


class TurnApplied(Message):
    """A scored reply moved the conversation on (posted on the UI thread, after the turn was stored)."""

    def __init__(self, turn: Any, session_id: int | None) -> None:
        super().__init__()
        self.turn = turn
        self.session_id = session_id


class SessionFinished(Message):
    """The conversation reached an ending; `result` is the engine's SessionResult."""

    def __init__(self, result: Any, session_id: int | None) -> None:
        super().__init__()
        self.result = result
        self.session_id = session_id


class WatchReplayed(Message):
    """--watch: the edited scenario loaded and the conversation was replayed on it (off the UI thread).

    `session` is the new session; `replayed` how many of the earlier replies it took; `problem` says why the
    rest were not replayed (the conversation now ends sooner, or a line failed), if any."""

    def __init__(self, session: Any, replies: list[str], replayed: int, problem: str | None) -> None:
        super().__init__()
        self.session = session
        self.replies = replies
        self.replayed = replayed
        self.problem = problem
