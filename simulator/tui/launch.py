"""Running the app from the command line: `frontline` (picker) and `frontline play SCENARIO` (play)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from simulator.tui.app import library_for, make_app


def _trainee(args: Any) -> str:
    name = getattr(args, "trainee", None)
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:
        return "trainee"


def _scenario_sources(args: Any) -> list[Any]:
    """--scenarios folders, plus the scenario file itself when `play` was given a path."""
    sources: list[Any] = list(getattr(args, "scenarios", None) or [])
    named = getattr(args, "scenario", None)
    if named and Path(named).suffix in (".yaml", ".yml") and Path(named).is_file():
        sources.append(Path(named))
    return sources


def _run(app) -> int:
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code)
    return int(result or 0)


def run_picker(args: Any, services: Any) -> int:
    """`frontline` with no command: the scenario picker."""
    app = make_app(
        services,
        trainee=_trainee(args),
        difficulty=getattr(args, "difficulty", None),
        mode=getattr(args, "mode", None) or "practice",
        seed=getattr(args, "seed", None) or 0,
        library=library_for(getattr(args, "scenarios", None)),
        save=not getattr(args, "no_save", False),
    )
    return _run(app)


def run_play(args: Any, services: Any, scenario_id: str) -> int:
    """`frontline play SCENARIO` without --replies: straight into the play screen."""
    app = make_app(
        services,
        scenario_id=scenario_id,
        trainee=_trainee(args),
        difficulty=getattr(args, "difficulty", None),
        mode=getattr(args, "mode", None) or "practice",
        seed=getattr(args, "seed", None) or 0,
        library=library_for(_scenario_sources(args)),
        resume=bool(getattr(args, "resume", False)),
        save=not getattr(args, "no_save", False),
    )
    return _run(app)
