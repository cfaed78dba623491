"""CPU cost of ONE served trainee app: start-up, typing a reply, and each reply's redraw (Enter to feedback).

    .venv/bin/python benchmarks/bench_app_cpu.py [--replies 5] [--runs 3] [--profile out.prof] [--size 120x40]

What `frontline serve` runs for each visitor is a Textual app talking textual-serve's packet protocol on its
stdin/stdout (the web driver). This runs one such app as a child process, the way textual-serve starts it (the
same environment: web driver, 60 fps, truecolor, 120x40 like bench_team's browsers), with the fake scorer (so the
scorer's own CPU is not counted) and a temporary SQLite database, and drives it like bench_team's trainees: pick
"The tyre we never sold", then for each reply type it (one chunk of keys) and press Enter. It reads the child's
CPU time (user + system, from /proc) after each step once the screen has gone quiet, so a figure is all the work
the app did for that step: handling the keys, updating the widgets, layout, rendering and writing the output.

`--profile FILE.prof` profiles the replies (cProfile, the app's main thread, from the first reply typed to the
last feedback); `--profile FILE.txt` records the whole run, every thread, with py-spy (collapsed stacks). Figures
are inflated while profiling; use it to see where the time goes. BENCH_SPY=FILE records each app (forked ones
too) with py-spy into FILE.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_team import REPLIES  # noqa: E402  (the same scripted tire-return replies the team benchmark sends)

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")

_CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
from helpers.fakes import FakeScorer
from simulator.services import Services
from simulator.tui.trainee.app import make_app
import cProfile, signal
profile = cProfile.Profile()
def _stop_profile(*_):
    profile.disable()
    profile.dump_stats(sys.argv[3])
if len(sys.argv) > 3:  # --profile FILE.prof: the replies only, from SIGUSR1 to SIGUSR2
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGUSR2, _stop_profile)
scorer = FakeScorer(default=0.6)
app = make_app(Services(scorer_factory=lambda: scorer, db_url=sys.argv[2]), trainee="bench", name_fixed=True,
               quiet=True)
app.run()
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Child:
    def __init__(self, db: str, size: tuple[int, int], profile: str | None, service: str | None = None,
                 fork: str | None = None):
        env = dict(os.environ, TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver", TEXTUAL_FPS="60",
                   TEXTUAL_COLOR_SYSTEM="truecolor", TERM_PROGRAM="textual", COLUMNS=str(size[0]),
                   ROWS=str(size[1]))
        cmd = [sys.executable]
        if profile and profile.endswith(".txt"):  # py-spy's collapsed stacks, every thread, CPU time only
            cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "250", "-f", "raw", "-o", profile, "--", sys.executable]
        self.started = time.perf_counter()
        if service:  # the real command `frontline serve` runs, scoring through a scoring service
            env.update(FRONTLINE_SCORER=service, FRONTLINE_DB=db)
            argv = [*cmd, "-m", "simulator", "serve-app", "--trainee", "bench"]
        else:
            argv = [*cmd, self._script(), str(ROOT), db, *([profile] if profile and profile.endswith(".prof") else [])]
        if fork:  # forked by the fork server listening at `fork`, as `frontline serve` does
            self.proc = _Forked(fork, argv[argv.index("serve-app"):], env)
        else:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, env=env)
        if os.environ.get("BENCH_SPY"):  # record the child (forked or not) with py-spy, to this file
            self.spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r", "250", "-f",
                                         "raw", "-o", os.environ["BENCH_SPY"], "--pid", str(self.proc.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.2)
        self.buffer = b""
        self.text = b""
        self.bytes_out = 0
        line = b""
        while not line.endswith(b"__GANGLION__\n"):
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise SystemExit("the app did not start")
            line += chunk

    @staticmethod
    def _script() -> str:
        path = Path(tempfile.gettempdir()) / "bench_app_cpu_child.py"
        path.write_text(_CHILD)
        return str(path)

    def send(self, data: bytes, kind: bytes = b"D") -> None:
        self.proc.stdin.write(kind + len(data).to_bytes(4, "big") + data)
        self.proc.stdin.flush()

    def _pump(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            raise SystemExit("the app exited")
        self.buffer += chunk
        self.bytes_out += len(chunk)
        while len(self.buffer) >= 5:
            size = int.from_bytes(self.buffer[1:5], "big")
            if len(self.buffer) < 5 + size:
                break
            kind, payload, self.buffer = self.buffer[:1], self.buffer[5:5 + size], self.buffer[5 + size:]
            if kind == b"D":
                self.text += ANSI.sub(b"", payload)
        return True

    def wait_for(self, *markers: bytes, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while not any(m in self.text for m in markers):
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {markers}: {self.text[-400:]!r}")
            self._pump(0.05)
        return time.perf_counter()

    def quiet(self, for_seconds: float = 0.4) -> None:
        """Until the app has written nothing for a while (its redraws are done)."""
        while self._pump(for_seconds):
            pass

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.send(b'{"type": "quit"}', b"M")
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class _Forked:
    """A child of the fork server (simulator.serve.forkserver), with what Child uses of a Popen."""

    def __init__(self, path: str, args: list[str], env: dict[str, str]):
        import json
        import socket

        child_in, stdin_w = os.pipe()
        stdout_r, child_out = os.pipe()
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        body = json.dumps({"args": args, "env": env, "cwd": os.getcwd()}).encode()
        request = len(body).to_bytes(4, "big") + body
        sent = socket.send_fds(self.sock, [request], [child_in, child_out, os.open(os.devnull, os.O_WRONLY)])
        self.sock.sendall(request[sent:])
        os.close(child_in)
        os.close(child_out)
        self.status = self.sock.makefile("rb")
        self.pid = int(self.status.readline())
        self.stdin = os.fdopen(stdin_w, "wb")
        self.stdout = os.fdopen(stdout_r, "rb", buffering=0)

    def wait(self, timeout: float) -> int:
        self.sock.settimeout(timeout)
        try:
            line = self.status.readline()
        except OSError:
            raise subprocess.TimeoutExpired("fork", timeout) from None
        return int(line.split()[1])

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


def one_run(replies: int, size: tuple[int, int], profile: str | None, service: str | None, db: str | None,
            fork: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        child = Child(db or f"sqlite:///{tmp}/bench.db", size, profile, service, fork)
        try:
            child.wait_for(b"scenarios")
            child.quiet()
            picker_cpu = child.cpu()
            child.send(b"tyre we never sold")
            child.wait_for(b"1 of ")
            child.quiet()
            child.text = b""
            child.send(b"\r")
            child.wait_for(b"Reply to")
            child.quiet(1.0)
            startup_cpu = child.cpu()
            typing, replying, latency, out = [], [], [], []
            if profile and profile.endswith(".prof"):
                os.kill(child.proc.pid, signal.SIGUSR1)
            for number, reply in enumerate(REPLIES[:replies], 1):
                before = child.cpu()
                child.send(reply.encode())
                child.quiet()
                typed = child.cpu()
                child.text = b""
                sent_bytes = child.bytes_out
                sent = time.perf_counter()
                child.send(b"\r")
                shown = child.wait_for(b"overall ")
                child.quiet()
                after = child.cpu()
                typing.append(typed - before)
                replying.append(after - typed)
                latency.append(shown - sent)
                out.append(child.bytes_out - sent_bytes)
                if b"(ended)" in child.text:
                    break
            if profile and profile.endswith(".prof"):
                os.kill(child.proc.pid, signal.SIGUSR2)
                time.sleep(1.0)
        finally:
            child.stop()
    return {"picker_cpu": picker_cpu, "startup_cpu": startup_cpu, "typing": typing, "reply": replying,
            "latency": latency, "bytes": out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--profile", help="write a cProfile of the (last) child to this file")
    parser.add_argument("--service", action="store_true",
                        help="run `python -m simulator serve-app` itself, scoring through a real scoring service "
                             "(started here; the model's CPU is in the service, not counted)")
    parser.add_argument("--fake-scorer", action="store_true",
                        help="with --service: a scoring service in this process, with the tests' fake scorer")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--fork", action="store_true",
                        help="with --service: fork the app from a fork server (simulator.serve.forkserver), as "
                             "`frontline serve` does, instead of starting it from nothing")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    service = None
    address = None
    folders: list[str] = []
    if args.service and args.fake_scorer:  # the scoring service's protocol, with the fake scorer behind it
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers.fakes import FakeScorer
        from simulator.scoring.service import Address, ScoringService

        folders.append(tempfile.mkdtemp(prefix="bench-app-cpu-"))
        fake = ScoringService(FakeScorer(default=0.6), Address(path=f"{folders[-1]}/s.sock"))
        fake.start_in_thread()
        address = str(fake.address)
    elif args.service:
        from simulator.scoring.service import parse_address, wait_until_answering

        folder = tempfile.mkdtemp(prefix="bench-app-cpu-")
        folders.append(folder)
        address = f"unix:{folder}/s.sock"
        env = dict(os.environ, FRONTLINE_DATA_DIR=folder)
        env.pop("FRONTLINE_SCORER", None)
        service = subprocess.Popen([sys.executable, "-m", "simulator", "scorer-service", "--listen", address],
                                   env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until_answering(parse_address(address), 300, alive=lambda: service.poll() is None):
            raise SystemExit("the scoring service did not start")
    # One data folder for every run, its scenario checks already cached: a server that has been running a while.
    data = tempfile.mkdtemp(prefix="bench-app-cpu-data-")
    folders.append(data)
    os.environ["FRONTLINE_DATA_DIR"] = data
    from simulator.content.library import Library

    Library().scenarios()
    if not args.db:  # one database for every run, already created: as `frontline serve` leaves it for its apps
        from simulator.store import Store

        args.db = f"sqlite:///{data}/bench.db"
        Store(args.db).close()
    forks = fork_path = None
    if args.fork:
        from simulator.serve.server import app_environment

        fork_path = f"{data}/fork.sock"
        env = app_environment({"FRONTLINE_SCORER": address or "", "FRONTLINE_DATA_DIR": data,
                               **({"FRONTLINE_DB": args.db} if args.db else {})}, width=size[0], height=size[1])
        forks = subprocess.Popen([sys.executable, "-m", "simulator.serve.forkserver", fork_path], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if forks.stdout.readline().strip() != b"ready":
            raise SystemExit("the fork server did not start")
    try:
        results = [one_run(args.replies, size, args.profile, address, args.db, fork_path) for _ in range(args.runs)]
    finally:
        if forks is not None:
            forks.stdin.close()
            forks.wait(10)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        if service is not None:
            service.terminate()
            service.wait(20)
    med = statistics.median
    for r in results:
        print(f"to picker {r['picker_cpu']:.2f} s CPU, to play screen {r['startup_cpu']:.2f} s; per reply: typing "
              + " ".join(f"{x:.3f}" for x in r["typing"]) + " | Enter→feedback "
              + " ".join(f"{x:.3f}" for x in r["reply"]) + " | latency "
              + " ".join(f"{x:.3f}" for x in r["latency"]) + " | KB out "
              + " ".join(f"{x / 1024:.0f}" for x in r["bytes"]))
    all_typing = [x for r in results for x in r["typing"]]
    all_reply = [x for r in results for x in r["reply"]]
    print(f"median over {args.runs} runs: start-up {med(r['startup_cpu'] for r in results):.2f} s CPU; per reply "
          f"typing {med(all_typing):.3f} s + Enter→feedback {med(all_reply):.3f} s CPU = "
          f"{med(all_typing) + med(all_reply):.3f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
