"""`frontline serve`: the trainee app in a browser, one app process per visitor, through textual-serve.

Each browser tab that opens the page gets its own `frontline serve-app` process (the same trainee app as in
the terminal) connected over a websocket. The processes score through one scoring service (see
`simulator.scoring.service`) and store their sessions in the configured database, exactly as in the terminal.

Who is practising: the visitor types a name (kept in a cookie), or, with `trainee_header`, a reverse proxy that
signs people in says so in a header (trusted only then; a request without it is refused).

The trainer's review is not served unless a review secret is configured; then `/review` asks for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import shlex
import shutil
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import quote, unquote

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from simulator.serve import pages
from simulator.serve.forkserver import ForkedProcess, ForkServer

log = logging.getLogger("frontline.serve")

TRAINEE_COOKIE = "frontline_trainee"
REVIEW_COOKIE = "frontline_review"
REVIEWER_COOKIE = "frontline_reviewer"
MAX_NAME = 100
STOP_GRACE = 5.0
"""Seconds an app process gets to quit after its browser left, before it is killed."""
FORK_START_TIMEOUT = 120.0
"""Seconds the fork server may take to import and load what every app needs (a busy machine, a cold disk)."""


def check_name(text: str | None, what: str = "name") -> str:
    """A trainee's or reviewer's name as typed, tidied; raises ValueError with a message for the visitor."""
    name = " ".join((text or "").split())
    if not name:
        raise ValueError(f"Please type your {what}.")
    if len(name) > MAX_NAME:
        raise ValueError(f"That {what} is longer than {MAX_NAME} characters; please shorten it.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise ValueError(f"That {what} contains characters that cannot be stored; please retype it.")
    return name


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    app_args: list[str] = field(default_factory=list)
    """Extra arguments for every visitor's `frontline serve-app` (--scenarios, --resume, …)."""
    environment: dict[str, str] = field(default_factory=dict)
    """FRONTLINE_* variables for the app processes (the database, the scoring service)."""
    trainee_header: str | None = None
    """Take the trainee's name from this request header (set by a trusted reverse proxy)."""
    review_secret: str | None = None
    max_sessions: int = 200
    title: str = "Frontline"
    fork_server: bool = True
    """Fork each trainee's app from a process that has already imported and loaded what every app needs
    (`simulator.serve.forkserver`); False: start each one from nothing."""


def app_environment(environment: dict[str, str], *, debug: bool = False, width: int = 80,
                    height: int = 24) -> dict[str, str]:
    """The environment textual-serve gives an app process (its web driver, …), with Frontline's variables."""
    env = AppService._build_environment(SimpleNamespace(debug=debug), width=width, height=height)  # type: ignore
    env.update(environment)
    return env


class _AppProcess(AppService):
    """textual-serve's app process, with Frontline's environment, forked by the fork server when one runs, and
    killed if it does not quit in time."""

    def __init__(self, command: str, environment: dict[str, str], *,
                 fork: tuple[ForkServer, list[str]] | None = None, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._environment = environment
        self._fork = fork

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return app_environment(self._environment, debug=self.debug, width=width, height=height)

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        if self._fork is not None and self._fork[0].alive:
            server, args = self._fork
            try:
                process = await server.spawn(args, self._build_environment(width=width, height=height))
            except OSError as exc:
                log.warning("the fork server could not start an app (%s); starting it from nothing", exc)
            else:
                self._process = process  # type: ignore[assignment]
                self._stdin = process.stdin
                return process
        return await super()._open_app_process(width, height)

    async def stop(self) -> None:
        if self._task is None:
            return
        await self.send_meta({"type": "quit"})
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE)
        except asyncio.TimeoutError:
            if self._process is not None and self._process.returncode is None:
                self._process.kill()
            await self._task
        self._task = None
        if isinstance(self._process, ForkedProcess):
            self._process.close()


class TeamServer(Server):
    """textual-serve's Server, serving Frontline's trainee app (and, with a secret, the review) per visitor."""

    def __init__(self, options: ServeOptions, *, on_startup: Callable[[], Any] | None = None) -> None:
        super().__init__(command="frontline", host=options.host, port=options.port, title=options.title)
        self.options = options
        self.live = 0
        self.forks: ForkServer | None = None
        self._fork_folder: str | None = None
        self._startup_hook = on_startup
        self._review_token = (hmac.new(options.review_secret.encode(), b"frontline-review", hashlib.sha256).hexdigest()
                              if options.review_secret else None)

    # -- the web application

    async def _make_app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.get("/", self.handle_index),
            web.post("/", self.handle_sign_in),
            web.get("/sign-out", self.handle_sign_out),
            web.get("/ws", self.handle_websocket),
            web.get("/review", self.handle_review),
            web.post("/review", self.handle_review_sign_in),
            web.get("/review/ws", self.handle_review_websocket),
            web.get("/healthz", self.handle_health),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_startup.append(self.on_startup)
        app.on_cleanup.append(self.on_cleanup)
        return app

    async def on_startup(self, app: web.Application) -> None:
        if self.options.fork_server:
            # Before anyone is let in (as for the scoring service): a team that arrives at once while it loads
            # would otherwise each start an app from nothing, the very load it is there to spare.
            self._fork_folder = tempfile.mkdtemp(prefix="frontline-fork-")  # private (0700)
            self.forks = ForkServer(self._fork_folder, app_environment(self.options.environment, debug=self.debug),
                                    [sys.executable, "-m", "simulator.serve.forkserver"])
            if not await self.forks.start(FORK_START_TIMEOUT):
                log.warning("the fork server did not start; each visitor's app starts from nothing")
        where = f"http://{self.options.host}:{self.options.port}/"
        print(f"frontline serve: open {where} in a browser (Ctrl+C stops)", flush=True)
        if self._startup_hook is not None:
            self._startup_hook()

    async def on_cleanup(self, app: web.Application) -> None:
        if self.forks is not None:
            await self.forks.stop()
        if self._fork_folder is not None:
            shutil.rmtree(self._fork_folder, ignore_errors=True)

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.DEBUG if self.debug else logging.WARNING,
                            format="frontline serve: %(message)s")

    # -- who is visiting

    def trainee(self, request: web.Request) -> tuple[str | None, str]:
        """(the visitor's name or None, why not)."""
        header = self.options.trainee_header
        if header:
            raw = request.headers.get(header)
            if raw is None:
                return None, (f"This server takes your name from the {header} header its sign-in proxy sets, and "
                              "this request came without it. Open Frontline through your organisation's address.")
            try:
                return check_name(raw), ""
            except ValueError as exc:
                return None, f"The {header} header does not hold a usable name: {exc}"
        cookie = request.cookies.get(TRAINEE_COOKIE)
        if not cookie:
            return None, ""
        try:
            return check_name(unquote(cookie)), ""
        except ValueError as exc:
            return None, str(exc)

    def _html(self, text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})

    async def handle_index(self, request: web.Request) -> web.Response:
        name, problem = self.trainee(request)
        if name is None:
            if self.options.trainee_header:
                return self._html(pages.message("Cannot tell who you are", problem), 403)
            return self._html(pages.name_form(problem))
        if self.live >= self.options.max_sessions:
            return self._html(pages.message("Frontline is full", f"{self.live} people are practising on this "
                                            "server, its limit. Try again in a few minutes."), 503)
        sign_out = "" if self.options.trainee_header else "/sign-out"
        return self._html(pages.terminal(self.options.title, "/ws", font_size=_font_size(request),
                                         signed_in_as=name, sign_out=sign_out))

    async def handle_sign_in(self, request: web.Request) -> web.Response:
        if self.options.trainee_header:
            raise web.HTTPSeeOther("/")
        form = await request.post()
        typed = str(form.get("trainee", ""))
        try:
            name = check_name(typed)
        except ValueError as exc:
            return self._html(pages.name_form(str(exc), typed[:MAX_NAME]), 400)
        response = _see_other("/")
        response.set_cookie(TRAINEE_COOKIE, quote(name), httponly=True, samesite="Strict", max_age=30 * 86400)
        return response

    async def handle_sign_out(self, request: web.Request) -> web.Response:
        response = _see_other("/")
        response.del_cookie(TRAINEE_COOKIE)
        return response

    async def handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "sessions": self.live,
                                  "fork_server": self.forks is not None and self.forks.alive})

    # -- the trainer's review (only with a secret)

    def _reviewer(self, request: web.Request) -> str | None:
        if self._review_token is None:
            return None
        token = request.cookies.get(REVIEW_COOKIE, "")
        if not hmac.compare_digest(token.encode(), self._review_token.encode()):
            return None
        try:
            return check_name(unquote(request.cookies.get(REVIEWER_COOKIE, "")))
        except ValueError:
            return None

    async def handle_review(self, request: web.Request) -> web.Response:
        if self._review_token is None:
            return self._html(pages.message("Not here", "The trainer's review is not served by this server. "
                                            "Trainers run `frontline review` against the database."), 404)
        reviewer = self._reviewer(request)
        if reviewer is None:
            return self._html(pages.review_form())
        return self._html(pages.terminal("Frontline review", "/review/ws", font_size=_font_size(request),
                                         signed_in_as=f"reviewing as {reviewer}"))

    async def handle_review_sign_in(self, request: web.Request) -> web.Response:
        if self._review_token is None:
            raise web.HTTPNotFound()
        form = await request.post()
        secret = str(form.get("secret", ""))
        assert self.options.review_secret is not None
        if not hmac.compare_digest(secret.encode(), self.options.review_secret.encode()):
            await asyncio.sleep(1.0)  # slows guessing
            return self._html(pages.review_form("That is not the review secret."), 403)
        try:
            reviewer = check_name(str(form.get("reviewer", "")))
        except ValueError as exc:
            return self._html(pages.review_form(str(exc)), 400)
        response = _see_other("/review")
        response.set_cookie(REVIEW_COOKIE, self._review_token, httponly=True, samesite="Strict", max_age=12 * 3600)
        response.set_cookie(REVIEWER_COOKIE, quote(reviewer), httponly=True, samesite="Strict", max_age=12 * 3600)
        return response

    # -- the websockets: one app process each

    def app_args(self, trainee: str) -> list[str]:
        """The trainee app's command line, after `frontline`."""
        return ["serve-app", "--trainee", trainee, *self.options.app_args]

    def app_command(self, trainee: str) -> str:
        return shlex.join([sys.executable, "-m", "simulator", *self.app_args(trainee)])

    def review_command(self, reviewer: str) -> str:
        return shlex.join([sys.executable, "-m", "simulator", "review", "--reviewer", reviewer])

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        name, problem = self.trainee(request)
        if name is None:
            return await self._refuse(request, problem or "sign in first: reload the page")
        if self.live >= self.options.max_sessions:
            return await self._refuse(request, "the server is full")
        fork = (self.forks, self.app_args(name)) if self.forks is not None else None
        return await self._run_app(request, self.app_command(name), fork=fork)

    async def handle_review_websocket(self, request: web.Request) -> web.WebSocketResponse:
        reviewer = self._reviewer(request)
        if reviewer is None:
            return await self._refuse(request, "the review needs its secret: reload the page")
        return await self._run_app(request, self.review_command(reviewer))

    async def _refuse(self, request: web.Request, why: str) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        await websocket.close(code=4403, message=why.encode()[:120])
        return websocket

    async def _run_app(self, request: web.Request, command: str,
                       fork: tuple[ForkServer, list[str]] | None = None) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        process: _AppProcess | None = None
        self.live += 1
        try:
            await websocket.prepare(request)
            process = _AppProcess(command, self.options.environment, fork=fork, write_bytes=websocket.send_bytes,
                                  write_str=websocket.send_str, close=websocket.close,
                                  download_manager=self.download_manager, debug=self.debug)
            await process.start(width, height)
            await self._pump(websocket, process)
        except asyncio.CancelledError:
            await websocket.close()
        except ConnectionError:
            pass
        except Exception as exc:  # one visitor's failure must not stop the server
            log.warning("a session's connection failed: %s", exc)
        finally:
            self.live -= 1
            if process is not None:
                try:
                    await asyncio.shield(process.stop())
                except Exception as exc:
                    log.warning("an app process did not stop cleanly: %s", exc)
        return websocket

    async def _pump(self, websocket: web.WebSocketResponse, process: _AppProcess) -> None:
        """Keys and resizes from the browser to the app (the app's output goes straight to the websocket)."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = message.json()
                kind = envelope[0]
            except (ValueError, TypeError, IndexError, KeyError):
                continue
            if kind == "stdin" and isinstance(envelope[1], str):
                await process.send_bytes(envelope[1].encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(envelope[1], dict):
                await process.set_terminal_size(_int(envelope[1].get("width"), 80),
                                                _int(envelope[1].get("height"), 24))
            elif kind == "ping":
                await websocket.send_json(["pong", envelope[1] if len(envelope) > 1 else ""])
            elif kind == "blur":
                await process.blur()
            elif kind == "focus":
                await process.focus()


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, 10), 1000)


def _font_size(request: web.Request) -> int:
    return min(max(_int(request.query.get("fontsize"), 16), 8), 40)
