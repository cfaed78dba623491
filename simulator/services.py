"""What commands and apps need from outside the core, in one object the tests replace.

The command line builds one `Services` (the database URL from `--db`, the real scorer) and hands it to the
command or app; tests build one with a fake scorer, a temporary database and string streams.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, TextIO


@dataclass
class Services:
    scorer_factory: Callable[[], object] | None = None
    """Returns a Scorer. None: the scoring service at FRONTLINE_SCORER if set, else the real model
    (`simulator.scoring.model.default_scorer`)."""
    db_url: str | None = None
    """None: FRONTLINE_DB, else the SQLite file in the data folder (see `simulator.settings`)."""
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    scorer_dir: str | None = None
    """A calibrated scorer folder (`--scorer DIR`); None: FRONTLINE_SCORER_DIR, else the shipped heads."""

    def scorer_folder(self):
        """The heads folder to score with: --scorer, else FRONTLINE_SCORER_DIR, else None (the shipped heads)."""
        from pathlib import Path

        from simulator import settings

        chosen = self.scorer_dir or settings.current().scorer_dir
        return Path(chosen).expanduser() if chosen else None

    def make_scorer(self):
        if self.scorer_factory is not None:
            return self.scorer_factory()
        from simulator import settings

        address = settings.current().scorer
        if address is not None:  # a scoring service shared by many sessions (frontline serve)
            from simulator.scoring.service import ScoringClient

            return ScoringClient(address)
        from simulator.scoring.model import default_scorer  # torch/onnx only when a scorer is needed

        return default_scorer(self.scorer_folder())

    def open_store(self):
        """The session store. Imported here so commands that need none stay light."""
        from simulator.store import Store

        return Store(self.db_url)
