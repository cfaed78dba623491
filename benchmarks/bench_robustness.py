"""Robustness benchmark: minimal pairs, noise invariance and red flags on held-out sets (models/eval/).

- pairs.jsonl: hand-written minimal pairs in settings no training row uses. A directional pair passes when the
  criterion it changes scores at least 0.10 higher on the better reply; an `ack_action` pair (same
  acknowledgement, another action) when empathy keeps its level; a noise pair (typos, case, punctuation, a
  greeting, a name, US/UK spelling) when every criterion keeps its level.
- red_flags.jsonl (and every reply of the pairs, which carry red-flag labels too): precision and recall of each
  red flag, and of "any red flag" (what fails a turn).
- The pairs' 460 replies carry levels: Spearman / QWK per criterion on them (a second held-out table).

Targets (issue 11): directional pairs >= 90 % overall and >= 70 % in every kind; noise pairs keep every level in
>= 90 %; red flags precision and recall >= 0.90.

Run from the repository root:  .venv/bin/python benchmarks/bench_robustness.py [--scorer DIR] [--show-failures]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.content.library import Library  # noqa: E402
from simulator.scoring.base import ScoreRequest  # noqa: E402
from simulator.scoring.metrics import criterion_metrics  # noqa: E402
from simulator.scoring.model import ModelScorer  # noqa: E402

EVAL = ROOT / "models" / "eval"
MOVE = 0.10


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def flag_table(truth: list[set[str]], raised: list[set[str]], flags: list[str]) -> list[tuple[str, float, float, int]]:
    out = []
    for flag in [*flags, "any"]:
        t = np.array([bool(x) if flag == "any" else flag in x for x in truth])
        r = np.array([bool(x) if flag == "any" else flag in x for x in raised])
        hits = float((t & r).sum())
        out.append((flag, hits / max(r.sum(), 1), hits / max(t.sum(), 1), int(t.sum())))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scorer", type=Path, metavar="DIR", help="a folder of heads to use instead of models/heads")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    rubric = Library().rubric("service")
    scorer = ModelScorer(heads_folder=args.scorer.resolve() if args.scorer else None)
    print(f"scorer: {scorer.version}")
    criteria = list(rubric.criterion_ids)
    flags = [f.id for f in rubric.red_flags]

    pairs = read(EVAL / "pairs.jsonl")
    requests = [ScoreRequest(reply=p[side], context=p["context"], rubric=rubric) for p in pairs for side in ("a", "b")]
    results = scorer.score_many(requests)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    failures: list[str] = []
    for i, pair in enumerate(pairs):
        a, b = results[2 * i], results[2 * i + 1]
        kind = pair["kind"]
        if kind == "noise":
            ok = a.levels == b.levels
            label = f"noise:{pair.get('noise', '?')}"
        elif pair.get("invariant"):
            ok = a.levels[pair["criterion"]] == b.levels[pair["criterion"]]
            label = kind
        else:
            ok = a.scores[pair["criterion"]] - b.scores[pair["criterion"]] >= MOVE
            label = kind
        by_kind[label].append(ok)
        if not ok:
            failures.append(f"{pair['id']} {label}: A {a.scores} / B {b.scores}\n   A: {pair['a']}\n   B: {pair['b']}")

    directional = [ok for kind, oks in by_kind.items() if not kind.startswith("noise") and kind != "ack_action" for ok in oks]
    noise = [ok for kind, oks in by_kind.items() if kind.startswith("noise") for ok in oks]
    print(f"\nminimal pairs ({len(pairs)}): the changed criterion moves >= {MOVE:.2f} the right way, or keeps its level")
    print(f"{'kind':<24}{'pairs':>6}{'pass':>8}")
    for kind in sorted(by_kind):
        oks = by_kind[kind]
        print(f"{kind:<24}{len(oks):>6}{sum(oks) / len(oks):>8.1%}")
    worst = min((sum(o) / len(o), k) for k, o in by_kind.items() if not k.startswith("noise") and k != "ack_action")
    print(f"{'directional, all':<24}{len(directional):>6}{sum(directional) / len(directional):>8.1%}   (target >= 90 %; "
          f"worst kind {worst[1]} {worst[0]:.1%}, target >= 70 %)")
    print(f"{'noise keeps every level':<24}{len(noise):>6}{sum(noise) / len(noise):>8.1%}   (target >= 90 %)")

    truth = [set(p[f"labels_{side}"].get("red_flags", [])) for p in pairs for side in ("a", "b")]
    rf_rows = read(EVAL / "red_flags.jsonl")
    rf_results = scorer.score_many([ScoreRequest(reply=r["reply"], context=r["context"], rubric=rubric) for r in rf_rows])
    for name, t, res in (("red_flags.jsonl", [set(r["red_flags"]) for r in rf_rows], rf_results),
                         ("pairs' replies", truth, results)):
        print(f"\nred flags on {name} ({len(t)} replies): precision / recall (target >= 0.90 each)")
        for flag, precision, recall, n in flag_table(t, [set(r.red_flags) for r in res], flags):
            print(f"  {flag:<20} {precision:>6.3f} {recall:>6.3f}   ({n} raise it)")
        if args.show_failures:
            for row_truth, result, req in zip(t, res, rf_rows if name == "red_flags.jsonl" else []):
                if row_truth != set(result.red_flags):
                    print(f"   truth {sorted(row_truth)} raised {sorted(result.red_flags)}: {req['reply']}")

    print(f"\nlevels on the pairs' {2 * len(pairs)} replies (held out):")
    print(f"{'criterion':<18}{'spearman':>9}{'qwk':>7}")
    for cid in criteria:
        labels = np.array([p[f"labels_{side}"][cid] for p in pairs for side in ("a", "b")])
        scores = np.array([r.scores[cid] for r in results])
        levels = np.array([r.levels[cid] for r in results])
        m = criterion_metrics(labels, scores, levels, rubric.criterion(cid).max_level)
        print(f"{cid:<18}{m['spearman']:>9.3f}{m['qwk']:>7.3f}")
    if args.show_failures:
        print("\nfailed pairs:")
        print("\n".join(failures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
