"""How many labels a house rule needs: the learning curve of `frontline calibrate` on benchmarks/house_rule.py.

The house (a bank) gives ownership 2 only with a time or a reference number. Its 252 labelled replies to 28
new customer lines are split by customer line: 6 lines (54 replies) are held out and never fitted on; the
calibration is fitted on the first 30, 60, 120 and all 198 of the other rows (a fixed shuffle), and agreement
with the house's labels on the held-out lines is printed before (shipped heads) and after, per criterion.

Target: 120 labels move ownership's Spearman by >= 0.10 without costing empathy or script-avoidance more than
0.02. Also prints the wall time of one calibration on all rows (encoding included).

    .venv/bin/python benchmarks/bench_calibrate.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from house_rule import rows  # noqa: E402

from simulator.content.library import Library  # noqa: E402
from simulator.scoring.calibrate import calibrate, split_by_line  # noqa: E402
from simulator.scoring.data import parse_row  # noqa: E402
from simulator.scoring.encoder import Encoder  # noqa: E402
from simulator.scoring.heads import build_features  # noqa: E402
from simulator.scoring.metrics import spearman  # noqa: E402
from simulator.scoring.train import encode_examples  # noqa: E402

SIZES = (30, 60, 120, 200)
HELD_LINES = 6


def main() -> None:
    import json

    rubric = Library().rubric("service")
    max_level = {c.id: c.max_level for c in rubric.criteria}
    examples = [parse_row(json.dumps(r), rubric.criterion_ids, f"house:{i}", max_level=max_level)
                for i, r in enumerate(rows(), 1)]
    n_lines = len({e.context for e in examples})
    fit_all, held = split_by_line(examples, holdout=HELD_LINES / n_lines)
    random.Random(7).shuffle(fit_all)
    print(f"house rule set: {len(examples)} rows on {n_lines} customer lines; held out {len(held)} rows on "
          f"{len({e.context for e in held})} lines; fitting on up to {len(fit_all)} rows")

    encoder = Encoder()
    started = time.perf_counter()
    encoded = encode_examples(encoder, fit_all + held)
    encode_s = time.perf_counter() - started
    index = {id(e): i for i, e in enumerate(fit_all + held)}

    def features_for(subset, recipe):
        at = [index[id(e)] for e in subset]
        return build_features(recipe, encoded.contexts[at], encoded.stats[at])

    print(f"encoding {len(fit_all) + len(held)} rows: {encode_s:.1f} s")
    # Labels on three levels tie, so even a perfect ranking of the held-out replies has a Spearman below 1: the
    # most any scorer can reach here, against which a gain has to be read.
    ceiling = {c.id: spearman(np.arange(len(truth)), np.sort(truth)) for c in rubric.criteria
               for truth in [np.array([e.labels[c.id] for e in held])]}
    print("ceiling (a perfect ranking of the held-out labels): "
          + ", ".join(f"{cid} {value:.3f}" for cid, value in ceiling.items()) + "\n")
    header = f"{'labels':>6}  " + "  ".join(f"{c.id + ' ρ':>22}" for c in rubric.criteria) + "   qwk/exact (ownership)"
    print(header)
    before_printed = False
    for size in SIZES:
        subset = fit_all[:min(size, len(fit_all))]
        t = time.perf_counter()
        report = calibrate(rubric, subset, held, features_for=features_for)
        fit_s = time.perf_counter() - t
        by = {r.criterion: r for r in report.criteria}
        if not before_printed:
            cells = "  ".join(f"{by[c.id].before['spearman']:>22.3f}" for c in rubric.criteria)
            own = by["ownership"].before
            print(f"{'0':>6}  {cells}   {own['qwk']:.3f}/{own['exact']:.3f}   (shipped heads)")
            before_printed = True
        cells = "  ".join(
            f"{by[c.id].after['spearman']:>8.3f} ({by[c.id].after['spearman'] - by[c.id].before['spearman']:+.3f})"
            f"{'':>4}" for c in rubric.criteria)
        own = by["ownership"].after
        print(f"{len(subset):>6}  {cells}   {own['qwk']:.3f}/{own['exact']:.3f}   "
              f"(strength {', '.join(f'{r.strength:g}' for r in report.criteria)}; fit {fit_s:.1f} s)")
    total = encode_s + fit_s
    print(f"\none calibration on {len(fit_all)} rows: {total:.1f} s (encoding {encode_s:.1f} s + fitting "
          f"{fit_s:.1f} s; model load not included)")


if __name__ == "__main__":
    main()
