"""`frontline serve` without a browser: who a visitor is, what is refused, what is not served, and the command's
messages. (tests/browser drives the whole thing in Chromium.)"""

from __future__ import annotations

import asyncio
import io
import shlex
import socket
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator import __version__
from simulator.serve.forkserver import ForkServer
from simulator.serve.server import ServeOptions, TeamServer, app_environment, check_name
from simulator.services import Services

SECRET = "correct horse battery staple"


async def _client(**options) -> TestClient:
    options.setdefault("fork_server", False)  # test_the_fork_server_* start it
    server = TeamServer(ServeOptions(**options))
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    client.team = server
    return client


async def test_a_visitor_gives_their_name_first_and_then_gets_the_app():
    client = await _client()
    try:
        first = await client.get("/")
        page = await first.text()
        assert first.status == 200 and "Your name" in page and "textual.js" not in page
        refused = await client.post("/", data={"trainee": "  \x07 "}, allow_redirects=False)
        assert refused.status == 400 and "cannot be stored" in await refused.text()
        signed = await client.post("/", data={"trainee": "  Ann   Lee "}, allow_redirects=False)
        assert signed.status == 303 and signed.cookies["frontline_trainee"].value == "Ann%20Lee"
        app_page = await (await client.get("/")).text()
        assert "textual.js" in app_page and "Ann Lee" in app_page and "fonts.googleapis" not in app_page
        assert "/ws" in app_page and "not you?" in app_page
        out = await client.get("/sign-out", allow_redirects=False)
        assert out.status == 303
    finally:
        await client.close()


async def test_with_a_trusted_header_the_proxy_names_the_visitor_and_nobody_else_can():
    client = await _client(trainee_header="X-Forwarded-User")
    try:
        without = await client.get("/")
        assert without.status == 403 and "X-Forwarded-User" in await without.text()
        faked = await client.get("/", cookies={"frontline_trainee": "Boss"})
        assert faked.status == 403  # a cookie does not count once the proxy is trusted
        named = await client.get("/", headers={"X-Forwarded-User": "kim@example.org"})
        page = await named.text()
        assert named.status == 200 and "kim@example.org" in page and "not you?" not in page
        assert client.team.trainee(_Request({"X-Forwarded-User": "kim@example.org"}))[0] == "kim@example.org"
    finally:
        await client.close()


async def test_the_review_is_not_served_without_a_secret():
    client = await _client()
    try:
        response = await client.get("/review")
        assert response.status == 404 and "not served" in await response.text()
        assert (await client.post("/review", data={"secret": "x", "reviewer": "kim"})).status == 404
    finally:
        await client.close()


async def test_the_review_opens_only_with_its_secret():
    client = await _client(review_secret=SECRET)
    try:
        assert "Review secret" in await (await client.get("/review")).text()
        wrong = await client.post("/review", data={"secret": "guess", "reviewer": "kim"}, allow_redirects=False)
        assert wrong.status == 403 and "not the review secret" in await wrong.text()
        assert "Review secret" in await (await client.get("/review")).text()  # still closed
        right = await client.post("/review", data={"secret": SECRET, "reviewer": "Kim"}, allow_redirects=False)
        assert right.status == 303
        page = await (await client.get("/review")).text()
        assert "textual.js" in page and "/review/ws" in page and "reviewing as Kim" in page
        assert SECRET not in page
    finally:
        await client.close()


async def test_a_websocket_without_a_name_is_closed_with_a_reason():
    client = await _client()
    try:
        ws = await client.ws_connect("/ws")
        message = await ws.receive()
        assert ws.close_code == 4403 and "sign in" in (ws.protocol or "") + str(message.extra)
    finally:
        await client.close()


async def test_a_full_server_says_so():
    client = await _client(max_sessions=0)
    try:
        response = await client.get("/", cookies={"frontline_trainee": "Ann"})
        assert response.status == 503 and "full" in await response.text()
    finally:
        await client.close()


def test_names_reach_the_app_process_as_one_argument_whatever_they_hold():
    server = TeamServer(ServeOptions(app_args=["--resume"]))
    name = check_name("O'Brien; rm -rf / $(whoami) `id`")
    argv = shlex.split(server.app_command(name))
    assert argv[argv.index("--trainee") + 1] == name and argv[-1] == "--resume"
    assert check_name(" tab\there ") == "tab here"
    for bad in ("", " ", "x" * 101, "a\u202eb", "bell\x07"):
        with pytest.raises(ValueError):
            check_name(bad)


async def test_the_fork_server_forks_a_ready_app_per_request_and_reports_how_it_ended(tmp_path):
    environment = app_environment({"FRONTLINE_DATA_DIR": str(tmp_path / "data")})
    forks = ForkServer(str(tmp_path), environment, [sys.executable, "-m", "simulator.serve.forkserver"])
    assert await forks.start()
    try:
        versions = await asyncio.gather(*(forks.spawn(["--version"], environment) for _ in range(3)))
        assert len({p.pid for p in versions}) == 3
        for process in versions:
            assert __version__ in (await process.stdout.read()).decode()
            assert await process.wait() == 0
            process.close()
        wrong = await forks.spawn(["no-such-command"], dict(environment, COLUMNS="50"))
        assert b"invalid choice" in await wrong.stderr.read()
        assert await wrong.wait() == 2
        wrong.close()
        waiting = await forks.spawn(["serve-app", "--trainee", "Ann"], environment)  # an app, waiting for keys
        assert (await waiting.stdout.readline()).endswith(b"__GANGLION__\n")
        waiting.kill()
        assert await waiting.wait() == -9
        waiting.close()
    finally:
        await forks.stop()
    assert forks.process is not None and forks.process.returncode is not None and not forks.alive
    with pytest.raises(OSError):
        await forks.spawn(["--version"], environment)


async def test_the_fork_server_starts_with_serve_and_stops_with_it():
    client = await _client(fork_server=True)
    try:
        team = client.team
        for _ in range(300):
            if team.forks is not None and team.forks.alive:
                break
            await asyncio.sleep(0.1)
        health = await (await client.get("/healthz")).json()
        assert health["fork_server"] is True
        fork_process = team.forks.process
    finally:
        await client.close()
    assert fork_process.returncode is not None


class _Request:
    def __init__(self, headers):
        self.headers = headers
        self.cookies = {}


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_serve_explains_what_stops_it_without_a_traceback(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    for argv, message in (
        (["--db", "nonsense", "serve"], "is not a database URL"),
        (["--db", db, "serve", "--scorer-service", f"unix:{tmp_path / 'none.sock'}"], "no scoring service answers at"),
        (["--db", db, "serve", "--scorer-service", "10.1.1.1:9"], "only listens on this machine"),
        (["--db", db, "serve", "--review-secret-file", str(tmp_path / "missing")], "cannot read the review secret"),
    ):
        code, _, err = _run(argv)
        assert code == 2 and err.startswith("frontline: ") and message in err and "Traceback" not in err, err
    short = tmp_path / "short"
    short.write_text("abc\n")
    code, _, err = _run(["--db", db, "serve", "--review-secret-file", str(short)])
    assert code == 2 and "shorter than 12 characters" in err


def test_serve_on_a_port_in_use_says_so(tmp_path):
    from simulator.scoring.service import Address, ScoringService

    service = ScoringService(FakeScorer(), Address(path=str(tmp_path / "s.sock")))
    service.start_in_thread()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        code, _, err = _run(["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve",
                             "--scorer-service", str(service.address),
                             "--port", str(busy.getsockname()[1])])
        assert code == 2 and "cannot serve on 127.0.0.1:" in err and "Traceback" not in err
    finally:
        busy.close()
        service.stop()
