"""A fork server for `frontline serve`: every visitor's app process forked from one that has already started.

Starting `frontline serve-app` from nothing costs a visitor's share of the server about 2 s of CPU before they see
a screen, most of it the same work every time: importing Textual, SQLAlchemy and the app, parsing the scenario
files. On a small server where a team arrives at once, that work competes with everyone's replies. The fork server
is one process that does it once (`preload`), freezes what it built out of the garbage collector's way
(`gc.freeze`), and then forks a ready child for each visitor: the child only builds its app. The children share
the server's pages until they write to them, so they also take less memory.

The protocol, over a Unix socket in a private folder: `serve` connects, sends one request (a 4-byte length and a
JSON object: `args`, the command line after `frontline`; `env`, the environment; `cwd`) with the three ends of
the child's stdin, stdout and stderr pipes attached (SCM_RIGHTS). The fork server answers with a line holding the
child's pid, and, once the child has exited, a line with its exit status, then closes the connection.

The fork server exits when `serve` does (its stdin, a pipe from `serve`, reaches its end). When it is not
running, `serve` starts each app process the ordinary way (see `simulator.serve.server`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import select
import signal
import socket
import sys
import traceback
from typing import Callable, Sequence

MAX_REQUEST = 1 << 20
"""Bytes a request may take (the environment is most of it)."""

PRELOAD = (
    "simulator.cli.main",
    "simulator.cli.serve",
    "textual.app",
    "textual.drivers.web_driver",
    "textual.widgets",
    "simulator.tui.launch",
    "simulator.tui.trainee.app",
    "simulator.tui.trainee.screens.picker",
    "simulator.tui.trainee.screens.play",
    "simulator.tui.trainee.screens.debrief",
    "simulator.tui.trainee.screens.help",
    "simulator.tui.widgets.confirm",
    "simulator.session",
    "simulator.store",
    "alembic.migration",
    "alembic.operations",
    "alembic.script",
    "simulator.scoring.service",
)
"""Modules every `python -m simulator serve-app` imports, imported once in the fork server (by name: the fork server
is the program's launcher, like `simulator.__main__`, and runs it the same way in each child)."""


# -- the fork server ---------------------------------------------------------------------------------------------


def preload(modules: Sequence[str] = PRELOAD) -> None:
    """Import what every app needs and parse the shipped scenarios; then freeze it all out of the collector's way.

    Nothing here may start a thread or open a connection: a fork copies only the forking thread."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the child imports it (and fails) as it would have
            print(f"frontline serve: the fork server could not import {name}: {exc}", file=sys.stderr, flush=True)
    try:  # the database driver the apps will use (create_engine imports it; nothing connects)
        from simulator import settings

        url = settings.current().db_url
        if url:
            import sqlalchemy

            sqlalchemy.create_engine(url).dispose()
    except Exception:
        pass
    try:  # the scenario files parsed (and their checks read from the disk cache) once, for every child
        from simulator.content.library import Library

        library = Library()
        for loaded in library.scenarios():
            if loaded.model is not None:
                try:
                    library.rubric(loaded.model.rubric)
                except Exception:
                    pass
    except Exception:
        pass
    gc.collect()
    gc.freeze()  # what is built now lives as long as the process: the collector need not look at it again


def run_frontline(args: list[str]) -> int:
    """What `python -m simulator ARGS` runs, run in this (forked) process."""
    import runpy

    sys.argv = ["frontline", *args]
    runpy.run_module("simulator", run_name="__main__", alter_sys=True)
    return 0


def serve_forever(path: str, run: Callable[[list[str]], int] = run_frontline) -> int:
    """Listen at `path` and fork a child running `run(args)` for each request, until stdin reaches its end."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    children: dict[int, socket.socket] = {}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in serve's terminal: serve stops, and then so do we
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
    stdin = sys.stdin.fileno()
    print("ready", flush=True)
    try:
        while True:
            try:
                readable, _, _ = select.select([listener, stdin, wake_r], [], [], 1.0)
            except InterruptedError:
                readable = []
            if wake_r in readable:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
            if stdin in readable and not os.read(stdin, 512):
                return 0  # serve is gone
            if listener in readable:
                _accept(listener, children, run, [wake_r, wake_w])
            _reap(children)
    finally:
        listener.close()
        for conn in children.values():
            conn.close()


def _accept(listener: socket.socket, children: dict[int, socket.socket], run: Callable[[list[str]], int],
            private: list[int]) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)
        data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        if len(data) < 4:
            raise ValueError("no request")
        size = int.from_bytes(data[:4], "big")
        body = data[4:]
        while len(body) < size:
            more = conn.recv(min(size - len(body), MAX_REQUEST))
            if not more:
                raise ValueError("the request was cut short")
            body += more
        request = json.loads(body)
        args = [str(a) for a in request["args"]]
        env = {str(k): str(v) for k, v in request["env"].items()}
        cwd = str(request.get("cwd") or os.getcwd())
        if len(fds) != 3:
            raise ValueError("a request needs the child's stdin, stdout and stderr")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(f"error {exc}\n".encode())
        except OSError:
            pass
        conn.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            listener.close()
            conn.close()
            for other in children.values():
                other.close()
            for fd in private:
                os.close(fd)
        finally:
            _child(fds, args, env, cwd, run)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(f"{pid}\n".encode())
        children[pid] = conn
    except OSError:
        conn.close()  # serve gave up on it; the child ends when its stdin does


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            try:
                conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass
            conn.close()


def _child(fds: list[int], args: list[str], env: dict[str, str], cwd: str, run: Callable[[list[str]], int]) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as in any Python process
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        random.seed()  # not the fork server's sequence, shared by every child
        # What the fork server built is frozen out of the collector's way; the app's own objects are mostly
        # widgets that live as long as their screen. Collecting less often (Python's default is every 700 net
        # allocations) saves about 0.1 s of CPU per app (measured: 0.13 s -> 0.04 s of collecting per session).
        gc.set_threshold(10000, 20, 20)
        code = int(run(args) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# -- serve's side ----------------------------------------------------------------------------------------------------


class ForkedProcess:
    """An app process forked by the fork server, with what textual-serve uses of an asyncio subprocess: the
    streams, `returncode`, `kill()` and `wait()`."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader, status: asyncio.StreamReader, connection: asyncio.StreamWriter):
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._connection = connection
        self._watch = asyncio.create_task(self._watch_status(status))

    async def _watch_status(self, status: asyncio.StreamReader) -> None:
        try:
            line = await status.readline()
        finally:
            self._connection.close()
        try:
            self.returncode = int(line.split()[1]) if line.startswith(b"exit ") else -1
        except (IndexError, ValueError):
            self.returncode = -1

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        await asyncio.shield(self._watch)
        assert self.returncode is not None
        return self.returncode

    def close(self) -> None:
        """Close serve's end of the child's stdin (the output pipes close when the child has exited)."""
        self.stdin.close()


class ForkServer:
    """serve's handle on the fork server process: started, asked for children, stopped."""

    def __init__(self, folder: str, environment: dict[str, str], command: list[str]):
        self.path = os.path.join(folder, "fork.sock")
        self.environment = environment
        self.command = command
        self.process: asyncio.subprocess.Process | None = None
        self.ready = False

    async def start(self, timeout: float = 60.0) -> bool:
        """Start the fork server and wait until it has preloaded; False (and serve forks nothing) if it could not."""
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, self.path, env=self.environment, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)
            assert self.process.stdout is not None
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except (OSError, asyncio.TimeoutError):
            await self.stop()
            return False
        self.ready = line.strip() == b"ready"
        if not self.ready:
            await self.stop()
        return self.ready

    @property
    def alive(self) -> bool:
        return self.ready and self.process is not None and self.process.returncode is None

    async def spawn(self, args: list[str], env: dict[str, str], cwd: str | None = None) -> ForkedProcess:
        """A child running `frontline ARGS` with `env`; raises OSError when the fork server cannot make one."""
        if not self.alive:
            raise OSError("the fork server is not running")
        loop = asyncio.get_running_loop()
        child_in, stdin_w = os.pipe()
        stdout_r, child_out = os.pipe()
        stderr_r, child_err = os.pipe()
        ours = [stdin_w, stdout_r, stderr_r]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, self.path)
            body = json.dumps({"args": args, "env": env, "cwd": cwd or os.getcwd()}).encode()
            request = len(body).to_bytes(4, "big") + body
            sock.setblocking(True)
            sock.settimeout(5)
            sent = socket.send_fds(sock, [request], [child_in, child_out, child_err])
            if sent < len(request):
                sock.sendall(request[sent:])
            sock.setblocking(False)
        except OSError:
            sock.close()
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in (child_in, child_out, child_err):
                os.close(fd)
        status, connection = await asyncio.open_unix_connection(sock=sock)
        try:
            line = await asyncio.wait_for(status.readline(), 10)
            pid = int(line)
        except (asyncio.TimeoutError, ValueError, OSError) as exc:
            connection.close()
            for fd in ours:
                os.close(fd)
            raise OSError(f"the fork server did not fork: {line!r}" if isinstance(exc, ValueError) else
                          "the fork server did not answer") from None
        stdout = asyncio.StreamReader(limit=2**16, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout, loop=loop),
                                     os.fdopen(stdout_r, "rb", buffering=0))
        stderr = asyncio.StreamReader(limit=2**16, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stderr, loop=loop),
                                     os.fdopen(stderr_r, "rb", buffering=0))
        transport, protocol = await loop.connect_write_pipe(lambda: asyncio.streams.FlowControlMixin(loop=loop),
                                                            os.fdopen(stdin_w, "wb", buffering=0))
        stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return ForkedProcess(pid, stdin, stdout, stderr, status, connection)

    async def stop(self) -> None:
        self.ready = False
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the fork server's signal to go
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


if __name__ == "__main__":  # python -m simulator.serve.forkserver PATH (started by `frontline serve`)
    preload()
    sys.exit(serve_forever(sys.argv[1]))
