"""Commands over the session store: review, export, export-labels, progress.

Registered by `simulator.cli` (see `_command_modules`). Handlers take (args, services) and return the exit
status; a StoreError or UsageError reaches `cli.main`, which prints `frontline: message` and exits 2.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from simulator.errors import EXIT_OK, UsageError
from simulator.services import Services
from simulator.terminal import clean


def _date(flag: str):
    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes a date like 2026-03-01, not {text!r}") from None

    return parse


def _write(text: str, out: str | None, services: Services, fmt: str) -> str:
    """Write to the file `out` ('-' or None: stdout); returns where it went, for messages. A file gets the exact
    text; stdout may be a terminal, so there stored text is made inert (JSON losslessly, with \\u escapes)."""
    if out in (None, "-"):
        from simulator.reports.exports import for_terminal

        services.stdout.write(for_terminal(text, fmt))
        return "stdout"
    path = Path(out).expanduser()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return str(path)


# -- review -------------------------------------------------------------------------------------------------------


def cmd_review(args, services: Services) -> int:
    from simulator.session import trainee_name
    from simulator.store.connection import check_storable

    reviewer = trainee_name(args.reviewer)
    check_storable("--reviewer", reviewer)  # before the app opens: it signs every override with this name
    store = services.open_store()
    try:
        from simulator.tui.review.app import make_review_app

        passed = True if args.passed else False if args.failed else None
        app = make_review_app(
            store, reviewer=reviewer, trainee=args.trainee, scenario=args.scenario,
            since=args.since, until=args.until, passed=passed, unreviewed=args.unreviewed,
        )
        app.run()
    finally:
        store.close()
    return EXIT_OK


# -- export ---------------------------------------------------------------------------------------------------------


def cmd_export(args, services: Services) -> int:
    from simulator.reports.exports import FORMATS, render

    fmt = args.format
    if fmt is None and args.out not in (None, "-"):
        suffix = Path(args.out).suffix.lower().lstrip(".")
        fmt = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
        if fmt not in FORMATS:
            raise UsageError(f"cannot tell the format from {args.out}; give --format {'|'.join(FORMATS)}")
    fmt = fmt or "md"
    if args.all == (args.session is not None):
        raise UsageError("give a SESSION_ID or --all (not both); `frontline review` lists the sessions")
    store = services.open_store()
    try:
        if args.all:
            sessions = store.sessions(trainee=args.trainee, scenario=args.scenario, with_turns=True,
                                      newest_first=False)
            if not sessions:
                raise UsageError("no sessions to export" + (" with those filters" if args.trainee or args.scenario
                                                            else "; play one with `frontline play SCENARIO`"))
        else:
            try:
                session_id = int(args.session)
            except ValueError:
                raise UsageError(f"{args.session!r} is not a session id (a number); `frontline review` lists "
                                 "them") from None
            sessions = [store.session(session_id)]
    finally:
        store.close()
    where = _write(render(sessions, fmt, single=not args.all), args.out, services, fmt)
    if where != "stdout":
        services.stderr.write(clean(f"wrote {len(sessions)} session(s) as {fmt} to {where}") + "\n")
    return EXIT_OK


# -- export-labels ------------------------------------------------------------------------------------------------


def cmd_export_labels(args, services: Services) -> int:
    from simulator.reports.exports import agreement_table, label_rows, to_jsonl

    store = services.open_store()
    try:
        sessions = store.sessions(with_turns=True, newest_first=False)
    finally:
        store.close()
    rows = label_rows(sessions, include_confirmed=args.include_confirmed)
    where = _write(to_jsonl(rows), args.out, services, "jsonl")
    # The labels may be on stdout: the summary goes beside them, on stderr, unless they went to a file.
    report = services.stdout if where != "stdout" else services.stderr
    if where != "stdout":
        report.write(clean(f"wrote {len(rows)} labelled example(s) to {where}") + "\n\n")
    else:
        report.write(f"{len(rows)} labelled example(s)\n\n")
    report.write(clean(agreement_table(sessions)))
    return EXIT_OK


# -- agreement -----------------------------------------------------------------------------------------------------


def cmd_agreement(args, services: Services) -> int:
    import json

    from simulator.reports.exports import agreement_report, agreement_text

    store = services.open_store()
    try:
        sessions = store.sessions(with_turns=True, newest_first=False, since=args.since, until=args.until,
                                  trainee=args.trainee, scenario=args.scenario)
    finally:
        store.close()
    report = agreement_report(sessions)
    if args.json:
        from simulator.reports.exports import json_for_terminal

        services.stdout.write(json_for_terminal(json.dumps(report, indent=2, ensure_ascii=False) + "\n"))
    else:
        services.stdout.write(clean(agreement_text(report)))
    return EXIT_OK


# -- progress -------------------------------------------------------------------------------------------------------


def cmd_progress(args, services: Services) -> int:
    from simulator.reports.progress import Filters, team_csv, team_html, team_report, trainee_report

    if not 40 <= args.width <= 400:
        raise UsageError(f"--width must be between 40 and 400 columns, not {args.width}")
    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since} is after --until {args.until}; swap them")
    filters = Filters(since=args.since, until=args.until, scenario=args.scenario, difficulty=args.difficulty)
    store = services.open_store()
    try:
        if args.trainee:
            if args.format != "text":
                raise UsageError("--format html|csv is the team report; leave out --trainee, or use text")
            text = trainee_report(store, args.trainee, width=args.width, filters=filters)
        elif args.format == "html":
            text = team_html(store, filters=filters)
        elif args.format == "csv":
            text = team_csv(store, filters=filters)
        else:
            text = team_report(store, filters=filters)
    finally:
        store.close()
    if args.out:
        where = _write(text, args.out, services, args.format)
        services.stderr.write(clean(f"wrote the progress report to {where}") + "\n")
        return EXIT_OK
    services.stdout.write(clean(text))  # names and ids are cleaned as the report is built; this is the backstop
    return EXIT_OK


# -- wiring -----------------------------------------------------------------------------------------------------


def register(sub) -> None:
    p = sub.add_parser("review", help="trainer review: browse sessions, override scores, mark them reviewed")
    p.add_argument("--trainee", help="only this trainee's sessions")
    p.add_argument("--scenario", help="only sessions of this scenario id")
    p.add_argument("--since", type=_date("--since"), help="only sessions started on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", type=_date("--until"), help="only sessions started on or before this date")
    result = p.add_mutually_exclusive_group()
    result.add_argument("--failed", action="store_true", help="only failed sessions")
    result.add_argument("--passed", action="store_true", help="only passed sessions")
    p.add_argument("--unreviewed", action="store_true", help="only sessions not yet marked reviewed")
    p.add_argument("--reviewer", help="your name on overrides and reviews (default: your login name)")
    p.set_defaults(handler=cmd_review)

    p = sub.add_parser("export", help="write sessions as a report: Markdown, self-contained HTML, JSON or CSV")
    p.add_argument("session", nargs="?", metavar="SESSION_ID", help="the session to export")
    p.add_argument("--all", action="store_true", help="export every session (with --trainee/--scenario: those)")
    p.add_argument("--trainee", help="with --all: only this trainee's sessions")
    p.add_argument("--scenario", help="with --all: only sessions of this scenario id")
    p.add_argument("--format", choices=["md", "html", "json", "csv", "xapi"],
                   help="default: from the --out file's extension, else md")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("export-labels",
                       help="trainer overrides as labelled JSONL for the scorer; prints model-trainer agreement")
    p.add_argument("--out", metavar="FILE", help="write the JSONL here instead of stdout")
    p.add_argument("--include-confirmed", action="store_true",
                   help="also label every turn of reviewed sessions (the trainer kept the model's levels)")
    p.set_defaults(handler=cmd_export_labels)

    p = sub.add_parser("agreement", help="the model against the trainers' levels: per criterion, trainer and "
                                         "scorer version")
    p.add_argument("--trainee", help="only this trainee's sessions")
    p.add_argument("--scenario", help="only sessions of this scenario id")
    p.add_argument("--since", type=_date("--since"), help="only sessions started on or after this date")
    p.add_argument("--until", type=_date("--until"), help="only sessions started on or before this date")
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.set_defaults(handler=cmd_agreement)

    p = sub.add_parser("progress", help="per-criterion progress of a trainee, or a team summary")
    p.add_argument("--trainee", metavar="NAME", help="one trainee's trend (default: the whole team)")
    p.add_argument("--since", type=_date("--since"), help="only sessions started on or after this date")
    p.add_argument("--until", type=_date("--until"), help="only sessions started on or before this date")
    p.add_argument("--scenario", help="only sessions of this scenario id")
    p.add_argument("--difficulty", choices=["easy", "medium", "hard"], help="only sessions at this difficulty")
    p.add_argument("--format", choices=["text", "html", "csv"], default="text",
                   help="text (default), a printable HTML team report, or CSV")
    p.add_argument("--out", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--width", type=int, default=78, help="chart width in columns (default 78)")
    p.set_defaults(handler=cmd_progress)

