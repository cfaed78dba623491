"""One scoring model for many sessions: a local scoring service and the client that implements `Scorer`.

`frontline scorer-service` loads the model once and answers on a Unix socket (default) or a loopback TCP port;
every session process on the machine (each browser visitor of `frontline serve`, or a terminal `frontline` with
FRONTLINE_SCORER set) scores through a `ScoringClient`. The model's customer-line cache lives in the service, so
a line one trainee's session embedded is not embedded again for the next trainee.

The wire format is one JSON object per line, each way:

    {"op": "hello"}                                   -> {"ok": true, "version": "...", "pid": 123}
    {"op": "score", "requests": [REQUEST, ...]}       -> {"ok": true, "scores": [SCORE, ...]}
    {"op": "prepare", "contexts": ["line", ...]}      -> {"ok": true}
    anything that fails                               -> {"ok": false, "error": "what went wrong"}

Requests that arrive together (many trainees replying at once) are scored in one batch on one thread: the model
runs one forward pass at a time anyway, and a batch uses the cores better than many small passes.

The service has no authentication: it listens on a Unix socket (file permissions 0600) or on loopback only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from simulator.content.rubric import Rubric
from simulator.content.scenario import Goal
from simulator.errors import ScorerError, UsageError
from simulator.scoring.base import CriterionScore, ReplyScore, ScoreRequest

MAX_LINE = 8 * 1024 * 1024
"""The longest message either side accepts (a batch of long replies with their rubric fits many times over)."""
MAX_BATCH = 64
"""At most this many requests go to the model in one pass."""
UNIX_PATH_MAX = 100
"""Unix socket paths longer than about this (108 bytes on Linux, 104 on macOS) cannot be bound."""


# -- addresses ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where the service listens: a Unix socket path, or a loopback host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"{self.host}:{self.port}"


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parse_address(text: str) -> Address:
    """`unix:/path/to/socket`, a path (containing a /), or `127.0.0.1:PORT` (loopback only). Raises UsageError."""
    text = (text or "").strip()
    if not text:
        raise UsageError("the scoring service address is empty; give unix:/path/to/socket or 127.0.0.1:PORT")
    if text.startswith("unix:") or "/" in text:
        path = text.removeprefix("unix:")
        if not path:
            raise UsageError(f"{text!r}: give the socket's path after unix:")
        if len(os.fsencode(path)) > UNIX_PATH_MAX:
            raise UsageError(f"the socket path {path} is too long for a Unix socket ({len(path)} characters; "
                             f"at most {UNIX_PATH_MAX}); choose a shorter one")
        return Address(path=path)
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{text!r} is not a scoring service address; give unix:/path/to/socket or "
                         "127.0.0.1:PORT")
    if host not in LOOPBACK:
        raise UsageError(f"the scoring service has no authentication, so it only listens on this machine "
                         f"(127.0.0.1), not on {host}")
    return Address(host=host, port=int(port))


# -- turning requests and scores into JSON and back ----------------------------------------------------------------


def request_to_dict(request: ScoreRequest, rubric_json: str) -> dict[str, Any]:
    return {
        "reply": request.reply,
        "context": request.context,
        "rubric": rubric_json,
        "goals": [g.model_dump(mode="json") for g in request.goals],
        "model_replies": list(request.model_replies),
    }


def score_to_dict(score: ReplyScore) -> dict[str, Any]:
    return {
        "criteria": {cid: {"score": c.score, "level": c.level, "evidence": list(c.evidence), "feedback": c.feedback}
                     for cid, c in score.criteria.items()},
        "overall": score.overall,
        "red_flags": list(score.red_flags),
        "goals_met": list(score.goals_met),
        "nearest_model_reply": score.nearest_model_reply,
        "model_version": score.model_version,
    }


def score_from_dict(doc: dict[str, Any]) -> ReplyScore:
    return ReplyScore(
        criteria={cid: CriterionScore(criterion=cid, score=float(c["score"]), level=int(c["level"]),
                                      evidence=tuple(c["evidence"]), feedback=str(c["feedback"]))
                  for cid, c in doc["criteria"].items()},
        overall=float(doc["overall"]),
        red_flags=tuple(doc["red_flags"]),
        goals_met=tuple(doc["goals_met"]),
        nearest_model_reply=doc.get("nearest_model_reply"),
        model_version=str(doc.get("model_version", "")),
    )


class _Rubrics:
    """Rubrics by the hash of their JSON: each is parsed once, and the same object is handed to the scorer every
    time (the model groups a batch and caches its exemplars by rubric)."""

    def __init__(self, limit: int = 256):
        self._by_hash: dict[str, Rubric] = {}
        self._limit = limit

    def get(self, text: str) -> Rubric:
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        rubric = self._by_hash.get(key)
        if rubric is None:
            if len(self._by_hash) >= self._limit:
                self._by_hash.pop(next(iter(self._by_hash)))
            rubric = self._by_hash[key] = Rubric.model_validate_json(text)
        return rubric


def _request_from_dict(doc: dict[str, Any], rubrics: _Rubrics) -> ScoreRequest:
    return ScoreRequest(
        reply=str(doc["reply"]),
        context=str(doc["context"]),
        rubric=rubrics.get(doc["rubric"]),
        goals=tuple(Goal.model_validate(g) for g in doc.get("goals", ())),
        model_replies=tuple(str(m) for m in doc.get("model_replies", ())),
    )


# -- the service ------------------------------------------------------------------------------------------------------


class ScoringService:
    """Serves one scorer to many clients. `serve_forever()` runs it; `start_in_thread()` is for tests."""

    def __init__(self, scorer: Any, address: Address, *, log: Callable[[str], None] | None = None):
        self.scorer = scorer
        self.address = address
        self.log = log or (lambda message: None)
        self._rubrics = _Rubrics()
        self._queue: asyncio.Queue | None = None
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorer")
        self.ready = threading.Event()
        self.requests_received = 0
        self.requests_scored = 0
        self.batches = 0

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stopped = asyncio.Event()
        if self.address.path is not None:
            path = Path(self.address.path)
            if path.exists() or path.is_symlink():
                if _answers(self.address):
                    raise UsageError(f"a scoring service is already running at {self.address}; use it "
                                     "(frontline serve --scorer-service " + str(self.address) + ") or stop it first")
                path.unlink()  # left behind by a service that died
            path.parent.mkdir(parents=True, exist_ok=True)
            old_umask = os.umask(0o177)  # the socket is the owner's only
            try:
                self._server = await asyncio.start_unix_server(self._client, path=str(path), limit=MAX_LINE)
            finally:
                os.umask(old_umask)
        else:
            try:
                self._server = await asyncio.start_server(self._client, host=self.address.host,
                                                          port=self.address.port, limit=MAX_LINE)
            except OSError as exc:
                raise UsageError(f"cannot listen on {self.address}: {exc.strerror or exc}") from None
            if self.address.port == 0:  # a free port was asked for: say which
                port = self._server.sockets[0].getsockname()[1]
                self.address = Address(host=self.address.host, port=port)
        asyncio.create_task(self._batches())
        self.ready.set()

    async def run(self) -> None:
        await self._start()
        self.log(f"scoring service: listening on {self.address} (scorer {self.scorer.version})")
        assert self._stopped is not None
        try:
            await self._stopped.wait()
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
        if self.address.path is not None:
            try:
                os.unlink(self.address.path)
            except OSError:
                pass
        self._model.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        """Stop serving (from any thread)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)

    def serve_forever(self) -> None:
        asyncio.run(self.run())

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread; returns once the service answers (raises what starting raised)."""
        failure: list[BaseException] = []

        def main() -> None:
            try:
                asyncio.run(self.run())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                failure.append(exc)
                self.ready.set()

        thread = threading.Thread(target=main, name="scoring-service", daemon=True)
        thread.start()
        self.ready.wait(30)
        if failure:
            raise failure[0]
        return thread

    # -- one client connection

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except asyncio.CancelledError:
                    break
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(_encode({"ok": False, "error": f"message longer than {MAX_LINE} bytes"}))
                    break
                except ConnectionError:
                    break
                if not line:
                    break
                writer.write(_encode(await self._answer(line)))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the service is stopping
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(line)
            op = doc.get("op") if isinstance(doc, dict) else None
        except ValueError:
            return {"ok": False, "error": "not a JSON message"}
        try:
            if op == "hello":
                return {"ok": True, "version": self.scorer.version, "pid": os.getpid()}
            if op == "score":
                requests = [_request_from_dict(r, self._rubrics) for r in doc["requests"]]
                future = asyncio.get_running_loop().create_future()
                assert self._queue is not None
                self.requests_received += len(requests)
                await self._queue.put((requests, future))
                scores = await future
                return {"ok": True, "scores": [score_to_dict(s) for s in scores]}
            if op == "prepare":
                prepare = getattr(self.scorer, "prepare", None)
                contexts = [str(c) for c in doc.get("contexts", ())]
                if callable(prepare) and contexts:
                    await asyncio.get_running_loop().run_in_executor(self._model, prepare, *contexts)
                return {"ok": True}
            return {"ok": False, "error": f"unknown operation {op!r}"}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"a malformed request: {exc}"}
        except Exception as exc:  # the scorer failed: tell the client, keep serving the others
            return {"ok": False, "error": str(exc) or type(exc).__name__}

    async def _batches(self) -> None:
        """Score whatever has queued up, in one pass per batch, on the model's one thread."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            items = [await self._queue.get()]
            count = len(items[0][0])
            while not self._queue.empty() and count < MAX_BATCH:
                item = self._queue.get_nowait()
                items.append(item)
                count += len(item[0])
            flat = [r for requests, _ in items for r in requests]
            try:
                scores = await loop.run_in_executor(self._model, self.scorer.score_many, flat)
            except Exception:
                scores = None
            if scores is not None:
                at = 0
                for requests, future in items:
                    if not future.done():
                        future.set_result(scores[at: at + len(requests)])
                    at += len(requests)
            else:  # one bad request must not fail the others: score each caller's requests on their own
                for requests, future in items:
                    try:
                        own = await loop.run_in_executor(self._model, self.scorer.score_many, requests)
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    if not future.done():
                        future.set_result(own)
            self.batches += 1
            self.requests_scored += len(flat)


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8") + b"\n"


def _connect(address: Address, timeout: float) -> socket.socket:
    if address.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((address.host, address.port), timeout=timeout)


def _answers(address: Address) -> bool:
    try:
        with _connect(address, 2.0) as sock:
            sock.sendall(_encode({"op": "hello"}))
            return bool(sock.makefile("rb").readline())
    except OSError:
        return False


# -- the client ------------------------------------------------------------------------------------------------------


class ScoringClient:
    """A Scorer that scores through a running scoring service. Thread-safe; reconnects after a failure.

    When the service cannot be reached or fails, `score` raises ScorerError with a message for the trainee (the
    app then puts the reply back in the box to send again).
    """

    def __init__(self, address: Address | str, *, timeout: float = 60.0, connect_timeout: float = 5.0):
        self.address = parse_address(address) if isinstance(address, str) else address
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._lock = threading.Lock()
        self._version: str | None = None
        self._rubric_json: dict[int, tuple[Rubric, str]] = {}

    # -- the Scorer protocol

    @property
    def version(self) -> str:
        if self._version is None:
            try:
                self.hello()
            except ScorerError:
                return ""
        return self._version or ""

    def load(self, rubrics: Sequence[Rubric] = ()) -> ScoringClient:
        """Check that the service answers (the app calls this where a local model would load)."""
        self.hello()
        return self

    def hello(self) -> dict[str, Any]:
        answer = self._call({"op": "hello"}, timeout=self.connect_timeout + 5)
        self._version = str(answer.get("version", ""))
        return answer

    def score(self, request: ScoreRequest) -> ReplyScore:
        return self.score_many([request])[0]

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[ReplyScore]:
        if not requests:
            return []
        answer = self._call({"op": "score",
                             "requests": [request_to_dict(r, self._rubric_text(r.rubric)) for r in requests]})
        scores = answer.get("scores")
        if not isinstance(scores, list) or len(scores) != len(requests):
            raise ScorerError(f"the scoring service at {self.address} answered with the wrong number of scores")
        return [score_from_dict(s) for s in scores]

    def prepare(self, *contexts: str) -> None:
        if contexts:
            self._call({"op": "prepare", "contexts": list(contexts)})

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- plumbing

    def _rubric_text(self, rubric: Rubric) -> str:
        known = self._rubric_json.get(id(rubric))
        if known is None or known[0] is not rubric:
            known = (rubric, rubric.model_dump_json())
            self._rubric_json[id(rubric)] = known
        return known[1]

    def _drop(self) -> None:
        for thing in (self._file, self._sock):
            if thing is not None:
                try:
                    thing.close()
                except OSError:
                    pass
        self._sock = self._file = None

    def _exchange(self, payload: bytes, timeout: float) -> bytes:
        if self._sock is None:
            self._sock = _connect(self.address, self.connect_timeout)
            self._file = self._sock.makefile("rb")
        self._sock.settimeout(timeout)
        self._sock.sendall(payload)
        line = self._file.readline(MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise ConnectionResetError("the service closed the connection")
        return line

    def _call(self, doc: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        payload = _encode(doc)
        timeout = self.timeout if timeout is None else timeout
        with self._lock:
            line = b""
            for attempt in (1, 2):  # a connection the service dropped (it restarted) is retried once, afresh
                started = time.monotonic()
                try:
                    line = self._exchange(payload, timeout)
                    break
                except socket.timeout:
                    self._drop()
                    raise ScorerError(f"the scoring service at {self.address} did not answer within "
                                      f"{timeout:.0f} s; it may be overloaded or stuck") from None
                except (FileNotFoundError, ConnectionRefusedError) as exc:
                    self._drop()
                    raise ScorerError(self._down(exc)) from None
                except OSError as exc:
                    self._drop()
                    if attempt == 2 or time.monotonic() - started > timeout:
                        raise ScorerError(self._down(exc)) from None
        try:
            answer = json.loads(line)
        except ValueError:
            raise ScorerError(f"the scoring service at {self.address} sent something that is not JSON") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise ScorerError(f"the scoring service failed: {error or 'no reason given'}")
        return answer

    def _down(self, exc: OSError) -> str:
        reason = exc.strerror or type(exc).__name__
        return (f"the scoring service at {self.address} is not answering ({reason}); it may be restarting — "
                "try again in a moment, or start it with `frontline scorer-service`")


def wait_until_answering(address: Address, timeout: float, *, alive: Callable[[], bool] = lambda: True) -> bool:
    """True once a service answers at `address` (within `timeout` seconds, while `alive()` holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        if _answers(address):
            return True
        time.sleep(0.1)
    return False
