"""A team practising at once: `frontline serve` with many trainees, one scoring service, one PostgreSQL.

    python benchmarks/bench_team.py [--trainees 10,25,50] [--replies 4] [--proxy-trainees 25] [--quick]

Everything runs on this machine, on loopback only, and stops by itself. It starts (or uses) a PostgreSQL server
(FRONTLINE_TEST_PG_URL, else .ci/start-postgres.sh), one `frontline scorer-service` with the real model, and:

  1. one `frontline serve`; for each team size N, N simulated trainees connect at once (spread over a few
     seconds) through the same websocket a browser uses, sign in, pick "The tyre we never sold" and send a reply
     every 2–5 s (REPLIES each). A trainee types the reply and presses Enter; reply-to-feedback is the time from
     Enter until the scored feedback ("overall 0.xx") arrives on their screen.
  2. two `frontline serve` processes behind a small sticky reverse proxy (written here: a cookie pins each
     browser to one backend, websockets included), sharing the PostgreSQL database and the scoring service.

For each run it prints reply-to-feedback p50/p95/max, the peak memory of everything Frontline runs (serve, every
trainee's app process, the scoring service: RSS summed, and PSS, which counts shared pages once), and the turns
the trainees saw scored against the turns stored in the database. Targets: 50 trainees under 6 GB, p95 under
1.5 s, no turn lost.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPLIES = [
    "I'm so sorry you've had to drive all this way with it, that's a real nuisance.",
    "We've never actually stocked tyres here, but I think I know where it came from and I'll help you sort it.",
    "I'll ring Parkway at the car centre right now and tell them you're on your way, so you won't have to explain.",
    "Not at all, it's an easy mix-up. Dev at Parkway is expecting you and he'll look after you.",
    "Is there anything else I can help you with today while you're here?",
]
TIMEOUT = 60.0
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -- one simulated trainee -------------------------------------------------------------------------------------


@dataclass
class Trainee:
    name: str
    base: str
    replies: int
    rng: random.Random
    latencies: list[float] = field(default_factory=list)
    reported: int = 0
    problem: str = ""
    backend: str = ""

    async def run(self, session) -> None:
        import aiohttp

        try:
            async with session.post(self.base + "/", data={"trainee": self.name}, allow_redirects=False) as r:
                if r.status != 303:
                    raise RuntimeError(f"sign-in answered {r.status}")
            async with session.get(self.base + "/") as r:
                await r.read()
                self.backend = r.headers.get("X-Backend", "")
            ws_url = self.base.replace("http://", "ws://") + "/ws?width=120&height=40"
            async with session.ws_connect(ws_url, max_msg_size=0, heartbeat=30) as ws:
                screen = _Screen(ws)
                await screen.wait_for(b"pick a scenario", b"scenarios")
                await ws.send_json(["stdin", "tyre we never sold"])
                await screen.wait_for(b"1 of ")
                screen.clear()
                await ws.send_json(["stdin", "\r"])
                await screen.wait_for(b"Reply to")
                for number, reply in enumerate(REPLIES[: self.replies], 1):
                    await asyncio.sleep(self.rng.uniform(2.0, 5.0))  # reading the customer, typing
                    await ws.send_json(["stdin", reply])
                    await asyncio.sleep(0.05)
                    screen.clear()
                    sent = time.perf_counter()
                    await ws.send_json(["stdin", "\r"])
                    # the feedback, and the side panel's turn counter moved on (or the conversation ended)
                    await screen.wait_for(b"overall ", alternatives=(b"Turn %d of" % (number + 1), b"(ended)"))
                    self.latencies.append(time.perf_counter() - sent)
                    self.reported += 1
                    if b"(ended)" in screen.text:
                        break
                await asyncio.sleep(0.5)
        except (asyncio.TimeoutError, TimeoutError):
            self.problem = "timed out waiting for the screen"
        except (aiohttp.ClientError, RuntimeError, ConnectionError) as exc:
            self.problem = f"{type(exc).__name__}: {exc}"


class _Screen:
    """What the app has drawn since the last clear(), as plain text (ANSI codes removed)."""

    def __init__(self, ws):
        self.ws = ws
        self.text = b""

    def clear(self) -> None:
        self.text = b""

    def _shows(self, markers: tuple[bytes, ...], alternatives: tuple[bytes, ...]) -> bool:
        return all(m in self.text for m in markers) and (not alternatives or any(a in self.text for a in alternatives))

    async def wait_for(self, *markers: bytes, alternatives: tuple[bytes, ...] = ()) -> None:
        import aiohttp

        deadline = time.monotonic() + TIMEOUT
        while not self._shows(markers, alternatives):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            message = await self.ws.receive(timeout=left)
            if message.type == aiohttp.WSMsgType.BINARY:
                self.text += ANSI.sub(b"", message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise RuntimeError("the server closed the connection")


# -- memory --------------------------------------------------------------------------------------------------------


class MemoryWatch:
    """Peak memory of a set of process trees, sampled every half second."""

    def __init__(self, roots: list[int]):
        self.roots = roots
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self._task: asyncio.Task | None = None
        self._cpu: dict[tuple[int, float], tuple[str, float, float]] = {}
        """(pid, start time) -> (what it is, CPU seconds when first seen, CPU seconds when last seen)."""
        self._started = time.time()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each kind of process used during the run, as sampled (a process's last half
        second before it exits is missed)."""
        totals: dict[str, float] = {}
        for kind, first, last in self._cpu.values():
            totals[kind] = totals.get(kind, 0.0) + last - first
        return totals

    @staticmethod
    def _kind(proc, root_pids: set[int]) -> str:
        try:
            argv = proc.cmdline()
            if "scorer-service" in argv:
                return "scorer service"
            if "serve" in argv:
                return "serve"
            if "simulator.serve.forkserver" in argv and proc.ppid() in root_pids:
                return "fork server"
        except Exception:
            return "other"
        return "apps"  # serve-app processes (and the forked ones, which keep the fork server's command line)

    def sample(self) -> None:
        import psutil

        rss = pss = count = 0
        for root in self.roots:
            try:
                parent = psutil.Process(root)
                procs = [parent, *parent.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
                count += 1
                used = times.user + times.system
                if key in self._cpu:
                    kind, first, _ = self._cpu[key]
                    self._cpu[key] = (kind, first, used)
                else:  # a process started during the run counts from 0; one already running, from now
                    first = used if key[1] < self._started else 0.0
                    self._cpu[key] = (self._kind(proc, set(self.roots)), first, used)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, count)

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


# -- a sticky reverse proxy ------------------------------------------------------------------------------------------


async def start_proxy(backends: list[str], port: int):
    """A reverse proxy that pins each browser to one backend by a cookie (websockets go where the page came from),
    as nginx's `hash $cookie_...` or haproxy's `cookie SERVERID insert` would."""
    import aiohttp
    from aiohttp import web

    turn = itertools.cycle(range(len(backends)))
    client = aiohttp.ClientSession(auto_decompress=False)

    def pick(request) -> tuple[int, bool]:
        chosen = request.cookies.get("frontline_backend", "")
        if chosen.isdigit() and int(chosen) < len(backends):
            return int(chosen), False
        return next(turn), True

    hop = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}

    async def forward(request):
        index, new = pick(request)
        backend = backends[index]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await forward_ws(request, backend)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        headers["X-Forwarded-For"] = request.remote or ""
        async with client.request(request.method, backend + request.rel_url.path_qs, headers=headers,
                                  data=await request.read(), allow_redirects=False) as upstream:
            body = await upstream.read()
            response = web.Response(status=upstream.status, body=body, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in hop | {"content-encoding"}})
        response.headers["X-Backend"] = str(index)
        if new:
            response.set_cookie("frontline_backend", str(index), httponly=True, samesite="Strict")
        return response

    async def forward_ws(request, backend):
        browser = web.WebSocketResponse(max_msg_size=0)
        await browser.prepare(request)
        headers = {"Cookie": request.headers.get("Cookie", "")}
        async with client.ws_connect(backend.replace("http://", "ws://") + request.rel_url.path_qs,
                                     headers=headers, max_msg_size=0) as app:
            async def down():
                async for message in app:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        await browser.send_bytes(message.data)
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        await browser.send_str(message.data)
                await browser.close()

            pump = asyncio.create_task(down())
            async for message in browser:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await app.send_str(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await app.send_bytes(message.data)
            await app.close()
            pump.cancel()
        return browser

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    async def stop():
        await runner.cleanup()
        await client.close()

    return stop


# -- processes ---------------------------------------------------------------------------------------------------------


def _wait_port(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench_team: a process exited early ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench_team: nothing listens on port {port} after {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _postgres() -> tuple[str, str | None]:
    url = os.environ.get("FRONTLINE_TEST_PG_URL")
    if url:
        return url, None
    base = tempfile.mkdtemp(prefix="bench-team-pg-")
    try:
        url = subprocess.run(["bash", str(ROOT / ".ci" / "start-postgres.sh")], check=True, capture_output=True,
                             text=True, timeout=300, env=dict(os.environ, PG_BASE=base)).stdout.strip()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise SystemExit(f"bench_team: could not start PostgreSQL: {exc}") from None
    return url, base


def _schema_url(base: str) -> tuple[str, str]:
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    return sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False), schema


def _stored_turns(url: str, prefix: str) -> int:
    from simulator.store import Store

    with Store(url) as store:
        return sum(len(s.turns) for s in store.sessions(with_turns=True) if s.trainee.startswith(prefix))


# -- one run ------------------------------------------------------------------------------------------------------------


async def run_team(label: str, bases: list[str], count: int, replies: int, roots: list[int], db_url: str,
                   spread: float) -> dict:
    import aiohttp

    prefix = f"{label}-{uuid.uuid4().hex[:6]}-"
    rng = random.Random(7)
    trainees = [Trainee(f"{prefix}{i:02d}", bases[i % len(bases)], replies, random.Random(rng.random()))
                for i in range(count)]
    memory = MemoryWatch(roots)
    memory.start()
    started = time.perf_counter()
    browsers_cpu = time.process_time()

    async def one(trainee: Trainee, delay: float) -> None:
        await asyncio.sleep(delay)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await trainee.run(session)

    await asyncio.gather(*(one(t, spread * i / max(count, 1)) for i, t in enumerate(trainees)))
    await memory.stop()
    memory.sample()
    took = time.perf_counter() - started
    await asyncio.sleep(1.0)
    latencies = [x for t in trainees for x in t.latencies]
    reported = sum(t.reported for t in trainees)
    stored = _stored_turns(db_url, prefix)
    problems = [f"{t.name}: {t.problem}" for t in trainees if t.problem]
    backends = sorted({t.backend for t in trainees if t.backend})
    return {
        "label": label, "trainees": count, "seconds": took, "replies": len(latencies),
        "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
        "max": max(latencies) if latencies else float("nan"),
        "rss_gb": memory.peak_rss / 2**30, "pss_gb": memory.peak_pss / 2**30, "processes": memory.peak_processes,
        "reported": reported, "stored": stored, "problems": problems,
        "cpu": {**memory.cpu_seconds(), "simulated browsers (this script)": time.process_time() - browsers_cpu},
        "per_backend": {b: sum(1 for t in trainees if t.backend == b) for b in backends},
        "load": os.getloadavg()[0],
    }


def report(result: dict) -> None:
    lost = result["reported"] - result["stored"]
    print(f"{result['label']:>10} {result['trainees']:>3} trainees: reply-to-feedback p50 {result['p50']:.2f} s, "
          f"p95 {result['p95']:.2f} s, max {result['max']:.2f} s over {result['replies']} replies; "
          f"peak memory {result['rss_gb']:.2f} GB RSS / {result['pss_gb']:.2f} GB PSS in "
          f"{result['processes']} processes; turns reported {result['reported']}, stored {result['stored']}"
          f"{' (LOST ' + str(lost) + ')' if lost > 0 else ''}; {result['seconds']:.0f} s; load average "
          f"{result['load']:.1f}", flush=True)
    cpu = result.get("cpu") or {}
    if cpu:
        print(f"{'':>10} CPU used: {sum(cpu.values()):.0f} s in all ("
              + ", ".join(f"{kind} {seconds:.0f} s" for kind, seconds in sorted(cpu.items(), key=lambda x: -x[1]))
              + f"); {result['trainees'] and sum(cpu.values()) / result['trainees']:.2f} s per trainee; the machine "
              f"had {os.cpu_count() * result['seconds']:.0f} CPU-seconds", flush=True)
    if result["per_backend"] and len(result["per_backend"]) > 1:
        print(f"{'':>10} trainees per backend: {result['per_backend']}")
    for problem in result["problems"][:5]:
        print(f"{'':>10} problem: {problem}")
    if len(result["problems"]) > 5:
        print(f"{'':>10} … and {len(result['problems']) - 5} more problems")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trainees", default="10,25,50", help="team sizes to run, comma-separated")
    parser.add_argument("--replies", type=int, default=4, help="replies per trainee (default 4)")
    parser.add_argument("--proxy-trainees", type=int, default=25,
                        help="trainees for the two-servers-behind-a-proxy run (0 skips it)")
    parser.add_argument("--spread", type=float, default=0.4, help="seconds between trainees arriving")
    parser.add_argument("--quick", action="store_true", help="3 and 5 trainees, 2 replies, 4 behind the proxy")
    args = parser.parse_args()
    sizes = [int(n) for n in args.trainees.split(",") if n.strip()]
    if args.quick:
        sizes, args.replies, args.proxy_trainees = [3, 5], 2, 4

    import psutil  # noqa: F401  (fail early: pip install -e '.[dev]')

    base_url, started_pg = _postgres()
    db_url, schema = _schema_url(base_url)
    folder = Path(tempfile.mkdtemp(prefix="bench-team-"))
    env = dict(os.environ, FRONTLINE_DATA_DIR=str(folder / "data"), FRONTLINE_DB=db_url)
    env.pop("FRONTLINE_SCORER", None)
    socket_path = f"unix:{folder / 's.sock'}"
    processes: list[subprocess.Popen] = []
    print(f"bench_team: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before starting (other work on "
          f"the machine slows every figure); {psutil.virtual_memory().total / 2**30:.0f} GB memory; PostgreSQL "
          f"schema {schema}", flush=True)
    try:
        service = subprocess.Popen([sys.executable, "-m", "simulator", "scorer-service", "--listen", socket_path],
                                   env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(service)
        from simulator.scoring.service import parse_address, wait_until_answering

        if not wait_until_answering(parse_address(socket_path), 180, alive=lambda: service.poll() is None):
            raise SystemExit("bench_team: the scoring service did not start")

        def serve(port: int) -> subprocess.Popen:
            process = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", str(port), "--scorer-service",
                                        socket_path], env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(process)
            _wait_port(port, process)
            return process

        port = _free_port()
        one = serve(port)
        results = []
        for count in sizes:
            result = asyncio.run(run_team("one-serve", [f"http://127.0.0.1:{port}"], count, args.replies,
                                          [one.pid, service.pid], db_url, args.spread))
            report(result)
            results.append(result)
            time.sleep(3)  # the app processes of the run quit
        _stop(one)

        if args.proxy_trainees:
            ports = [_free_port(), _free_port()]
            servers = [serve(p) for p in ports]
            proxy_port = _free_port()

            async def behind_proxy():
                stop = await start_proxy([f"http://127.0.0.1:{p}" for p in ports], proxy_port)
                try:
                    return await run_team("two-serve", [f"http://127.0.0.1:{proxy_port}"], args.proxy_trainees,
                                          args.replies, [s.pid for s in servers] + [service.pid], db_url, args.spread)
                finally:
                    await stop()

            result = asyncio.run(behind_proxy())
            report(result)
            results.append(result)
        worst = max(results, key=lambda r: r["trainees"])
        ok = (worst["pss_gb"] < 6 and worst["p95"] < 1.5 and all(r["stored"] >= r["reported"] for r in results)
              and not any(r["problems"] for r in results))
        print(f"targets (largest team: {worst['trainees']}): memory < 6 GB, p95 < 1.5 s, nothing lost — "
              f"{'met' if ok else 'NOT met'}")
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            import sqlalchemy as sa

            engine = sa.create_engine(base_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            engine.dispose()
        except Exception:
            pass
        if started_pg:  # the server this run started
            subprocess.run(["sh", str(Path(started_pg) / "stop.sh")], capture_output=True)
            shutil.rmtree(started_pg, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
