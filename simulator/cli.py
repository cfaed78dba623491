"""`frontline …`: thin commands over the core modules. Bad input prints FILE:LINE:COL lines and exits 2."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence, TextIO

from simulator import __version__
from simulator.loading import ContentError, Library, require

EXIT_OK = 0
EXIT_BAD_INPUT = 2


@dataclass
class Services:
    """What commands and the app need from outside the core; tests swap in fakes here."""

    scorer_factory: Callable[[], object] | None = None
    """Returns a Scorer. None: the real model (`simulator.scoring.model.default_scorer`)."""
    db_url: str | None = None
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def make_scorer(self):
        if self.scorer_factory is not None:
            return self.scorer_factory()
        from simulator.scoring.model import default_scorer

        return default_scorer()

    def open_store(self):
        """The session store (SQLite by default). Imported here so commands that need none stay light."""
        from simulator.store import Store

        return Store(self.db_url)


class UsageError(Exception):
    """Bad input from the command line; printed as `frontline: message`, exit 2."""


def _library(args) -> Library:
    extra = [Path(p) for p in (getattr(args, "scenarios", None) or [])]
    return Library(scenario_dirs=extra)


# -- list / validate / schema --------------------------------------------------------------------------------


def cmd_list(args, services: Services) -> int:
    out = services.stdout
    broken = 0
    for loaded in _library(args).scenarios():
        s = loaded.model
        if s is None:
            broken += 1
            continue
        out.write(f"{s.id:<24} {s.difficulty.value:<7} {s.title}\n{'':<33}{s.summary}\n")
    if broken:
        services.stderr.write(f"frontline: {broken} scenario file(s) have errors; run `frontline validate`\n")
    return EXIT_OK


def cmd_validate(args, services: Services) -> int:
    from simulator.validate import validate_paths

    report = validate_paths([Path(p) for p in args.paths])
    for problem in report.problems:
        services.stdout.write(f"{problem}\n")
    n_err, n_warn = len(report.errors), len(report.warnings)
    summary = f"{len(report.files)} file(s) checked: {n_err} error(s), {n_warn} warning(s)"
    services.stderr.write(summary + "\n")
    return EXIT_BAD_INPUT if report.errors else EXIT_OK


def cmd_schema(args, services: Services) -> int:
    from simulator.schema import write_schemas

    for path in write_schemas(Path(args.out)):
        services.stdout.write(f"wrote {path}\n")
    return EXIT_OK


# -- play ------------------------------------------------------------------------------------------------------


def _read_replies(source: str, services: Services) -> list[str]:
    if source == "-":
        text = services.stdin.read()
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read replies file {source}: {getattr(exc, 'strerror', None) or exc}") from None
    replies = [line.strip() for line in text.splitlines() if line.strip()]
    if not replies:
        raise UsageError(f"{source}: no replies in the file (one reply per line)")
    return replies


def cmd_play(args, services: Services) -> int:
    from simulator.engine import Conversation

    library = _library(args)
    loaded = library.find_scenario(args.scenario)
    scenario = require(loaded)
    rubric = library.rubric(scenario.rubric)
    if args.replies is None:
        from simulator.tui.launch import run_play  # imports textual only now

        return run_play(args, services, scenario_id=scenario.id)
    replies = _read_replies(args.replies, services)
    scorer = services.make_scorer()
    if getattr(args, "resume", False):  # rebuild the last unfinished session; the replies continue it
        from simulator.store import resume_for_play

        conversation, recorder = resume_for_play(args, services, scenario, rubric, scorer)
    else:
        conversation = Conversation(scenario, rubric, scorer, seed=args.seed, difficulty=args.difficulty,
                                    trainee=args.trainee)
        recorder = _recorder(args, services, conversation, loaded.content_hash)
    used = 0
    for reply in replies:
        if conversation.finished:
            break
        turn = conversation.respond(reply)
        used += 1
        if recorder:
            recorder.turn_scored(turn)
    if recorder and conversation.finished:
        recorder.finished(conversation.result())
    unused = len(replies) - used
    if args.json:
        _print_json(conversation, unused, services.stdout)
    else:
        _print_transcript(conversation, unused, services.stdout)
    return EXIT_OK


def _recorder(args, services: Services, conversation, content_hash: str):
    """The store's session recorder, or None with --no-save."""
    if getattr(args, "no_save", False):
        return None
    from simulator.store import open_recorder

    return open_recorder(args, services, conversation, content_hash)


def _print_transcript(conversation, unused: int, out: TextIO) -> None:
    s = conversation.scenario
    name = s.persona.name
    out.write(f"{s.title} — {s.setting.business} (difficulty {conversation.difficulty.value}, seed {conversation.seed})\n\n")
    out.write(f"{name}: {conversation.opening}\n")
    for turn in conversation.turns:
        out.write(f"\nYou: {turn.reply}\n")
        parts = [f"{cid} {turn.scores[cid]:.2f} (level {turn.levels[cid]})" for cid in turn.scores]
        out.write(f"  scores: {', '.join(parts)}; overall {turn.overall:.2f}\n")
        for cid, spans in turn.evidence.items():
            if spans:
                out.write(f"  {cid} because: " + " | ".join(f'"{s_}"' for s_ in spans) + "\n")
        if turn.red_flags:
            out.write(f"  red flags: {', '.join(turn.red_flags)}\n")
        if turn.goals_met:
            out.write(f"  goals met: {', '.join(turn.goals_met)}\n")
        out.write(f"  mood {turn.mood_before:.0f} -> {turn.mood_after:.0f}, patience {turn.patience_after}\n")
        out.write(f"\n{name}: {turn.customer_reaction}\n")
    out.write("\n")
    if conversation.finished:
        r = conversation.result()
        verdict = "PASS" if r.passed else "FAIL"
        out.write(f"Ending: {r.ending} ({r.ending_kind}) — {r.ending_summary}\n")
        out.write(f"Result: {verdict}, overall {r.overall:.2f} against pass mark {r.pass_mark:.2f}\n")
        for cid, avg in r.averages.items():
            out.write(f"  {cid}: {avg:.2f}\n")
    else:
        out.write(f"Not finished: the replies ran out at turn {len(conversation.turns)}; "
                  f"{name} is waiting for your next reply.\n")
    if unused:
        out.write(f"({unused} reply line(s) not used: the conversation had already ended)\n")


def _print_json(conversation, unused: int, out: TextIO) -> None:
    from dataclasses import asdict

    s = conversation.scenario
    doc = {
        "scenario": s.id,
        "seed": conversation.seed,
        "difficulty": conversation.difficulty.value,
        "opening": conversation.opening,
        "turns": [t.to_dict() for t in conversation.turns],
        "finished": conversation.finished,
        "result": asdict(conversation.result()) if conversation.finished else None,
        "unused_replies": unused,
    }
    json.dump(doc, out, indent=2, ensure_ascii=False)
    out.write("\n")


# -- wiring ----------------------------------------------------------------------------------------------------


def _add_session_options(parser: argparse.ArgumentParser, default=None) -> None:
    """Options of a practice session: for the picker (`frontline --trainee sam`) and for `play`."""
    parser.add_argument("--trainee", default=default, help="your name, for your progress record "
                                                           "(default: your login name)")
    parser.add_argument("--difficulty", choices=["easy", "medium", "hard"], default=default,
                        help="default: the scenario's own")
    parser.add_argument("--mode", choices=["practice", "test"], default="practice" if default is None else default,
                        help="test mode holds feedback back until the debrief (default: practice)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontline", description="Customer-service role-play practice.")
    parser.add_argument("--version", action="version", version=f"frontline {__version__}")
    parser.add_argument("--db", help="database URL (default: SQLite in your data folder; or FRONTLINE_DB)")
    parser.add_argument("--scenarios", action="append", metavar="DIR", help="also offer the scenarios in DIR")
    _add_session_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list the scenarios")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("validate", help="check scenario and rubric files; prints FILE:LINE:COL: problem")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("schema", help="write JSON Schema for scenario and rubric files")
    p.add_argument("--out", default="schemas", help="folder to write into (default: schemas)")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("play", help="play a scenario (interactive, or with --replies FILE)")
    p.add_argument("scenario", help="scenario id (see `frontline list`) or path to a scenario file")
    p.add_argument("--replies", metavar="FILE", help="play without a screen: one reply per line ('-' = stdin)")
    p.add_argument("--json", action="store_true", help="with --replies: print the transcript as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed for the customer's line variants (default 0)")
    _add_session_options(p, default=argparse.SUPPRESS)  # given after `play`, they win over the global ones
    p.add_argument("--no-save", action="store_true", help="do not store this session")
    p.add_argument("--resume", action="store_true", help="continue your last unfinished session of SCENARIO")
    p.set_defaults(handler=cmd_play)

    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules():
    """Command groups that live beside their subject (scoring; store, review and reports)."""
    from simulator import store_commands
    from simulator.scoring import commands as scoring_commands

    return [scoring_commands, store_commands]


def main(argv: Sequence[str] | None = None, services: Services | None = None) -> int:
    services = services or Services()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.db:
        services.db_url = args.db
    try:
        if args.command is None:
            from simulator.tui.launch import run_picker

            return run_picker(args, services)
        return args.handler(args, services)
    except ContentError as exc:
        for problem in exc.problems:
            services.stderr.write(f"{problem}\n")
        return EXIT_BAD_INPUT
    except UsageError as exc:
        services.stderr.write(f"frontline: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        services.stderr.write("frontline: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    sys.exit(main())
