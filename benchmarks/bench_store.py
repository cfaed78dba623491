"""How fast the session store commits turns.

    python benchmarks/bench_store.py [--turns 200] [--writers 4] [--per-writer 50]

Prints, for SQLite (a temporary file) and for PostgreSQL when FRONTLINE_TEST_PG_URL is set (a temporary
schema there):
  - turn-commit latency (p50, p95, max) of `Store.record_turn`, one committed transaction per turn, as
    `frontline play` does after each scored reply;
  - concurrent-writer throughput: WRITERS processes, each recording PER_WRITER turns of its own session into
    the same database at once (turns committed per second, and each writer's p95 latency).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _sample_turn():
    """A realistic turn (scored by a stand-in scorer, no model needed) to store over and over."""
    from simulator.engine import Conversation
    from simulator.content.library import Library
    from simulator.scoring.base import build_reply_score

    library = Library()
    scenario = library.scenario("tire-return")
    rubric = library.rubric(scenario.rubric)
    conversation = Conversation(scenario, rubric, seed=1)
    evidence = {c: ["That's a long way to come with a tyre"] for c in rubric.criterion_ids}
    score = build_reply_score(rubric, {c: 0.72 for c in rubric.criterion_ids}, evidence,
                              nearest_model_reply=scenario.beats[0].model_replies[0], model_version="bench")
    turn = conversation.apply("That's a long way to come with a tyre that let you down; let me help you with it.",
                              score)
    return conversation, turn


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def bench_latency(url: str, turns: int) -> dict:
    from simulator.store import Store

    conversation, turn = _sample_turn()
    store = Store(url)
    session_id = store.start_session(trainee="bench", conversation=conversation.__class__(
        conversation.scenario, conversation.rubric, seed=1), mode="practice", content_hash="")
    for n in range(1, 6):  # warm up: connections, statement caches
        store.record_turn(session_id, dataclasses.replace(turn, number=n))
    latencies = []
    for n in range(6, turns + 6):
        t0 = time.perf_counter()
        store.record_turn(session_id, dataclasses.replace(turn, number=n))
        latencies.append(time.perf_counter() - t0)
    store.close()
    return {"p50": statistics.median(latencies), "p95": _percentile(latencies, 0.95), "max": max(latencies)}


def _writer(url: str, count: int, barrier, results) -> None:
    sys.path.insert(0, str(ROOT))
    from simulator.store import Store

    conversation, turn = _sample_turn()
    store = Store(url)
    session_id = store.start_session(trainee="bench", conversation=conversation.__class__(
        conversation.scenario, conversation.rubric, seed=1), mode="practice", content_hash="")
    barrier.wait()
    latencies = []
    start = time.perf_counter()
    for n in range(1, count + 1):
        t0 = time.perf_counter()
        store.record_turn(session_id, dataclasses.replace(turn, number=n))
        latencies.append(time.perf_counter() - t0)
    results.put((start, time.perf_counter(), _percentile(latencies, 0.95), session_id))
    store.close()


def bench_concurrent(url: str, writers: int, per_writer: int) -> dict:
    from simulator.store import Store

    Store(url).close()  # create the schema first: this measures writing, not migrating
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers)
    results = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, per_writer, barrier, results)) for _ in range(writers)]
    for p in procs:
        p.start()
    done = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer failed")
    elapsed = max(d[1] for d in done) - min(d[0] for d in done)
    with Store(url) as store:
        stored = sum(store.session(d[3]).turn_count for d in done)
    total = writers * per_writer
    return {"elapsed": elapsed, "per_s": total / elapsed, "p95": max(d[2] for d in done), "stored": stored,
            "total": total}


def _pg_schema_url(base: str):
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200, help="turns timed one by one (default 200)")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes (default 4)")
    parser.add_argument("--per-writer", type=int, default=50, help="turns per writer (default 50)")
    args = parser.parse_args()

    backends = []
    with tempfile.TemporaryDirectory() as folder:
        backends.append(("SQLite", lambda: (f"sqlite:///{folder}/latency.db", lambda: None),
                         lambda: (f"sqlite:///{folder}/concurrent.db", lambda: None)))
        pg = os.environ.get("FRONTLINE_TEST_PG_URL")
        if pg:
            backends.append(("PostgreSQL", lambda: _pg_schema_url(pg), lambda: _pg_schema_url(pg)))
        print(f"turn commit latency over {args.turns} turns; {args.writers} concurrent writers x "
              f"{args.per_writer} turns; {os.cpu_count()} CPUs")
        if not pg:
            print("(PostgreSQL skipped: set FRONTLINE_TEST_PG_URL, e.g. \"$(.ci/start-postgres.sh)\")")
        for name, latency_target, concurrent_target in backends:
            url, cleanup = latency_target()
            try:
                lat = bench_latency(url, args.turns)
            finally:
                cleanup()
            url, cleanup = concurrent_target()
            try:
                conc = bench_concurrent(url, args.writers, args.per_writer)
            finally:
                cleanup()
            print(f"{name:<11} commit p50 {_ms(lat['p50'])}  p95 {_ms(lat['p95'])}  max {_ms(lat['max'])}   "
                  f"concurrent: {conc['per_s']:7.0f} turns/s ({conc['stored']}/{conc['total']} stored in "
                  f"{conc['elapsed']:.2f} s, writer p95 {_ms(conc['p95']).strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
