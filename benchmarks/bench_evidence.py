"""Evidence benchmark: the scorer's per-criterion evidence phrases against spans marked by hand.

models/eval/evidence.jsonl holds held-out replies (settings no training row uses) with, per criterion, the
words a person marked as driving that criterion's level. Rows are split by customer line into a dev half (on
which the phrase method's choices were made) and a test half (reported, never tuned on).

For each criterion with marked words: hit@1 = the top phrase overlaps a marked span; word precision / recall /
F1 of the top phrase against the marked words; `distinct` = share of multi-clause replies whose top phrase
differs between every pair of criteria (hand-marked: see the `marked` row). Baselines: whole sentences ranked
by leave-one-out influence (the previous method) and the whole reply.

Run from the repository root:  .venv/bin/python benchmarks/bench_evidence.py [--half dev|test|all]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.content.library import Library  # noqa: E402
from simulator.scoring.base import ScoreRequest  # noqa: E402
from simulator.scoring.data import context_bucket  # noqa: E402
from simulator.scoring.model import ModelScorer  # noqa: E402

WORD = re.compile(r"\w+(?:'\w+)?")


def words_in(text: str, start: int, end: int) -> set[int]:
    """Indices (character starts) of the words lying inside [start, end)."""
    return {m.start() for m in WORD.finditer(text) if m.start() >= start and m.end() <= end}


def spans_of(text: str, phrase: str) -> list[tuple[int, int]]:
    at = text.find(phrase)
    if at < 0:
        at = text.lower().find(phrase.lower())
    return [(at, at + len(phrase))] if at >= 0 else []


def measure(rows: list[dict], results: list, criteria: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for cid in criteria:
        hits = precision = recall = n = 0.0
        for row, result in zip(rows, results):
            gold = row["spans"].get(cid) or []
            if not gold:
                continue
            text = row["reply"]
            gold_words: set[int] = set()
            gold_spans: list[tuple[int, int]] = []
            for phrase in gold:
                for a, b in spans_of(text, phrase):
                    gold_spans.append((a, b))
                    gold_words |= words_in(text, a, b)
            predicted = result.evidence.get(cid) or []
            if not predicted or not gold_words:
                n += 1
                continue
            top = spans_of(text, predicted[0])
            top_words: set[int] = set()
            for a, b in top:
                top_words |= words_in(text, a, b)
            n += 1
            hits += any(a < gb and ga < b for a, b in top for ga, gb in gold_spans)
            if top_words:
                precision += len(top_words & gold_words) / len(top_words)
                recall += len(top_words & gold_words) / len(gold_words)
        p, r = precision / max(n, 1), recall / max(n, 1)
        out[cid] = {"n": n, "hit@1": hits / max(n, 1), "precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9)}
    return out


def distinct(rows: list[dict], tops: list[dict[str, str]], criteria: list[str]) -> float:
    multi = [(row, top) for row, top in zip(rows, tops) if len(re.findall(r"[,.;!?—]", row["reply"].rstrip(".!?"))) >= 1]
    if not multi:
        return 0.0
    return sum(len({top.get(c) for c in criteria}) == len(criteria) for _, top in multi) / len(multi)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--file", type=Path, default=ROOT / "models" / "eval" / "evidence.jsonl")
    parser.add_argument("--scorer", type=Path, metavar="DIR", help="a folder of heads to use instead of models/heads")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.half != "all":
        rows = [r for r in rows if (context_bucket(r["context"]) < 0.5) == (args.half == "dev")]
    rubric = Library().rubric("service")
    criteria = list(rubric.criterion_ids)
    requests = [ScoreRequest(reply=r["reply"], context=r["context"], rubric=rubric) for r in rows]
    print(f"{args.file.name}: {len(rows)} rows ({args.half} half)")
    print(f"{'method':<22}{'criterion':<18}{'n':>5}{'hit@1':>8}{'prec':>8}{'recall':>8}{'f1':>8}")
    folder = args.scorer.resolve() if args.scorer else None
    systems = {
        "tagger + attribution": ModelScorer(heads_folder=folder, evidence_unit="phrase"),
        "attribution only": ModelScorer(heads_folder=folder, evidence_unit="attribution"),
        "sentence (before)": ModelScorer(heads_folder=folder, evidence_unit="sentence"),
    }
    for name, scorer in systems.items():
        results = scorer.score_many(requests)
        for cid, m in measure(rows, results, criteria).items():
            print(f"{name:<22}{cid:<18}{int(m['n']):>5}{m['hit@1']:>8.3f}{m['precision']:>8.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}")
        tops = [{c: (r.evidence.get(c) or [""])[0] for c in criteria} for r in results]
        print(f"{name:<22}{'distinct':<18}{'':>5}{distinct(rows, tops, criteria):>8.3f}")
    whole = [type("R", (), {"evidence": {c: [r["reply"]] for c in criteria}})() for r in rows]
    for cid, m in measure(rows, whole, criteria).items():
        print(f"{'whole reply':<22}{cid:<18}{int(m['n']):>5}{m['hit@1']:>8.3f}{m['precision']:>8.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}")
    gold_tops = [{c: (r["spans"].get(c) or [""])[0] for c in criteria} for r in rows]
    print(f"{'marked':<22}{'distinct':<18}{'':>5}{distinct(rows, gold_tops, criteria):>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
