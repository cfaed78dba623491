"""The scorer as another program sees it: `frontline score --jsonl -` over a pipe, one line written, its answer
read back, then the next (what a local scoring service's client does).

Prints: ready (process start to the first answer, model load included), per-reply round trip p50/p95 for replies
to a customer line the process has already seen (target p95 <= 10 ms on the 2-core machine) and for the first
reply to a new line, and the process's peak RSS (target <= 600 MB).

Run from the repository root:  .venv/bin/python benchmarks/bench_pipe.py [--rows 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.scoring.data import default_data_files, load_examples, split  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    examples = load_examples(default_data_files(), ["empathy", "ownership", "script_avoidance"])
    _, test = split(examples)
    by_line: dict[str, list] = defaultdict(list)
    for e in test:
        by_line[e.context].append(e)
    ordered = [e for replies in by_line.values() for e in replies][: args.rows]

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "score", "--jsonl", "-"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout

    def ask(context: str, reply: str) -> dict:
        proc.stdin.write((json.dumps({"context": context, "reply": reply}) + "\n").encode())
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    ask("Hello, is anyone there?", "Yes, I'm here — how can I help?")
    ready = time.perf_counter() - start
    seen: set[str] = {"Hello, is anyone there?"}
    first: list[float] = []
    again: list[float] = []
    for example in ordered:
        t0 = time.perf_counter()
        answer = ask(example.context, example.reply)
        elapsed = (time.perf_counter() - t0) * 1000
        assert "scores" in answer, answer
        (again if example.context in seen else first).append(elapsed)
        seen.add(example.context)
    rss = peak_rss_mb(proc.pid)
    proc.stdin.close()
    proc.wait(timeout=60)
    print(f"`frontline score --jsonl -`, {len(ordered)} held-out replies to {len(seen) - 1} customer lines")
    print(f"ready (start to first answer, model load included): {ready:.2f} s")
    print(f"line already seen ({len(again)}): p50 {percentile(again, 50):.1f} ms, p95 {percentile(again, 95):.1f} ms  (target p95 <= 10 ms)")
    print(f"first reply to a new line ({len(first)}): p50 {percentile(first, 50):.1f} ms, p95 {percentile(first, 95):.1f} ms")
    print(f"peak RSS of the scoring process: {rss:.0f} MB  (target <= 600 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
