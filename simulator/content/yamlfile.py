"""Safe YAML loading that remembers where every key and value came from.

PyYAML's `safe_load` forgets positions, silently keeps the last of two duplicate keys, and reads the YAML 1.1
words `yes`/`no`/`on`/`off` as booleans, turning a customer's "No" into `False`. This loader composes the node
tree with the safe loader, then builds plain Python data itself so that it can:

* reject a duplicate key (naming both lines),
* keep `yes`/`no`/`on`/`off` as the text the author wrote and warn about them (only `true`/`false` are booleans),
* record the line and column of every key and value, so a pydantic error's `loc` maps back to the file,
* refuse, at its line, what would otherwise crash or stall: nesting deep enough to overflow libyaml's recursive
  composer (checked on the parser's events first, which never recurse), alias bombs, and values that raise when
  built (an impossible date, an integer of thousands of digits, an infinite float, `!!binary`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import Problem

# Bigger than any sane scenario; a file this size is a mistake (and would take PyYAML a long time to parse).
MAX_FILE_BYTES = 1_000_000

MAX_NODES = 200_000
# Lists/mappings nested deeper than this, as written. libyaml's composer recurses in C once per level and
# overflows the stack at some tens of thousands, killing the process; no scenario needs more than about six.
MAX_NESTING = 40
# Depth once aliases are expanded (an alias can put a nested structure inside another).
MAX_DEPTH = 60

_YAML11_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}
_BOOL_TAG = "tag:yaml.org,2002:bool"
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_PLAIN_SCALAR_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")}
_COLLECTION_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_COLLECTION_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)

Path_ = tuple[str | int, ...]


@dataclass
class LoadedYaml:
    """Plain data plus the 1-based (line, col) of each value and each mapping key, by data path."""

    data: Any
    value_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    sha256: str = ""
    """Of the file's bytes: stored with each session to tell which version of a scenario was played."""

    def mark_for(self, path: Path_, prefer_key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if prefer_key and p in self.key_marks:
                return self.key_marks[p]
            if p in self.value_marks:
                return self.value_marks[p]
            if not p:
                return (1, 1)
            p = p[:-1]


class YamlError(Exception):
    """The file could not be read as YAML; `problem` says where and why."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


# libyaml composes about 20x faster than the pure-Python reader; positions and errors are the same.
_ComposeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.loader_for_scalars = yaml.SafeLoader("")
        self.result = LoadedYaml(data=None)
        self.nodes_built = 0

    def problem(self, node: yaml.Node, message: str, severity: str = "error") -> Problem:
        line, col = _mark(node)
        return Problem(self.filename, line, col, message, severity)

    def build(self, node: yaml.Node, path: Path_) -> Any:
        # Aliases can make a small file expand exponentially ("billion laughs") or refer to themselves.
        self.nodes_built += 1
        if self.nodes_built > MAX_NODES or len(path) > MAX_DEPTH:
            raise YamlError(self.problem(node, "the file expands to too much data (anchors/aliases nested too deep)"))
        self.result.value_marks[path] = _mark(node)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_COLLECTION_TAGS:
            raise YamlError(self.problem(node, f"unsupported YAML tag {node.tag}; write plain YAML without tags"))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        out: dict[Any, Any] = {}
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(self.problem(key_node, "YAML merge keys (<<) are not supported; write the keys out"))
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(self.problem(key_node, "a mapping key must be a plain word, not a list or mapping"))
            key = str(key_node.value)
            if key in seen:
                first_line = seen[key].start_mark.line + 1
                raise YamlError(
                    self.problem(key_node, f"duplicate key {key!r} (first defined on line {first_line}); remove one")
                )
            seen[key] = key_node
            self.result.key_marks[path + (key,)] = _mark(key_node)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag not in _PLAIN_SCALAR_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise YamlError(self.problem(node, f"unsupported YAML tag {tag}; remove the tag and write the value as "
                                               "plain text (in quotes if need be)"))
        if node.tag == _BOOL_TAG and not node.style and node.value.lower() in _YAML11_BOOL_WORDS:
            self.result.warnings.append(
                self.problem(
                    node,
                    f"{node.value!r} is kept as text here, but many YAML tools read it as a boolean; "
                    f"quote it (\"{node.value}\") or write true/false",
                    "warning",
                )
            )
            return node.value
        try:
            value = self.loader_for_scalars.construct_object(node, deep=True)
        except Exception as exc:  # ValueError mostly (a 30 February, 5,000 digits), whatever else a constructor raises
            raise YamlError(self.problem(node, _unbuildable(node, exc))) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise YamlError(self.problem(node, f"{_shorten(node.value)} is not a usable number (it is infinite or "
                                               "not a number); write a smaller number, or quote it if it is text"))
        return value


def _shorten(text: str, limit: int = 24) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text):,} characters)"


def _unbuildable(node: yaml.ScalarNode, exc: Exception) -> str:
    """What to tell the author about a value YAML recognises by its look but cannot turn into one."""
    what = _shorten(node.value)
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "timestamp":
        return f"{what} looks like a date but is not a real one ({exc}); fix the date, or quote it if it is text"
    if kind == "int" and len(node.value) > 24:
        return (f"a whole number of {len(node.value):,} digits is too long to read; write a shorter number, or "
                f"quote it if it is text (an id or a code)")
    return f"{what} cannot be read as a {kind} ({exc}); quote it if it is text"


def _check_nesting(text: str, filename: str) -> None:
    """Refuse lists/mappings nested deeper than MAX_NESTING before anything composes the file.

    The event parser keeps its state on a heap stack, so walking its events never recurses however deep the
    file goes, and stopping at the first event too deep keeps even a megabyte of `[[[[` fast.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_ComposeLoader):
        if isinstance(event, _COLLECTION_START):
            depth += 1
            if depth > MAX_NESTING:
                mark = event.start_mark
                raise YamlError(Problem(
                    filename, mark.line + 1, mark.column + 1,
                    f"the file nests lists/mappings {depth} levels deep here (more than {MAX_NESTING}); scenarios "
                    "and rubrics need only a few levels: look for unclosed brackets, a run of '- - -' or runaway "
                    "indentation"))
        elif isinstance(event, _COLLECTION_END):
            depth -= 1


def load_yaml_text(text: str, filename: str) -> LoadedYaml:
    """Parse YAML text; raise YamlError with a FILE:LINE:COL problem for anything unreadable."""
    loader = _ComposeLoader(text)
    try:
        _check_nesting(text, filename)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "not valid YAML"
        raise YamlError(Problem(filename, line, col, f"YAML syntax error: {what}")) from None
    except yaml.YAMLError as exc:  # reader errors: control characters, bad encoding
        raise YamlError(Problem(filename, 1, 1, f"not readable as YAML: {exc}")) from None
    finally:
        loader.dispose()
    builder = _Builder(filename)
    if node is None:
        builder.result.data = None
        return builder.result
    try:
        builder.result.data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(Problem(filename, line, col, f"unsupported YAML value: {exc.problem}")) from None
    return builder.result


def load_yaml_file(path: Path) -> LoadedYaml:
    """Read and parse a file, turning every way it can be unreadable into a YamlError."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlError(
                Problem(name, 1, 1, f"file is {size / 1e6:.1f} MB; scenario and rubric files must be under "
                        f"{MAX_FILE_BYTES // 1_000_000} MB — is this the right file?")
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlError(Problem(name, 1, 1, f"cannot read file: {exc.strerror or exc}")) from None
    if b"\x00" in raw:
        raise YamlError(Problem(name, 1, 1, "this is a binary file, not YAML text"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(Problem(name, line, 1, "not UTF-8 text; save the file as UTF-8")) from None
    loaded = load_yaml_text(text, name)
    loaded.sha256 = hashlib.sha256(raw).hexdigest()
    return loaded
