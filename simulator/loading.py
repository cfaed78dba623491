"""Reading scenario and rubric files into models, with every problem located in its file."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from simulator import paths
from simulator.rubric import Rubric
from simulator.scenario import Scenario
from simulator.yamlfile import LoadedYaml, Problem, YamlError, load_yaml_file

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


class ContentError(Exception):
    """A file that cannot be used; `problems` lists why, each with its line and column."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names valid at the mapping that `loc` (an extra-forbidden error's loc, minus the key) points to."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            continue
        current = _model_in(info.annotation)
    return list(current.model_fields) if current else []


def _model_in(annotation) -> type[BaseModel] | None:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None


def _data_path(loaded: LoadedYaml, loc: tuple) -> tuple:
    """Drop the parts of a pydantic loc that are union/type tags, keeping those that index the data."""
    path: list = []
    node = loaded.data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
    return tuple(path)


def _describe(model: type[BaseModel], loaded: LoadedYaml, err: dict) -> tuple[tuple, str, bool]:
    loc = tuple(err["loc"])
    path = _data_path(loaded, loc)
    where = ".".join(str(p) for p in path) or "top level"
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, _data_path(loaded, loc[:-1]))
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys here: {', '.join(allowed)}"
        return path, f"unknown key {key!r}; {hint}", True
    if kind == "missing":
        return path, f"missing required key {str(loc[-1])!r} in {'.'.join(str(p) for p in path) or 'the file'}", True
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return path, f"{where}: {message}", False


def validate_model(model: type[M], loaded: LoadedYaml, filename: str) -> tuple[M | None, list[Problem]]:
    if not isinstance(loaded.data, dict):
        found = "an empty file" if loaded.data is None else f"a {type(loaded.data).__name__}"
        return None, [Problem(filename, 1, 1, f"expected a mapping of keys (id: …, title: …) at the top, found {found}")]
    try:
        return model.model_validate(loaded.data), []
    except ValidationError as exc:
        problems: list[Problem] = []
        seen: set[tuple] = set()
        for err in exc.errors():
            path, message, on_key = _describe(model, loaded, err)
            if (path, message) in seen:  # a union reports the same miss once per branch
                continue
            seen.add((path, message))
            line, col = loaded.mark_for(path, prefer_key=on_key)
            problems.append(Problem(filename, line, col, message))
        return None, sorted(problems)


def load_file(path: Path, model: type[M]) -> Loaded[M]:
    result: Loaded[M] = Loaded(path=path)
    try:
        loaded = load_yaml_file(path)
    except YamlError as exc:
        result.problems.append(exc.problem)
        return result
    result.yaml = loaded
    result.problems.extend(loaded.warnings)
    result.content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    result.model, problems = validate_model(model, loaded, str(path))
    result.problems.extend(problems)
    return result


def kind_of(loaded: LoadedYaml) -> type[BaseModel]:
    """A rubric has criteria; everything else is read as a scenario."""
    data = loaded.data
    if isinstance(data, dict) and "criteria" in data and "beats" not in data:
        return Rubric
    return Scenario


def yaml_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def load_scenario(path: Path) -> Loaded[Scenario]:
    return load_file(path, Scenario)


def load_rubric(path: Path) -> Loaded[Rubric]:
    return load_file(path, Rubric)


def _require(loaded: Loaded[M]) -> M:
    if loaded.model is None or loaded.errors:
        raise ContentError(loaded.errors or [Problem(str(loaded.path), 1, 1, "could not be read")])
    return loaded.model


class Library:
    """The scenarios and rubrics available to a run: shipped ones plus any extra folders given."""

    def __init__(self, scenario_dirs: list[Path] | None = None, rubric_dirs: list[Path] | None = None):
        self.scenario_dirs = [paths.scenarios_dir(), *(scenario_dirs or [])]
        self.rubric_dirs = [paths.rubrics_dir(), *(rubric_dirs or [])]

    def scenario_files(self) -> list[Path]:
        return [p for d in self.scenario_dirs if d.exists() for p in yaml_files(d)]

    def scenarios(self) -> list[Loaded[Scenario]]:
        return [load_scenario(p) for p in self.scenario_files()]

    def find_scenario(self, name: str) -> Loaded[Scenario]:
        """By id, or by path to a file."""
        candidate = Path(name)
        if candidate.suffix in YAML_SUFFIXES and candidate.exists():
            return load_scenario(candidate)
        ids = []
        for loaded in self.scenarios():
            if loaded.model is not None:
                ids.append(loaded.model.id)
                if loaded.model.id == name:
                    return loaded
            elif loaded.path.stem == name:
                return loaded
        close = difflib.get_close_matches(name, ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; `frontline list` shows them ({', '.join(sorted(ids))})"
        raise ContentError([Problem(name, 1, 1, f"no scenario with id {name!r}{hint}")])

    def rubric(self, rubric_id: str) -> Rubric:
        return _require(self.find_rubric(rubric_id))

    def find_rubric(self, name: str) -> Loaded[Rubric]:
        candidate = Path(name)
        if candidate.suffix in YAML_SUFFIXES and candidate.exists():
            return load_rubric(candidate)
        ids = []
        for d in self.rubric_dirs:
            for p in yaml_files(d) if d.exists() else []:
                loaded = load_rubric(p)
                if loaded.model is not None:
                    ids.append(loaded.model.id)
                    if loaded.model.id == name:
                        return loaded
                elif p.stem == name:
                    return loaded
        close = difflib.get_close_matches(name, ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known rubrics: {', '.join(sorted(ids)) or 'none'}"
        raise ContentError([Problem(name, 1, 1, f"no rubric with id {name!r}{hint}")])

    def scenario(self, name: str) -> Scenario:
        return _require(self.find_scenario(name))


def require(loaded: Loaded[M]) -> M:
    return _require(loaded)
