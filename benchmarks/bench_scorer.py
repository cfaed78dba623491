"""Scorer benchmark: cold ready time, per-reply latency, throughput, peak memory and the held-out quality table.

Run from the repository root:  .venv/bin/python benchmarks/bench_scorer.py  [--rows N] [--no-quality]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.scoring.model import ModelScorer  # noqa: E402  (timed from here: the cold start)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="held-out and train rows used for latency (default 200)")
    parser.add_argument("--no-quality", action="store_true", help="skip the quality table")
    args = parser.parse_args()

    from simulator.content.library import Library
    from simulator.scoring.base import ScoreRequest
    from simulator.scoring.data import default_data_files, load_examples, split

    rubric = Library().rubric("service")
    scorer = ModelScorer()
    scorer.load([rubric])
    ready = time.perf_counter() - T_START
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"backend {scorer.encoder.backend} on {scorer.encoder.device}, {scorer.encoder.threads} threads")
    print(f"scorer: {scorer.version}")
    print(f"ready after cold import + load: {ready:.2f} s (graph: {getattr(scorer.encoder._model, 'cache_status', '-')})")

    files = default_data_files()
    examples = load_examples(files, rubric.criterion_ids)
    train, test = split(examples)
    pool = (test + train)[: max(args.rows, 64)]
    requests = [ScoreRequest(reply=e.reply, context=e.context, rubric=rubric) for e in pool]

    for request in requests[:10]:  # warm-up on replies not timed below
        scorer.score(ScoreRequest(reply=request.reply + " Thanks.", context=request.context, rubric=rubric))
    scorer.encoder.clear_cache()
    scorer.load([rubric])
    new_line: list[float] = []
    same_line: list[float] = []
    seen: set[str] = set()
    for request in requests[: args.rows]:
        start = time.perf_counter()
        scorer.score(request)
        elapsed = (time.perf_counter() - start) * 1000
        (same_line if request.context in seen else new_line).append(elapsed)
        seen.add(request.context)
    every = new_line + same_line
    print(f"latency, batch 1, {len(every)} replies: p50 {percentile(every, 50):.1f} ms, p95 {percentile(every, 95):.1f} ms")
    if same_line:
        print(f"  customer line already embedded ({len(same_line)}): p50 {percentile(same_line, 50):.1f} ms, "
              f"p95 {percentile(same_line, 95):.1f} ms")
    if new_line:
        print(f"  first reply to a new customer line ({len(new_line)}): p50 {percentile(new_line, 50):.1f} ms, "
              f"p95 {percentile(new_line, 95):.1f} ms")

    for batch in (16, 64):
        scorer.encoder.clear_cache()
        scorer.load([rubric])
        chunk = requests[:batch] if len(requests) >= batch else requests
        start = time.perf_counter()
        scorer.score_many(chunk)
        elapsed = time.perf_counter() - start
        print(f"throughput, batch {batch}: {len(chunk) / elapsed:.1f} replies/s ({elapsed * 1000:.0f} ms a batch)")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (scorer loaded and used): {peak_mb:.0f} MB")

    if not args.no_quality:
        from simulator.scoring.evaluate import evaluate, print_table

        print("\nheld-out quality (test split):")
        print_table(evaluate(rubric, files, scorer=scorer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
