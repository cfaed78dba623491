"""`frontline …`: the parser, the global options and the one place errors are turned into exit statuses.

Each command group lives in its own module with a `register(subparsers)`; handlers take (args, services) and
return the exit status. A `FrontlineError` from anywhere below is printed by `errors.print_error` (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from simulator import __version__
from simulator.cli.inputs import has_surrogate
from simulator.errors import EXIT_INTERRUPTED, EXIT_OK, FrontlineError, UsageError, print_error
from simulator.services import Services
from simulator.terminal import clean


def _command_modules():
    from simulator.cli import authoring, calibrate, content, play, scoring, serve, sessions, testing

    return [content, authoring, play, testing, scoring, sessions, serve, calibrate]


def _add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--db and --scenarios, accepted before the command and after it (after wins)."""
    default = None if top_level else argparse.SUPPRESS
    group = parser.add_argument_group("global options")
    group.add_argument("--db", default=default,
                       help="database URL (default: SQLite in your data folder; or FRONTLINE_DB)")
    group.add_argument("--scenarios", action="append", default=default, metavar="DIR",
                       help="also offer the scenarios in DIR (repeatable)")
    group.add_argument("--scorer", default=default, metavar="DIR",
                       help="score with the calibrated scorer in DIR (`frontline calibrate`; or FRONTLINE_SCORER_DIR)")


def build_parser() -> argparse.ArgumentParser:
    from simulator.cli.play import add_session_options

    parser = argparse.ArgumentParser(prog="frontline", description="Customer-service role-play practice.")
    parser.add_argument("--version", action="version", version=f"frontline {__version__}")
    _add_global_options(parser, top_level=True)
    add_session_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    for command in sub.choices.values():
        _add_global_options(command, top_level=False)
    return parser


def _check_argv(argv: Sequence[str]) -> None:
    """Python hands undecodable bytes in argv over as lone surrogates; say so instead of failing later."""
    for arg in argv:
        if has_surrogate(arg):
            raise UsageError(f"the argument {clean(arg, one_line=True)!r} is not valid UTF-8 text; retype it")


def _library(args):
    from simulator.content.library import Library

    return Library(scenario_dirs=[Path(p) for p in (args.scenarios or [])])


def _use_scorer(folder: str | None, services: Services) -> None:
    """--scorer DIR (else FRONTLINE_SCORER_DIR): checked here, so a wrong folder is a message, not a traceback."""
    if folder is not None:
        services.scorer_dir = folder
    chosen = services.scorer_folder()
    if chosen is None:
        return
    where = "--scorer" if folder is not None else "FRONTLINE_SCORER_DIR"
    if not chosen.is_dir() or not any(chosen.glob("*.npz")):
        raise UsageError(f"{where} {clean(str(chosen), one_line=True)} is not a scorer folder (no trained heads "
                         "in it); give the --out folder of `frontline calibrate`")


def main(argv: Sequence[str] | None = None, services: Services | None = None) -> int:
    services = services or Services()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_argv(argv)
        args = build_parser().parse_args(argv)
        if args.db is not None:
            if not args.db.strip():
                raise UsageError("--db is empty; give a database URL, or leave --db out for the default database")
            services.db_url = args.db
        _use_scorer(args.scorer, services)
        args.library = _library(args)
        if args.command is None:
            from simulator.tui.launch import run_picker

            return run_picker(args, services)
        return args.handler(args, services)
    except FrontlineError as exc:
        return print_error(exc, services.stderr)
    except KeyboardInterrupt:
        services.stderr.write("frontline: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    sys.exit(main())
