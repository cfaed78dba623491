"""`frontline serve` (the app in a browser), `frontline scorer-service` (one model for many sessions), and
`frontline serve-app` (one browser visitor's app: what `serve` runs for each visitor)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from simulator.content.scenario import DIFFICULTIES, MODES
from simulator.errors import EXIT_OK, UsageError
from simulator.services import Services


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


# -- frontline scorer-service -----------------------------------------------------------------------------------


def default_service_address() -> str:
    from simulator.settings import data_dir

    return f"unix:{data_dir() / 'scorer.sock'}"


def cmd_scorer_service(args, services: Services) -> int:
    from simulator.scoring.service import ScoringService, parse_address
    from simulator.scoring.model import default_scorer

    address = parse_address(args.listen or default_service_address())
    out = services.stderr
    if services.scorer_factory is not None:
        scorer = services.scorer_factory()
    else:  # the model itself, here (never a client of another service), with a calibrated folder if one is given
        folder = services.scorer_folder() if hasattr(services, "scorer_folder") else None
        scorer = default_scorer(folder) if folder is not None else default_scorer()
    load = getattr(scorer, "load", None)
    if callable(load):
        load(_rubrics(args))
    service = ScoringService(scorer, address, log=lambda m: (out.write(f"frontline {m}\n"), out.flush()))

    def stop(*_):
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.serve_forever()
    out.write(f"frontline scoring service: stopped after {service.requests_scored} replies\n")
    return EXIT_OK


def _rubrics(args) -> list:
    """Every usable scenario's rubric, prepared before the first trainee replies."""
    library = args.library
    rubrics, seen = [], set()
    for loaded in library.scenarios():
        if loaded.model is None or loaded.model.rubric in seen:
            continue
        seen.add(loaded.model.rubric)
        try:
            rubrics.append(library.rubric(loaded.model.rubric))
        except Exception:
            continue
    return rubrics


# -- frontline serve ----------------------------------------------------------------------------------------------


def cmd_serve(args, services: Services) -> int:
    from simulator import settings
    from simulator.errors import ScorerError
    from simulator.scoring.service import parse_address, wait_until_answering
    from simulator.serve.server import ServeOptions, TeamServer
    from simulator.serve.supervisor import ScorerSupervisor
    from simulator.store import Store

    current = settings.current()
    review_secret = None
    if args.review_secret_file is not None:
        try:
            review_secret = Path(args.review_secret_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the review secret from {args.review_secret_file}: {exc}") from None
    elif current.review_secret:
        review_secret = current.review_secret
    if review_secret is not None and len(review_secret) < 12:
        raise UsageError("the review secret is shorter than 12 characters; choose a longer one")

    with Store(services.db_url) as store:  # creates or upgrades the database now; a bad URL is said here, once
        db_url = store.url
        out_where = store.display_url

    out = services.stdout
    supervisor = None
    if args.scorer_service:
        address = parse_address(args.scorer_service)
        if not wait_until_answering(address, 5.0):
            raise ScorerError(f"no scoring service answers at {address}; start one with "
                              f"`frontline scorer-service --listen {address}` or leave out --scorer-service")
    else:
        calibrated = getattr(services, "scorer_dir", None)  # --scorer DIR (FRONTLINE_SCORER_DIR travels by itself)
        supervisor = ScorerSupervisor(environment=settings.child_environment(db_url=db_url),
                                      options=["--scorer", str(Path(calibrated).resolve())] if calibrated else [],
                                      log=lambda m: (out.write(m + "\n"), out.flush()))
        out.write("frontline serve: starting the scoring service (loading the model)…\n")
        out.flush()
        supervisor.start()
        address = supervisor.address

    out.write(f"frontline serve: sessions are stored in {out_where}\n")
    app_args: list[str] = []
    for folder in args.scenarios or []:
        app_args += ["--scenarios", str(Path(folder).resolve())]
    if args.resume:
        app_args.append("--resume")
    for option in ("difficulty", "mode"):
        value = getattr(args, option, None)
        if value:
            app_args += [f"--{option}", value]
    options = ServeOptions(
        host=args.host, port=args.port, app_args=app_args,
        environment=settings.child_environment(db_url=db_url, scorer=str(address)),
        trainee_header=args.trainee_header, review_secret=review_secret, max_sessions=args.max_sessions,
        fork_server=not args.no_fork_server,
    )
    try:
        TeamServer(options).serve()
    except OSError as exc:
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    finally:
        if supervisor is not None:
            supervisor.stop()
    return EXIT_OK


# -- frontline serve-app (run by serve, one per visitor) ----------------------------------------------------------


def cmd_serve_app(args, services: Services) -> int:
    from simulator.tui.launch import run_served

    return run_served(args, services)


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the trainee app to browsers (one scoring model for everyone)",
                       description="Serve Frontline's trainee app to web browsers. Each visitor gives their name "
                                   "and practises in their own session, stored in the database like a terminal "
                                   "session. Listens on 127.0.0.1 unless --host says otherwise; see "
                                   "docs/deploy.md before exposing it.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--scorer-service", metavar="ADDRESS",
                   help="use the scoring service already running at ADDRESS (unix:/path or 127.0.0.1:PORT) "
                        "instead of starting one")
    p.add_argument("--trainee-header", metavar="HEADER",
                   help="take each visitor's name from this request header, set by a trusted sign-in proxy "
                        "(e.g. X-Forwarded-User); without it visitors type their name")
    p.add_argument("--review-secret-file", metavar="FILE",
                   help="serve the trainer's review at /review to whoever knows the secret in FILE "
                        "(or set FRONTLINE_REVIEW_SECRET); off by default")
    p.add_argument("--resume", action="store_true",
                   help="picking a scenario continues the visitor's unfinished session of it (after a restart)")
    p.add_argument("--difficulty", choices=DIFFICULTIES, help="default: each scenario's own")
    p.add_argument("--mode", choices=MODES, help="test mode holds feedback back until the debrief")
    p.add_argument("--max-sessions", type=int, default=200, help="refuse visitors beyond this many (default 200)")
    p.add_argument("--no-fork-server", action="store_true",
                   help="start each visitor's app from nothing instead of forking it from a process that has "
                        "already loaded what every app needs (slower, and more memory; for troubleshooting)")
    p.set_defaults(handler=cmd_serve)

    s = sub.add_parser("scorer-service", help="run one scoring model for many sessions on this machine",
                       description="Load the scoring model once and score for every Frontline on this machine "
                                   "that has FRONTLINE_SCORER set to its address. Stops on Ctrl+C or SIGTERM.")
    s.add_argument("--listen", metavar="ADDRESS",
                   help="unix:/path/to/socket (default: scorer.sock in the data folder) or 127.0.0.1:PORT")
    s.set_defaults(handler=cmd_scorer_service)

    a = sub.add_parser("serve-app", help="(run by `frontline serve` for each browser visitor)")
    a.add_argument("--trainee", required=True, help="the visitor's name")
    a.add_argument("--resume", action="store_true", help="picking a scenario continues an unfinished session")
    a.add_argument("--difficulty", choices=DIFFICULTIES)
    a.add_argument("--mode", choices=MODES)
    a.set_defaults(handler=cmd_serve_app)
