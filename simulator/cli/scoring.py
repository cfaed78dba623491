"""`frontline score | eval | train`: the scorer's command-line handlers.

`register(subparsers)` adds the subcommands; each sets `func`, a handler taking the parsed namespace and
returning the exit status (0 ok, 2 for any error, reported as `frontline: <message>` on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from simulator.content.rubric import Rubric
from simulator.cli.inputs import STDIN, decode_utf8, has_surrogate, read_stdin
from simulator.errors import FrontlineError, UsageError, print_error
from simulator.scoring.base import ReplyScore, Scorer, ScoreRequest
from simulator.scoring.data import json_object
from simulator.terminal import clean

DEFAULT_RUBRIC = "service"
BATCH = 32


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    score = subparsers.add_parser(
        "score",
        help="score a reply (or a JSONL file of replies) against a rubric",
        description="Score one reply to a customer line, or every line of a JSONL file "
        '({"id", "context", "reply"} each; `-` reads standard input) giving one JSON line per input line.',
    )
    score.add_argument("reply", nargs="?", help="the staff member's reply")
    score.add_argument("--context", "-c", default="", help="what the customer had just said")
    score.add_argument("--jsonl", metavar="FILE", help="score every line of FILE (- for standard input)")
    _rubric_option(score)
    score.set_defaults(handler=cmd_score)

    evaluate = subparsers.add_parser(
        "eval", help="evaluate the scorer and two baselines on the held-out split of the labelled data"
    )
    _rubric_option(evaluate)
    _data_option(evaluate)
    evaluate.set_defaults(handler=cmd_eval)

    train = subparsers.add_parser(
        "train", help="fit the scorer's heads for a rubric from labelled data (columns = criterion ids)"
    )
    _rubric_option(train)
    _data_option(train)
    train.add_argument("--out", type=Path, metavar="DIR", help="where to write <rubric>.npz/.json (default models/heads)")
    train.add_argument("--adapt", action="store_true",
                       help="first fine-tune the encoder adapter on the same data (minutes on a CPU; replaces "
                            "models/adapter/, so other rubrics' heads must be retrained after it)")
    train.add_argument("--adapter-out", type=Path, metavar="DIR",
                       help="where --adapt writes the adapter (default models/adapter)")
    train.set_defaults(handler=cmd_train)


def _rubric_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rubric", "-r", default=DEFAULT_RUBRIC, help="rubric id or path to a rubric YAML file")


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", type=Path, metavar="FILE",
                        help="labelled JSONL files (default models/data/labelled/*.jsonl)")


# -- shared helpers -------------------------------------------------------------------------------------------


def _guarded(handler: Callable[[argparse.Namespace, TextIO], int]) -> Callable[..., int]:
    """The handler as `frontline` calls it, `(args, services)`; every expected failure becomes exit 2."""

    def run(args: argparse.Namespace, services) -> int:
        err = services.stderr
        args.services = services
        try:
            return handler(args, services.stdout)
        except OSError as exc:  # a data or output file that cannot be read or written
            if isinstance(exc, BrokenPipeError):
                raise
            return print_error(UsageError(str(exc)), err)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def resolve_rubric(name: str) -> Rubric:
    from simulator.content.library import ContentError, Library, require

    try:
        return require(Library().find_rubric(name))
    except ContentError as exc:
        raise UsageError(str(exc)) from None


def _data_files(args: argparse.Namespace) -> list[Path]:
    from simulator.scoring.data import default_data_files

    files = list(args.data or default_data_files())
    if not files:
        raise UsageError("no labelled data: models/data/labelled/*.jsonl is empty; give files with --data")
    for path in files:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    return files


def _scorer(args: argparse.Namespace) -> Scorer:
    return args.services.make_scorer()


# -- score ----------------------------------------------------------------------------------------------------


def _cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    """Score one reply, or a JSONL file of them."""

    if args.jsonl is not None:
        if args.reply is not None:
            raise UsageError("give either a reply or --jsonl FILE, not both")
        return _score_jsonl(args, out)
    if args.reply is None:
        raise UsageError('nothing to score: give a reply ("…" --context "…") or --jsonl FILE')
    _require_words(args.reply)
    rubric = resolve_rubric(args.rubric)
    result = _scorer(args).score(ScoreRequest(reply=args.reply, context=args.context, rubric=rubric))
    out.write(clean(format_score(rubric, result)) + "\n")  # the reply's own words come back as evidence
    return 0


def _parse_jsonl_line(line: str, where: str) -> dict[str, Any]:
    """One decoded JSONL line as a row with string context and reply; UsageError/DataError naming `where`."""
    if has_surrogate(line):  # undecodable bytes handed over as surrogates (surrogateescape)
        raise UsageError(f"{where}: not valid UTF-8 text; save it as UTF-8 and try again")
    row = json_object(line, where)  # DataError: reported like a UsageError, exit 2
    for key in ("context", "reply"):
        if not isinstance(row.get(key), str):
            raise UsageError(f"{where}: {key!r} must be a string")
    if has_surrogate(row):
        raise UsageError(f"{where}: a \\u escape makes a lone surrogate (e.g. \"\\ud800\" without its "
                         "pair), which is not text; fix or remove it")
    _require_words(row["reply"], f"{where}: ")
    return row


def _require_words(reply: str, where: str = "") -> None:
    """A reply with nothing in it (empty, or spaces and line breaks only) is refused: there are no words to
    score, and a level for silence would read as feedback on something said."""
    if not reply.strip():
        raise UsageError(f"{where}'reply' is empty, so there is nothing to score; give the words said to the "
                         "customer (or leave the line out)")


def _read_jsonl_file(source: str) -> list[tuple[int, dict[str, Any]]]:
    """Every row of a JSONL file, all checked before any is scored (a file is a batch: all or nothing)."""
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source}: no such file")
    text = decode_utf8(path.read_bytes(), source)
    rows: list[tuple[int, dict[str, Any]]] = []
    # Split on newlines only: str.splitlines would also break a line at a U+2028 or U+0085 inside a string.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            rows.append((number, _parse_jsonl_line(line, f"{source}:{number}")))
    return rows


def _record(key: Any, result: ReplyScore) -> dict[str, Any]:
    return {
        "id": key,
        "scores": {cid: round(v, 4) for cid, v in result.scores.items()},
        "levels": result.levels,
        "evidence": result.evidence,
        "overall": round(result.overall, 4),
        "red_flags": list(result.red_flags),
    }


def _score_jsonl(args: argparse.Namespace, out: TextIO) -> int:
    if args.jsonl == "-":
        return _stream_jsonl(args, out)
    rows = _read_jsonl_file(args.jsonl)  # every line is checked before anything is scored or printed
    from simulator.reports.exports import json_for_terminal
    rubric = resolve_rubric(args.rubric)
    scorer = _scorer(args)
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        results = scorer.score_many([ScoreRequest(reply=r["reply"], context=r["context"], rubric=rubric) for _, r in chunk])
        for (number, row), result in zip(chunk, results):
            out.write(json_for_terminal(json.dumps(_record(row.get("id", number), result), ensure_ascii=False)) + "\n")
        out.flush()
    return 0


def _stdin_lines(stdin: TextIO) -> Iterator[tuple[int, str | UsageError]]:
    """(line number, text) for each line of standard input as soon as it arrives, or an error for a line that
    is not UTF-8. Read from the bytes where there are some, so the locale does not matter."""
    raw = getattr(stdin, "buffer", None)
    number = 0
    while True:
        chunk = raw.readline() if raw is not None else stdin.readline()
        if not chunk:
            return
        number += 1
        if isinstance(chunk, bytes):
            try:
                text = decode_utf8(chunk, STDIN, first_line=number)  # drops line 1's byte-order mark
            except UsageError as exc:
                yield number, exc
                continue
        else:
            text = chunk.removeprefix("\ufeff") if number == 1 else chunk
        yield number, text.removesuffix("\n").removesuffix("\r")


def _stream_jsonl(args: argparse.Namespace, out: TextIO) -> int:
    """Standard input as a scoring service: each line is answered (and flushed) as soon as it is read and
    scored, so another program can write a reply and read its scores back. A bad line gets an error object
    naming it, {"line": n, "error": "..."}, and the rest go on; the exit status is 2 at the end if any was bad."""
    from simulator.reports.exports import json_for_terminal
    rubric = resolve_rubric(args.rubric)  # an unknown rubric is fatal before any input is read
    scorer = _scorer(args)
    bad = 0
    for number, item in _stdin_lines(args.services.stdin):
        if isinstance(item, str) and not item.strip():
            continue
        row: dict[str, Any] | None = None
        try:
            if isinstance(item, UsageError):
                raise item
            row = _parse_jsonl_line(item, f"{STDIN}:{number}")
        except FrontlineError as exc:
            bad += 1
            record: dict[str, Any] = {"line": number, "error": str(exc)}
        else:
            result = scorer.score(ScoreRequest(reply=row["reply"], context=row["context"], rubric=rubric))
            record = _record(row.get("id", number), result)
        out.write(json_for_terminal(json.dumps(record, ensure_ascii=False)) + "\n")
        out.flush()
    if bad:
        print_error(UsageError(f"{STDIN}: {bad} line(s) could not be scored; each has an error object in the "
                               "output naming its line"), args.services.stderr)
        return 2
    return 0


def format_score(rubric: Rubric, result: ReplyScore) -> str:
    lines = [f"{rubric.name} ({rubric.id}) — overall {result.overall:.2f}"]
    width = max(len(c.name) for c in rubric.criteria)
    for criterion in rubric.criteria:
        cs = result.criteria[criterion.id]
        lines.append(f"  {criterion.name:<{width}}  {cs.score:.2f}  level {cs.level}/{criterion.max_level}")
        for sentence in cs.evidence[:2]:
            sentence = clean(sentence, one_line=True)
            shown = sentence if len(sentence) <= 100 else sentence[:99] + "…"
            lines.append(f"  {'':<{width}}  ↳ “{shown}”")
        lines.append(f"  {'':<{width}}  {cs.feedback}")
    if result.red_flags:
        flags = {f.id: f for f in rubric.red_flags}
        for flag_id in result.red_flags:
            lines.append(f"  RED FLAG {flag_id}: {flags[flag_id].feedback if flag_id in flags else ''}".rstrip())
    return "\n".join(lines)


# -- eval / train ---------------------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    """Print Spearman, QWK and macro-F1 per criterion on the test split, for Frontline and two baselines."""
    from simulator.scoring.evaluate import evaluate, format_table
    from simulator.scoring.model import ModelScorer

    rubric = resolve_rubric(args.rubric)
    files = _data_files(args)
    scorer = ModelScorer()
    missing = [c.id for c in rubric.criteria if c.id not in scorer.heads_for(rubric)]
    rows = evaluate(rubric, files, scorer=scorer, log=lambda msg: print(msg, file=sys.stderr))
    out.write(format_table(rows) + "\n")
    if missing:
        out.write(f"(no trained heads for {', '.join(missing)}: `frontline` rows score them with exemplars; "
                  f"run `frontline train --rubric {rubric.id}`)\n")
    out.write(f"scorer {scorer.version}\n")
    return 0


def _cmd_train(args: argparse.Namespace, out: TextIO) -> int:
    """Fit heads for the rubric's criteria from labelled data and write models/heads/<rubric>.npz."""
    from simulator.scoring.train import train_heads

    rubric = resolve_rubric(args.rubric)
    files = _data_files(args)
    result = train_heads(rubric, files, folder=args.out, adapt=args.adapt, adapter_folder=args.adapter_out,
                         log=lambda msg: print(msg, file=out, flush=True))
    out.write(f"wrote {result.npz_path} and {result.json_path.name} "
              f"({result.n_train} training rows; {result.n_test} held out; data {result.heads.data_hash[:12]})\n")
    return 0


cmd_score = _guarded(_cmd_score)
cmd_eval = _guarded(_cmd_eval)
cmd_train = _guarded(_cmd_train)
