"""The scenarios and rubrics a run can use: found, parsed once, checked completely, cached.

Every load runs every check: the file's YAML and shape, and then, for a scenario, everything `validate`
checks (templates, conditions, references, the beat graph) against the rubrics it can see. So a file that one
command refuses is refused the same way by all of them: `validate` prints its problems, `list` shows it as
broken, `play` exits 2 with them and the picker shows them.

Parsing is cached by path, modification time and size, so a command (or an app that lists the scenarios again)
never parses an unchanged file twice; a file edited on disk is read again on the next load.

Which rubrics a scenario can see: the shipped ones, those in any extra folder given to the library, and those in
the scenario file's own folder (a rubric written beside its scenario is found by every command).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Iterable, TypeVar

from pydantic import BaseModel

from simulator import __version__, settings
from simulator.content.checks import check_scenario
from simulator.content.lints import lint_scenario
from simulator.content.rubric import Rubric
from simulator.content.scenario import Scenario
from simulator.content.shape import repaired, validate_model
from simulator.content.yamlfile import LoadedYaml, YamlError, load_yaml_file
from simulator.errors import ContentError, Problem

M = TypeVar("M", bound=BaseModel)

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Loaded(Generic[M]):
    """A file read as far as it would go: the model when valid, and everything worth telling the author."""

    path: Path
    model: M | None = None
    yaml: LoadedYaml | None = None
    problems: list[Problem] = field(default_factory=list)
    content_hash: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def usable(self) -> bool:
        return self.model is not None and not self.errors


@dataclass
class Report:
    """What `validate` found in a set of files."""

    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


# -- one file: parsed once per version on disk -------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    yaml: LoadedYaml | None
    kind: type[BaseModel]
    model: BaseModel | None
    problems: tuple[Problem, ...]
    content_hash: str


_cache: dict[Path, tuple[tuple[int, int], _Parsed]] = {}
_cache_lock = threading.Lock()


def kind_of(data: object) -> type[BaseModel]:
    """A rubric has criteria; everything else is read as a scenario."""
    if isinstance(data, dict) and "criteria" in data and "beats" not in data:
        return Rubric
    return Scenario


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _parse(path: Path) -> _Parsed:
    """The file's YAML and shape, from the cache when the file has not changed since it was last parsed."""
    key = path.resolve()
    stamp = _stamp(key)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and stamp is not None and hit[0] == stamp:
            return hit[1]
    try:
        loaded = load_yaml_file(path)
    except YamlError as exc:
        parsed = _Parsed(None, Scenario, None, (exc.problem,), "")
    else:
        kind = kind_of(loaded.data)
        model, problems = validate_model(kind, loaded, str(path))
        parsed = _Parsed(loaded, kind, model, tuple(loaded.warnings) + tuple(problems), loaded.sha256)
    if stamp is not None:
        with _cache_lock:
            _cache[key] = (stamp, parsed)
    return parsed


# -- the checks' results, kept on disk between processes --------------------------------------------------------
# Checking a scenario renders every template over the whole range of values it can see, which takes a good part
# of a second for the shipped folder: too much for every `frontline` command and every trainee a server starts.


def _code_fingerprint() -> str:
    """Changes whenever the code that checks a file changes (a cached result is only valid for that code)."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256(__version__.encode())
        for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
            digest.update(source.read_bytes())
        _fingerprint = digest.hexdigest()
    return _fingerprint


_fingerprint: str | None = None


def _check_key(parsed: _Parsed, path: Path, rubric_files: list[Path]) -> str:
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(f"{path}\0{parsed.content_hash}".encode())
    for rubric in sorted({p.resolve() for p in rubric_files}):
        digest.update(f"\0{rubric}\0{_parse(rubric).content_hash}".encode())
    return digest.hexdigest()


def _checks_file(key: str) -> Path:
    return settings.data_dir() / "cache" / "checks" / f"{key}.json"


def _read_checks(key: str) -> list[Problem] | None:
    try:
        rows = json.loads(_checks_file(key).read_text(encoding="utf-8"))
        return [Problem(str(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows]
    except (OSError, ValueError, TypeError, IndexError):
        return None  # none yet, or unreadable: check afresh


def _write_checks(key: str, problems: list[Problem]) -> None:
    if any(p.severity == "warning" and "should take microseconds" in p.message for p in problems):
        return  # a check cut short on a busy machine: not a fact about the file worth keeping
    target = _checks_file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False,
                                         suffix=".tmp") as handle:
            json.dump([[p.file, p.line, p.col, p.message, p.severity] for p in problems], handle)
        os.replace(handle.name, target)  # atomic: a reader sees the old file or the whole new one
    except OSError:
        pass  # a read-only data folder only costs the time of checking again


def yaml_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


# -- the library ----------------------------------------------------------------------------------------------------


class Library:
    """The scenarios and rubrics available to a run: the shipped ones plus any extra folders (or files) given.

    Extra folders may hold scenarios and rubrics side by side. A Library is cheap: make one per command or app.
    """

    def __init__(self, scenario_dirs: Iterable[Path | str] | None = None,
                 rubric_dirs: Iterable[Path | str] | None = None, *, shipped: bool = True):
        extra_scenarios = [Path(p) for p in (scenario_dirs or [])]
        extra_rubrics = [Path(p) for p in (rubric_dirs or [])]
        self.scenario_dirs = ([settings.scenarios_dir()] if shipped else []) + extra_scenarios
        # Rubrics: the shipped folder, the folders given for rubrics, and the extra scenario folders too.
        self.rubric_dirs = ([settings.rubrics_dir()] if shipped else []) + extra_rubrics + extra_scenarios
        self._shipped = shipped
        self._extra = (extra_scenarios, extra_rubrics)
        self._checked: dict[Path, tuple[_Parsed, tuple, Loaded]] = {}

    def including(self, path: Path | str) -> Library:
        """This library plus one more scenario file or folder (e.g. a file named on the command line)."""
        scenarios, rubrics = self._extra
        return Library([*scenarios, Path(path)], rubrics, shipped=self._shipped)

    # -- files

    def scenario_files(self) -> list[Path]:
        return _unique(p for d in self.scenario_dirs for p in yaml_files(d) if _parse(p).kind is Scenario)

    def rubric_files(self) -> list[Path]:
        return _unique(p for d in self.rubric_dirs for p in yaml_files(d) if _parse(p).kind is Rubric)

    def _rubric_files_seen_from(self, beside: Path | None, memo: dict | None = None) -> list[Path]:
        """The rubric files a scenario at `beside` can use: the library's, then those in its own folder.
        `memo` (a dict) keeps the folders' listings for a run of loads: `scenarios` loads every scenario of a
        folder, and listing that folder again for each one cost a served app ~0.1 s of its start."""
        memo = {} if memo is None else memo
        if None not in memo:
            memo[None] = self.rubric_files()
        files = list(memo[None])
        if beside is not None:
            folder = beside.parent
            if folder not in memo:
                memo[folder] = [p for p in yaml_files(folder) if _parse(p).kind is Rubric]
            files += memo[folder]
        return files

    def rubrics(self, beside: Path | None = None, files: list[Path] | None = None) -> dict[str, Rubric]:
        """The usable rubrics by id; with `beside`, rubrics in that file's folder too (they win)."""
        found: dict[str, Rubric] = {}
        for path in files if files is not None else self._rubric_files_seen_from(beside):
            model = _parse(path).model
            if isinstance(model, Rubric):
                found[model.id] = model
        return found

    # -- loading, with every check

    def load(self, path: Path) -> Loaded:
        """`path` read and checked completely: a rubric by its shape, a scenario against the rubrics it sees."""
        return self._load(Path(path), listings=None)

    def _load(self, path: Path, listings: dict | None) -> Loaded:
        """`load`, with the folders' rubric listings kept in `listings` across a run of loads (`scenarios`)."""
        parsed = _parse(path)
        result = Loaded(path=path, model=parsed.model, yaml=parsed.yaml, problems=list(parsed.problems),
                        content_hash=parsed.content_hash)
        if parsed.kind is not Scenario or parsed.yaml is None:
            return result
        rubric_files = self._rubric_files_seen_from(path, listings)
        rubrics = self.rubrics(files=rubric_files)
        key = path.resolve()
        fingerprint = tuple(sorted((rid, id(r)) for rid, r in rubrics.items()))
        hit = self._checked.get(key)
        if hit is not None and hit[0] is parsed and hit[1] == fingerprint:
            return hit[2]
        if isinstance(parsed.model, Scenario):
            result.problems.extend(self._checked_problems(parsed, path, rubrics, rubric_files))
        else:
            result.problems.extend(self._checks_despite_shape(parsed, path, rubrics))
        result.problems.sort(key=lambda p: (p.line, p.col, p.message))
        self._checked[key] = (parsed, fingerprint, result)
        return result

    def _checked_problems(self, parsed: _Parsed, path: Path, rubrics: dict[str, Rubric],
                          rubric_files: list[Path]) -> list[Problem]:
        """check_scenario and the lints, from the disk cache when this file, the rubric files it sees and the
        checking code are all unchanged since some process last checked them."""
        assert isinstance(parsed.model, Scenario) and parsed.yaml is not None
        key = _check_key(parsed, path, rubric_files)
        cached = _read_checks(key)
        if cached is not None:
            return cached
        problems = check_scenario(parsed.model, parsed.yaml, str(path), rubrics)
        if not any(p.severity == "error" for p in problems):  # weak content is worth a word once the file works
            rubric = rubrics.get(parsed.model.rubric)
            levels = {c.id: c.max_level for c in rubric.criteria} if rubric is not None else None
            problems += lint_scenario(parsed.model, parsed.yaml, str(path), max_levels=levels)
        _write_checks(key, problems)
        return problems

    @staticmethod
    def _checks_despite_shape(parsed: _Parsed, path: Path, rubrics: dict[str, Rubric]) -> list[Problem]:
        """The checks beyond the shape, run on the file with its malformed parts left out, so one pass reports
        both kinds of problem. Only problems on lines the shape errors did not already flag, and none about
        items that were left out, are kept: the rest would be noise the author's first fix removes."""
        partial, dropped = repaired(Scenario, parsed.yaml.data)
        if partial is None:
            return []
        flagged = {p.line for p in parsed.problems}
        found = []
        for problem in check_scenario(partial, parsed.yaml, str(path), rubrics):
            if problem.line in flagged or any(f"'{item}'" in problem.message for item in dropped):
                continue
            if problem.severity == "error":
                found.append(problem)
        return found

    def scenarios(self) -> list[Loaded[Scenario]]:
        """Every scenario file, usable or not (a broken one has its problems and maybe no model)."""
        listings: dict = {}  # the folders' rubric files, listed once for all the scenarios
        return [self._load(p, listings) for p in self.scenario_files()]

    def find_scenario(self, name: str) -> Loaded[Scenario]:
        """By id, or by path to a file."""
        return self._find(name, Scenario, self.scenario_files(),
                          lambda ids: f"`frontline list` shows them ({', '.join(sorted(ids))})")

    def find_rubric(self, name: str) -> Loaded[Rubric]:
        """By id, or by path to a file."""
        return self._find(name, Rubric, self.rubric_files(),
                          lambda ids: f"known rubrics: {', '.join(sorted(ids)) or 'none'}")

    def _find(self, name: str, kind: type[BaseModel], files: list[Path], known) -> Loaded:
        candidate = Path(name)
        if candidate.suffix in YAML_SUFFIXES and candidate.is_file():
            return self.load(candidate)
        ids = []
        for path in files:
            model = _parse(path).model
            if isinstance(model, kind):
                ids.append(model.id)
                if model.id == name:
                    return self.load(path)
            elif path.stem == name:  # a broken file named like the id asked for: its problems say why
                return self.load(path)
        close = difflib.get_close_matches(name, ids, n=1)
        hint = f"did you mean {close[0]!r}?" if close else known(ids)
        what = "scenario" if kind is Scenario else "rubric"
        raise ContentError([Problem(name, 1, 1, f"no {what} with id {name!r}; {hint}")])

    def scenario(self, name: str) -> Scenario:
        return require(self.find_scenario(name))

    def rubric(self, rubric_id: str) -> Rubric:
        return require(self.find_rubric(rubric_id))

    def rubric_for(self, loaded: Loaded[Scenario]) -> Rubric:
        """The rubric a (usable) scenario is scored with, found the way its checks found it."""
        scenario = require(loaded)
        rubric = self.rubrics(beside=loaded.path).get(scenario.rubric)
        if rubric is None:  # the checks already refuse this; kept for a scenario made in code
            return self.rubric(scenario.rubric)
        return rubric

    def require(self, loaded: Loaded[M]) -> M:
        return require(loaded)


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def require(loaded: Loaded[M]) -> M:
    """The model of a usable file; ContentError with every error otherwise."""
    if loaded.model is None or loaded.errors:
        raise ContentError(loaded.errors or [Problem(str(loaded.path), 1, 1, "could not be read")])
    return loaded.model


def load_scenario(path: Path, library: Library | None = None) -> Loaded[Scenario]:
    """A scenario file with every check run (against the shipped rubrics and those beside it)."""
    return (library or Library()).load(path)


def load_rubric(path: Path, library: Library | None = None) -> Loaded[Rubric]:
    return (library or Library()).load(path)


# -- validate -------------------------------------------------------------------------------------------------------


def validate_paths(targets: list[Path], library: Library | None = None) -> Report:
    """Every problem in the YAML files under `targets`. Rubrics found there are used to check the scenarios
    there, beside the library's own."""
    report = Report()
    files: list[Path] = []
    for target in targets:
        if not target.exists():
            report.problems.append(Problem(str(target), 1, 1, "no such file or folder"))
            continue
        found = yaml_files(target)
        if target.is_dir() and not found:
            report.problems.append(Problem(str(target), 1, 1, "no .yaml or .yml files in this folder", "warning"))
        files.extend(found)
    report.files = files
    base = library or Library()
    checking = Library(base.scenario_dirs, base.rubric_dirs + [t if t.is_dir() else t.parent for t in targets
                                                                if t.exists()], shipped=False)
    seen_ids: dict[tuple[type, str], Path] = {}
    for path in files:
        loaded = checking.load(path)
        report.problems.extend(loaded.problems)
        if loaded.model is None:
            continue
        key = (type(loaded.model), loaded.model.id)
        if key in seen_ids and seen_ids[key].resolve() != path.resolve():
            what = "rubric" if isinstance(loaded.model, Rubric) else "scenario"
            line, col = loaded.yaml.mark_for(("id",)) if loaded.yaml else (1, 1)
            report.problems.append(Problem(str(path), line, col,
                                           f"{what} id {loaded.model.id!r} is also used by {seen_ids[key]}"))
        seen_ids.setdefault(key, path)
    report.problems.sort(key=lambda p: (p.file, p.line, p.col, p.message))
    return report
