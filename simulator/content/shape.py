"""A file's shape: pydantic validation of parsed YAML, each error mapped back to its line and column."""

from __future__ import annotations

import difflib
import typing
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from simulator.content.yamlfile import LoadedYaml
from simulator.errors import Problem

M = TypeVar("M", bound=BaseModel)


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
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None


def _data_path(loaded: LoadedYaml, loc: tuple) -> tuple:
    """Drop the parts of a pydantic loc that are union/type tags, keeping those that index the data."""
    return _indexing(loaded.data, loc)


def _indexing(data: object, loc: tuple) -> tuple:
    """The parts of `loc` that index `data` (union and type tags are skipped)."""
    path: list = []
    node = data
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


def repaired(model: type[M], data: object, rounds: int = 8) -> tuple[M | None, set[str]]:
    """A model from `data` with every part that breaks its shape left out, so the checks beyond the shape can
    run in the same pass and an author sees a file's structure and reference problems together.

    Unknown keys and invalid values are dropped (a default then applies); an invalid item of a list is dropped
    and, when it had an id, that id is returned, so checks can skip "no beat with id …" about an item that is
    only missing because it was malformed. None when no valid model can be had this way.
    """
    import copy

    if not isinstance(data, dict):
        return None, set()
    work = copy.deepcopy(data)
    dropped: set[str] = set()
    for _ in range(rounds):
        try:
            return model.model_validate(work), dropped
        except ValidationError as exc:
            changed = False
            for err in exc.errors():
                changed |= _drop(work, tuple(err["loc"]), err["type"], dropped)
            if not changed:
                return None, dropped
    return None, dropped


def _drop(data: object, loc: tuple, kind: str, dropped: set[str]) -> bool:
    """Remove the smallest part of `data` that `loc` points into: a key, or an item of a list."""
    path = list(_indexing(data, loc))
    if not path:
        return False
    # Drop the innermost list item on the way (a malformed beat, goal or ending), else the key itself.
    for depth in range(len(path) - 1, -1, -1):
        parent = data
        for part in path[:depth]:
            parent = parent[part]
        if isinstance(parent, list):
            item = parent[path[depth]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                dropped.add(item["id"])
            del parent[path[depth]]
            return True
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and kind != "missing":
        del parent[path[-1]]
        return True
    return False
