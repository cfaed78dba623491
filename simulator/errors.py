"""Every error a user can fix, and the one printer that shows them.

A `FrontlineError` is never a bug: it is bad input (a file, an option, a database URL, a reply) and its
message says what is wrong and what to do. The command line prints it with `print_error` and exits 2; the
apps show the same text in a notification. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
"""A check that ran and found failures (e.g. a scenario's own tests)."""
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or suspicious) in a file, printed as FILE:LINE:COL: message."""

    file: str
    line: int
    col: int
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}:{self.col}: {tag}{self.message}"


class FrontlineError(Exception):
    """Bad input the user can fix; the message says what to do. Printed as `frontline: message`, exit 2."""


class UsageError(FrontlineError):
    """A command-line option or argument that cannot be used."""


class ContentError(FrontlineError):
    """A scenario or rubric file that cannot be used; `problems` lists why, each with its line and column."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(FrontlineError):
    """The session store cannot do what was asked (database unreachable, unknown session, …)."""


class ResumeError(StoreError):
    """A stored session cannot be continued (the scenario or rubric changed since it was played)."""


class ScorerError(FrontlineError):
    """The scoring model cannot be loaded or cannot score this input."""


def print_error(exc: FrontlineError, stream: TextIO) -> int:
    """Print `exc` the way every command does and return the exit status to use."""
    from simulator.terminal import clean

    if isinstance(exc, ContentError):
        for problem in exc.problems:
            stream.write(clean(str(problem)) + "\n")
    else:
        stream.write(f"frontline: {clean(str(exc))}\n")
    return EXIT_BAD_INPUT
