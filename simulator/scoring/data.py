"""Labelled replies: reading the JSONL files and the fixed train/test split by customer line."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from simulator import settings
from simulator.errors import FrontlineError

TEST_FRACTION = 0.22
"""Share of customer lines (and so, roughly, of rows) held out for the test split."""

_REQUIRED_TEXT = ("context", "reply")


class DataError(FrontlineError, ValueError):
    """A labelled-data file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    id: str
    context: str
    reply: str
    labels: dict[str, int]
    setting: str = ""
    source: str = ""
    """file:line the row came from."""
    red_flags: tuple[str, ...] | None = None
    """The red flags the reply raises, when the row says (None: not labelled for red flags)."""
    noise_of: str = ""
    """The id of the clean reply this row is a noisy form of (typos, case, …), if it is one."""


def labelled_dir() -> Path:
    return settings.models_dir() / "data" / "labelled"


def default_data_files() -> list[Path]:
    """Every labelled file shipped under models/data/ (labelled/ for the service criteria, clarity/ for clarity,
    …): a rubric trains each criterion on the rows that label it."""
    folder = labelled_dir().parent
    return sorted(folder.glob("*/*.jsonl"), key=lambda p: (p.parent.name != "labelled", str(p))) \
        if folder.is_dir() else []


def load_examples(files: Iterable[Path], criteria: Sequence[str], *, max_level: dict[str, int] | None = None) -> list[Example]:
    """The rows of `files` that label at least one criterion id in `criteria`, each with an integer level for
    the criteria it labels. A row may label only some criteria (a file written for a new criterion labels just
    that one); a file none of whose rows label any of `criteria` is refused, as it is probably the wrong file."""
    examples: list[Example] = []
    seen: dict[str, str] = {}
    files = list(files)
    for path in files:
        for where, line in jsonl_lines(path):
            example = parse_row(line, criteria, where, max_level=max_level)
            if not example.labels:
                continue  # labels none of these criteria: data for another rubric's criteria
            if example.id in seen:
                raise DataError(f"{where}: id {example.id!r} already used at {seen[example.id]}")
            seen[example.id] = where
            examples.append(example)
    return examples


def require_every_criterion(examples: Sequence[Example], criteria: Sequence[str], files: Sequence[Path]) -> None:
    """DataError unless each criterion is labelled by some row (a head cannot learn a criterion nobody labelled)."""
    unlabelled = [c for c in criteria if not any(c in e.labels for e in examples)]
    if unlabelled:
        names = ", ".join(repr(c) for c in unlabelled)
        raise DataError(f"no row of {', '.join(str(p) for p in files)} labels {names}; add a column named after "
                        "each criterion (an integer level) to the labelled data")


def jsonl_lines(path: Path) -> Iterator[tuple[str, str]]:
    """("file:line", text) for each non-blank line of a JSONL file; DataError when it cannot be read. Split on
    newlines only: str.splitlines would also break a line at a U+2028 inside a string."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read labelled data ({exc.strerror or exc})") from exc
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield f"{path}:{number}", line


def json_object(line: str, where: str) -> dict:
    """One JSON-lines row, which must be an object; DataError names `where` (file:line) otherwise."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(row).__name__}")
    return row


def parse_row(line: str, criteria: Sequence[str], where: str, *, max_level: dict[str, int] | None = None) -> Example:
    row = json_object(line, where)
    for key in _REQUIRED_TEXT:
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise DataError(f"{where}: {key!r} must be a non-empty string")
    labels: dict[str, int] = {}
    for cid in criteria:
        if cid not in row:
            continue  # this row does not label this criterion
        value = row.get(cid)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(f"{where}: {cid!r} must be an integer level, found {value!r}")
        top = (max_level or {}).get(cid)
        if value < 0 or (top is not None and value > top):
            raise DataError(f"{where}: {cid!r} level {value} is outside 0..{top if top is not None else ''}")
        labels[cid] = value
    return Example(
        id=str(row.get("id", where)),
        context=row["context"],
        reply=row["reply"],
        labels=labels,
        setting=str(row.get("setting", "")),
        source=where,
        red_flags=_flag_list(row.get("red_flags"), where) if "red_flags" in row else None,
        noise_of=str(row.get("noise_of") or ""),
    )


def _flag_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataError(f"{where}: 'red_flags' must be a list of red-flag ids, e.g. [] or [\"blames_customer\"]")
    return tuple(value)


def flags_dir() -> Path:
    """Red-flag labels for rows written before rows carried them: {"id", "red_flags"} lines."""
    return settings.models_dir() / "red_flags"


def default_flag_files() -> list[Path]:
    folder = flags_dir()
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def with_flag_labels(examples: Sequence[Example], files: Iterable[Path]) -> list[Example]:
    """`examples` with the red-flag labels of `files` applied by id (a row's own `red_flags` wins)."""
    from dataclasses import replace

    labels: dict[str, tuple[str, ...]] = {}
    for path in files:
        for where, line in jsonl_lines(path):
            row = json_object(line, where)
            if not isinstance(row.get("id"), str):
                raise DataError(f"{where}: 'id' must be the id of a labelled row")
            labels[row["id"]] = _flag_list(row.get("red_flags"), where)
    return [replace(e, red_flags=labels[e.id]) if e.red_flags is None and e.id in labels else e for e in examples]


def normalise_context(context: str) -> str:
    return re.sub(r"\s+", " ", context.strip().lower())


def context_bucket(context: str) -> float:
    """A stable number in [0, 1) for a customer line; equal lines (ignoring case and spacing) get equal numbers."""
    digest = hashlib.sha256(normalise_context(context).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_test(example: Example) -> bool:
    return context_bucket(example.context) < TEST_FRACTION


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, test): every reply to one customer line lands on the same side."""
    train = [e for e in examples if not is_test(e)]
    test = [e for e in examples if is_test(e)]
    return train, test


def group_folds(examples: Sequence[Example], k: int) -> list[tuple[list[int], list[int]]]:
    """k (train indices, validation indices) folds grouped by customer line, for tuning on the train split."""
    folds: list[tuple[list[int], list[int]]] = []
    buckets = [int(context_bucket(e.context) * 2**20) for e in examples]
    # Re-hash so fold membership is independent of the train/test cut that used the same bucket.
    fold_of = [int(hashlib.sha256(f"fold:{b}".encode()).hexdigest(), 16) % k for b in buckets]
    for f in range(k):
        val = [i for i, g in enumerate(fold_of) if g == f]
        train = [i for i, g in enumerate(fold_of) if g != f]
        folds.append((train, val))
    return folds


def data_hash(files: Iterable[Path]) -> str:
    """sha256 over the files' contents, in name order; names and locations don't count."""
    digest = hashlib.sha256()
    for path in sorted((Path(p) for p in files), key=lambda p: p.name):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
