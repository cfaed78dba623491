"""Benchmarks of the trainee's app: time to first screen, and reply-to-feedback latency with the real model.

    .venv/bin/python benchmarks/bench_tui.py            # both
    .venv/bin/python benchmarks/bench_tui.py --startup  # time to first screen only (no model needed)

Time to first screen is measured in a fresh interpreter, from just before it is started until the picker is
mounted (and separately from the app being created), so imports count. Latency is measured in-process with
the real scorer: from pressing Enter on a reply to its feedback being on screen, over several replies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CHILD = r"""
import json, sys, time
t_imports = time.perf_counter()
from simulator.services import Services
from simulator.tui.trainee.app import make_app
t_imported = time.perf_counter()

class NoModel:
    # The model loads in a background thread after the first screen; keep it out of this measurement.
    version = "none"
    def score(self, request): raise RuntimeError("not in this benchmark")
    def score_many(self, requests): return [self.score(r) for r in requests]

app = make_app(Services(scorer_factory=NoModel, db_url=sys.argv[2]), trainee="bench")
filled = []
async def auto(pilot):
    while app.first_screen_at is None:
        await pilot.pause(0.005)
    while not getattr(app.screen, "entries_loaded", False):
        await pilot.pause(0.005)
    filled.append(time.perf_counter())
    app.exit()
app.run(headless=True, size=(100, 32), auto_pilot=auto)
print(json.dumps({"filled_perf": filled[0], "mounted_perf": app.first_screen_at, "created_perf": app.launched_at,
                  "imports": t_imported - t_imports, "now_wall": time.time(), "now_perf": time.perf_counter()}))
"""


def time_to_first_screen(runs: int = 5) -> dict[str, float]:
    totals, in_app, imports, filled = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        env = {**os.environ, "FRONTLINE_DATA_DIR": tmp, "PYTHONPATH": str(ROOT)}
        for _ in range(runs):
            started = time.time()
            out = subprocess.run([sys.executable, "-c", _CHILD, "x", db], capture_output=True, text=True,
                                 env=env, cwd=ROOT, check=True).stdout
            doc = json.loads(out.strip().splitlines()[-1])
            mounted_wall = doc["now_wall"] - (doc["now_perf"] - doc["mounted_perf"])
            totals.append(mounted_wall - started)
            filled.append(doc["filled_perf"] - doc["mounted_perf"] + (mounted_wall - started))
            in_app.append(doc["mounted_perf"] - doc["created_perf"])
            imports.append(doc["imports"])
    return {"launch_to_picker_s": statistics.median(totals), "app_created_to_picker_s": statistics.median(in_app),
            "imports_s": statistics.median(imports), "list_filled_s": statistics.median(filled), "runs": runs}


REPLIES = [
    "I'm really sorry you've driven all this way with a heavy tyre, that's a real hassle.",
    "We've never actually stocked tyres here, which is why I can't find it on our system.",
    "I'll ring Parkway Car Centre across the car park right now and tell them you're on your way.",
    "No need to feel silly at all, it's an easy mix-up. I've got them on the phone for you now.",
]


async def _latency(replies: int) -> dict[str, float]:
    from simulator.services import Services
    from simulator.tui.trainee.app import make_app
    from simulator.tui.trainee.messages import TurnApplied
    from simulator.tui.trainee.screens.play import PlayScreen

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Services(db_url=f"sqlite:///{tmp}/bench.db"), scenario_id="tire-return", trainee="bench",
                       deterministic=True)
        applied: list[float] = []

        def hook(message) -> None:
            if isinstance(message, TurnApplied):
                applied.append(time.perf_counter())

        latencies: list[float] = []
        async with app.run_test(size=(100, 32), message_hook=hook) as pilot:
            started = time.perf_counter()
            while app.scorer_state == "loading":
                await pilot.pause(0.05)
            if app.scorer_state != "ready":
                raise SystemExit(f"the scoring model did not load: {app.scorer_error}")
            load = time.perf_counter() - started
            for reply in REPLIES[:replies]:
                screen = app.screen
                if not isinstance(screen, PlayScreen) or screen.finished:
                    break
                before = len(applied)
                screen.query_one("#reply").value = reply
                await pilot.press("enter")
                sent = time.perf_counter()
                while len(applied) == before:
                    await pilot.pause(0.005)
                await pilot.pause()  # one more refresh: the feedback drawn
                latencies.append(time.perf_counter() - sent)
    return {"model_load_s": load, "reply_to_feedback_median_s": statistics.median(latencies),
            "reply_to_feedback_max_s": max(latencies), "replies": len(latencies),
            "first_reply_s": latencies[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup", action="store_true", help="only time to first screen")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    startup = time_to_first_screen(args.runs)
    print(f"time to first screen (launch → picker mounted): {startup['launch_to_picker_s'] * 1000:.0f} ms "
          f"(app created → picker: {startup['app_created_to_picker_s'] * 1000:.0f} ms, "
          f"imports: {startup['imports_s'] * 1000:.0f} ms; median of {startup['runs']})")
    print(f"scenario list filled in (launch → list shown): {startup['list_filled_s'] * 1000:.0f} ms")
    if args.startup:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    latency = asyncio.run(_latency(len(REPLIES)))
    print(f"scoring model load (background): {latency['model_load_s']:.2f} s")
    print(f"reply-to-feedback latency, real model: median {latency['reply_to_feedback_median_s'] * 1000:.0f} ms, "
          f"max {latency['reply_to_feedback_max_s'] * 1000:.0f} ms, first {latency['first_reply_s'] * 1000:.0f} ms "
          f"over {latency['replies']} replies")


if __name__ == "__main__":
    main()
