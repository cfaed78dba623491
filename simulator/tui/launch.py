"""Running the app from the command line: `frontline` (picker) and `frontline play SCENARIO` (play)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.content.library import Library
from simulator.session import trainee_name
from simulator.tui.trainee.app import make_app


def _trainee(args: Any) -> str:
    return trainee_name(getattr(args, "trainee", None))


def _library(args: Any) -> Library:
    """The command's library (`--scenarios` folders), plus the scenario file itself when `play` named one."""
    library = getattr(args, "library", None) or Library(getattr(args, "scenarios", None) or [])
    named = getattr(args, "scenario", None)
    if named and Path(named).suffix in (".yaml", ".yml") and Path(named).is_file() \
            and Path(named) not in library.scenario_dirs:
        library = library.including(named)
    return library


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
        library=_library(args),
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
        library=_library(args),
        resume=bool(getattr(args, "resume", False)),
        save=not getattr(args, "no_save", False),
        watch=bool(getattr(args, "watch", False)),
    )
    return _run(app)


def run_served(args: Any, services: Any) -> int:
    """`frontline serve-app`: one browser visitor's picker (`frontline serve` runs it); with --resume, picking a
    scenario continues the visitor's unfinished session of it."""
    app = make_app(
        services,
        trainee=_trainee(args),
        difficulty=getattr(args, "difficulty", None),
        mode=getattr(args, "mode", None) or "practice",
        library=_library(args),
        resume=bool(getattr(args, "resume", False)),
        name_fixed=True,
        quiet=True,  # one of many apps on a server: no blinking cursor or spinner redrawing twice a second
    )
    return _run(app)
