"""`frontline new | graph`: a manager's authoring commands (starter files, pictures of the beat graph)."""

from __future__ import annotations

from pathlib import Path

from simulator import settings
from simulator.errors import EXIT_OK, UsageError
from simulator.services import Services
from simulator.terminal import clean

_DEFAULT_FOLDERS = {"scenario": "scenarios", "rubric": "rubrics"}


def _target_folder(kind: str, given: str | None) -> Path:
    """--dir, else ./scenarios (./rubrics) when there is one, else the current folder."""
    if given is not None:
        if not given.strip():
            raise UsageError("--dir is empty; give a folder, or leave --dir out")
        folder = Path(given)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--dir {given} is a file; give a folder to write the new {kind} into")
        return folder
    default = Path(_DEFAULT_FOLDERS[kind])
    return default if default.is_dir() else Path(".")


def _schema_ref(kind: str, folder: Path) -> str:
    from simulator.content.starter import SCHEMA_FILES, schema_ref

    schema_file = settings.schemas_dir() / SCHEMA_FILES[kind]
    if not schema_file.is_file():  # an install without the schemas: write them once into the data folder
        from simulator.content.schema import write_schemas

        target = settings.data_dir() / "schemas"
        if not (target / SCHEMA_FILES[kind]).is_file():
            try:
                write_schemas(target)
            except OSError as exc:
                raise UsageError(f"cannot write the JSON schemas into {target}: {exc.strerror or exc}") from None
        return (target / SCHEMA_FILES[kind]).resolve().as_uri()
    return schema_ref(folder, schema_file)


def _name(kind: str, raw: str) -> str:
    from simulator.content.starter import name_problem

    name = raw[: -len(Path(raw).suffix)] if Path(raw).suffix in (".yaml", ".yml") else raw
    problem = name_problem(kind, name)
    if problem:
        raise UsageError(problem)
    return name


def _write(path: Path, text: str) -> None:
    for sibling in (path.with_suffix(".yaml"), path.with_suffix(".yml")):
        if sibling.exists():
            raise UsageError(f"{sibling} exists; choose another name or delete it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise UsageError(f"{path} exists; choose another name or delete it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_new_scenario(args, services: Services) -> int:
    from simulator.content.starter import scenario_text

    name = _name("scenario", args.name)
    folder = _target_folder("scenario", args.dir)
    path = folder / f"{name}.yaml"
    rubrics = args.library.rubrics(beside=path)
    rubric = rubrics.get(args.rubric)
    if rubric is None:
        raise UsageError(f"no rubric {args.rubric!r} that a scenario in {folder} can use (it can use: "
                         f"{', '.join(sorted(rubrics)) or 'none'}); write one beside it first with "
                         f"`frontline new rubric {args.rubric} --dir {folder}`")
    criterion = "empathy" if "empathy" in rubric.criterion_ids else rubric.criterion_ids[0]
    _write(path, scenario_text(name, _schema_ref("scenario", folder), rubric.id, criterion))
    out = services.stdout
    out.write(clean(f"wrote {path}: scenario {name!r}, scored with rubric {rubric.id!r}\n"))
    out.write(clean(f"next: edit it, then `frontline validate {path}`, `frontline graph {path}` and "
                    f"`frontline play {path}`\n"))
    return EXIT_OK


def cmd_new_rubric(args, services: Services) -> int:
    from simulator.content.starter import rubric_text

    name = _name("rubric", args.name)
    folder = _target_folder("rubric", args.dir)
    path = folder / f"{name}.yaml"
    if name in args.library.rubrics(beside=path):
        raise UsageError(f"a rubric with id {name!r} already exists; choose another name")
    _write(path, rubric_text(name, _schema_ref("rubric", folder)))
    out = services.stdout
    out.write(clean(f"wrote {path}: rubric {name!r}\n"))
    out.write(clean(f"next: a scenario in {folder} can use it: `frontline new scenario NAME --rubric {name} "
                    f"--dir {folder}`\n"))
    return EXIT_OK


def cmd_graph(args, services: Services) -> int:
    from simulator.content.graph import build_graph, render

    library = args.library
    loaded = library.find_scenario(args.scenario)
    scenario = library.require(loaded)
    services.stdout.write(clean(render(build_graph(scenario), args.format)))
    if loaded.warnings:
        services.stderr.write(clean(f"frontline: {loaded.path} has {len(loaded.warnings)} warning(s); "
                                    f"`frontline validate {loaded.path}` lists them\n"))
    return EXIT_OK


def register(sub) -> None:
    """Adds `new` and `graph`."""
    from simulator.content.graph import FORMATS

    p = sub.add_parser("new", help="write a commented starter scenario or rubric that validates and plays")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("scenario", help="a starter scenario: NAME.yaml")
    q.add_argument("name", metavar="NAME", help="the scenario's id and file name, e.g. late-parcel")
    q.add_argument("--dir", metavar="DIR",
                   help="folder to write into (default: ./scenarios if there is one, else the current folder)")
    q.add_argument("--rubric", default="service", metavar="ID",
                   help="the rubric it is scored with: a shipped one or one in DIR (default: service)")
    q.set_defaults(handler=cmd_new_scenario)
    q = kinds.add_parser("rubric", help="a starter rubric: NAME.yaml")
    q.add_argument("name", metavar="NAME", help="the rubric's id and file name, e.g. phone_basics")
    q.add_argument("--dir", metavar="DIR",
                   help="folder to write into (default: ./rubrics if there is one, else the current folder)")
    q.set_defaults(handler=cmd_new_rubric)

    p = sub.add_parser("graph", help="show a scenario's beats, transitions and endings")
    p.add_argument("scenario", help="scenario id or path to a scenario file")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), mermaid (paste into Markdown) or dot (Graphviz)")
    p.set_defaults(handler=cmd_graph)
