"""`frontline calibrate`: a scorer folder fitted to the organisation's own labels (see docs/calibration.md)."""

from __future__ import annotations

import time
from pathlib import Path

from simulator.errors import EXIT_OK, UsageError
from simulator.services import Services
from simulator.terminal import clean


def cmd_calibrate(args, services: Services) -> int:
    from simulator.scoring.calibrate import (
        HOLDOUT,
        calibrate,
        format_report,
        labels_digest,
        load_labels,
        report_json,
        split_by_line,
    )

    started = time.perf_counter()
    rubric = args.library.rubric(args.rubric)  # an unknown id is a ContentError naming the known ones
    holdout = HOLDOUT if args.holdout is None else args.holdout
    if not 0 < holdout < 1:
        raise UsageError(f"--holdout is a fraction of the customer lines between 0 and 1, not {holdout}")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} is a file; give a folder for the calibrated scorer")
    files = [Path(p).expanduser() for p in args.labels]
    examples = load_labels(files, rubric)
    fit, held = split_by_line(examples, holdout)
    say = (lambda m: services.stderr.write(clean(m) + "\n")) if not args.json else (lambda m: None)
    say(f"{len(examples)} labelled row(s): fitting on {len(fit)}, holding out {len(held)} "
        f"(whole customer lines) to measure agreement")
    report = calibrate(rubric, fit, held, out=out, labels_hash=labels_digest(files), log=say,
                       criteria=args.criteria)
    from simulator.scoring.model import ModelScorer

    version = ModelScorer(heads_folder=out).version
    if args.json:
        services.stdout.write(report_json(report))
        return EXIT_OK
    services.stdout.write(clean(format_report(report)))
    services.stdout.write(clean(
        f"\nwrote the calibrated scorer to {out} ({time.perf_counter() - started:.0f} s)\n"
        f"scorer version: {version}\n"
        f"use it with `frontline --scorer {out} …` (or FRONTLINE_SCORER_DIR={out}); sessions it scores record "
        "that version, and `frontline agreement` compares scorers over the trainers' overrides\n"))
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="fit the scorer to your organisation's labels; report agreement "
                                         "before and after on labels it did not fit on")
    p.add_argument("--labels", nargs="+", required=True, metavar="FILE",
                   help="labelled JSONL in the training format (`frontline export-labels` writes one)")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write the calibrated scorer to")
    p.add_argument("--rubric", default="service", help="the rubric to calibrate (default: service)")
    p.add_argument("--holdout", type=float, default=None, metavar="FRACTION",
                   help="share of the customer lines held out to measure agreement (default 0.25)")
    p.add_argument("--criteria", nargs="+", default=None, metavar="ID",
                   help="refit only these criteria (the ones your house rule changes); the others keep the "
                        "shipped heads exactly (default: every criterion the labels cover)")
    p.add_argument("--json", action="store_true", help="print the agreement report as JSON")
    p.set_defaults(handler=cmd_calibrate)
