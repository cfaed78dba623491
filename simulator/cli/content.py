"""`frontline list | validate | schema`: the scenario and rubric files."""

from __future__ import annotations

from pathlib import Path

from simulator.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError
from simulator.services import Services
from simulator.terminal import clean


def cmd_list(args, services: Services) -> int:
    """Every scenario the library offers; a file that cannot be played is listed as broken, with why."""
    out = services.stdout
    broken = 0
    for loaded in args.library.scenarios():
        s = loaded.model
        if s is None or loaded.errors:
            broken += 1
            first = loaded.errors[0] if loaded.errors else None
            out.write(clean(f"{'(broken)':<24} {'':<7} {loaded.path}\n{'':<33}{first or 'could not be read'}\n"))
            continue
        out.write(clean(f"{s.id:<24} {s.difficulty.value:<7} {s.title}\n{'':<33}{s.summary}\n"))
    if broken:
        services.stderr.write(f"frontline: {broken} scenario file(s) have errors; run `frontline validate` on them\n")
    return EXIT_OK


def cmd_validate(args, services: Services) -> int:
    from simulator.content.library import validate_paths

    report = validate_paths([Path(p) for p in args.paths], library=args.library)
    for problem in report.problems:
        services.stdout.write(clean(str(problem)) + "\n")
    n_err, n_warn = len(report.errors), len(report.warnings)
    summary = f"{len(report.files)} file(s) checked: {n_err} error(s), {n_warn} warning(s)"
    services.stderr.write(summary + "\n")
    return EXIT_BAD_INPUT if report.errors else EXIT_OK


def cmd_schema(args, services: Services) -> int:
    from simulator.content.schema import write_schemas

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} is a file; give a folder to write the schemas into")
    try:
        written = write_schemas(out)
    except OSError as exc:
        raise UsageError(f"cannot write the schemas into {args.out}: {exc.strerror or exc}") from None
    for path in written:
        services.stdout.write(clean(f"wrote {path}") + "\n")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("list", help="list the scenarios")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("validate", help="check scenario and rubric files; prints FILE:LINE:COL: problem")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("schema", help="write JSON Schema for scenario and rubric files")
    p.add_argument("--out", default="schemas", help="folder to write into (default: schemas)")
    p.set_defaults(handler=cmd_schema)
