"""Crashes and concurrent writers lose nothing that was scored.

The kill -9 of `frontline play` runs this file as a fresh child process
(`python tests/test_store_durability.py blocked URL REPLIES N`: play REPLIES, hang while scoring reply N+1).
The burst and concurrency tests fork writer processes (fast to start: they share the imports already made);
each opens its own Store, as separate Frontlines would.
"""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.fakes import FakeScorer  # noqa: E402
from simulator.cli import main
from simulator.services import Services  # noqa: E402
from simulator.engine import Conversation  # noqa: E402
from simulator.store import Store  # noqa: E402
from helpers.store import WARM, pg_url, store_url, tire  # noqa: E402,F401 (fixtures)


# -- the child processes -------------------------------------------------------------------------------------------


class _HangingScorer(FakeScorer):
    """Scores like FakeScorer, but the call after `ok` replies says "blocked" on stdout and never returns."""

    def __init__(self, ok: int):
        super().__init__()
        self.ok = ok

    def score(self, request):
        if len(self.calls) >= self.ok:
            print("blocked", flush=True)
            time.sleep(600)
        return super().score(request)


def _child_blocked(url: str, replies: str, ok: str) -> int:
    return main(["--db", url, "play", "tire-return", "--replies", replies, "--trainee", "ann"],
                Services(scorer_factory=lambda: _HangingScorer(int(ok))))


def _write_turns(url: str, count: int, tag: str, conversation, turn, report=None) -> None:
    """In a forked process: one session of `count` turns, each committed on its own; `report` gets each number."""
    store = Store(url)
    session_id = store.start_session(trainee="ann", conversation=conversation, mode="practice", content_hash="")
    for n in range(1, count + 1):
        store.record_turn(session_id, dataclasses.replace(turn, number=n, reply=f"{tag} reply {n}"))
        if report is not None:
            report.send(n)
    store.close()


def _fork_writers(url: str, tire, count: int, tags: list[str], report=None) -> list:
    scenario, rubric = tire
    turn = Conversation(scenario, rubric, FakeScorer()).respond("Sorry about the drive #all=0.6")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_turns, args=(url, count, tag, Conversation(scenario, rubric), turn, report))
             for tag in tags]
    for p in procs:
        p.start()
    return procs


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def _read_line(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        pytest.fail(f"child said nothing in {timeout} s; stderr: {proc.stderr.read()}")
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        pytest.fail(f"child ended (rc {proc.returncode}): {proc.stderr.read()}")
    return line.strip()


# -- the tests -------------------------------------------------------------------------------------------------------


def test_kill_9_while_scoring_keeps_every_scored_turn_and_resume_continues(tmp_path, store_url, tire):
    replies = tmp_path / "replies.txt"
    replies.write_text("\n".join(WARM) + "\n")
    child = _spawn("blocked", store_url, str(replies), "2")
    assert _read_line(child) == "blocked"  # turns 1 and 2 scored and stored, turn 3 being scored
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL

    with Store(store_url) as store:
        interrupted = store.last_unfinished("ann", "tire-return")
        assert interrupted is not None and [t.number for t in interrupted.turns] == [1, 2]
        assert [t.reply for t in interrupted.turns] == WARM[:2]

        rest = tmp_path / "rest.txt"
        rest.write_text("\n".join(WARM[2:]) + "\n")
        out, err = io.StringIO(), io.StringIO()
        code = main(["--db", store_url, "play", "tire-return", "--replies", str(rest), "--trainee", "ann",
                     "--resume"], Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
        assert code == 0, err.getvalue()
        assert f"resuming session {interrupted.id} after turn 2" in err.getvalue()

        done = store.session(interrupted.id)
        scenario, rubric = tire
        unbroken = Conversation(scenario, rubric, FakeScorer(), seed=0, trainee="ann")
        for reply in WARM:
            if not unbroken.finished:
                unbroken.respond(reply)
        assert done.finished and [t.to_turn() for t in done.turns] == unbroken.turns
        assert done.ending == unbroken.result().ending
        assert len(store.sessions()) == 1  # continued, not a second session


def test_kill_9_during_a_burst_of_writes_loses_no_committed_turn(store_url, tire):
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    (child,) = _fork_writers(store_url, tire, 100000, ["burst"], report=send)
    reported = 0
    while reported < 30:
        assert receive.poll(30), "the writer reported nothing for 30 s"
        reported = receive.recv()
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    with Store(store_url) as store:
        (session,) = store.sessions(with_turns=True)
        numbers = [t.number for t in session.turns]
        assert numbers == list(range(1, len(numbers) + 1))  # whole turns only, none missing
        assert len(numbers) >= reported
        if store.backend == "sqlite":
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_concurrent_writers_lose_nothing(store_url, tire):
    writers, turns = 4, 20
    procs = _fork_writers(store_url, tire, turns, [f"w{k}" for k in range(writers)])
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Store(store_url) as store:
        sessions = store.sessions(with_turns=True)
        assert len(sessions) == writers
        assert {s.trainee for s in sessions} == {"ann"}
        for s in sessions:
            assert [t.number for t in s.turns] == list(range(1, turns + 1))
            assert len({t.reply.split()[0] for t in s.turns}) == 1
        assert sum(len(s.turns) for s in sessions) == writers * turns


if __name__ == "__main__":
    from helpers.content import FROZEN_SCENARIOS
    from simulator import settings

    settings.scenarios_dir = lambda: FROZEN_SCENARIOS  # the child plays what the test process plays
    mode, *rest = sys.argv[1:]
    sys.exit({"blocked": _child_blocked}[mode](*rest))
