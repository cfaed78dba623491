"""One scoring service for many sessions: the client scores what the scorer would, requests that arrive together
are batched, and a service that is down or fails gives a clear message and loses no reply."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from helpers.app import SIZE, Recorder, enter_text, ready, type_reply, wait_until
from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.errors import ScorerError, UsageError
from simulator.scoring.base import ScoreRequest
from simulator.scoring.service import Address, ScoringClient, ScoringService, parse_address
from simulator.services import Services


@pytest.fixture
def tire(library):
    scenario = library.scenario("tire-return")
    return scenario, library.rubric(scenario.rubric)


def _request(tire, reply: str, context: str = "Refund, please.") -> ScoreRequest:
    scenario, rubric = tire
    return ScoreRequest(reply=reply, context=context, rubric=rubric, goals=tuple(scenario.goals),
                        model_replies=("I'm sorry — let me sort it.",))


@pytest.fixture
def service(tmp_path):
    running = ScoringService(FakeScorer(), Address(path=str(tmp_path / "s.sock")))
    running.start_in_thread()
    yield running
    running.stop()


def test_scores_through_the_service_are_the_scorers_own(service, tire):
    client = ScoringClient(str(service.address))
    request = _request(tire, "So sorry about the trip #e=0.9 o=0.4 goals=acknowledge_trip flag")
    remote, local = client.score(request), FakeScorer().score(request)
    assert remote == local
    assert remote.goals_met == ("acknowledge_trip",) and remote.red_flags and remote.nearest_model_reply
    assert client.version == "fake-1"
    assert client.score_many([]) == []


def test_many_sessions_at_once_share_one_scorer_and_are_batched(service, tire):
    service.scorer.release.clear()  # hold the first batch so the others queue up behind it
    results: dict[int, float] = {}

    def trainee(i: int) -> None:
        results[i] = ScoringClient(str(service.address)).score(_request(tire, f"reply {i} #all=0.{i}")).overall

    threads = [threading.Thread(target=trainee, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    # every request has arrived: the first batch is held in the scorer, the rest wait together behind it
    deadline = time.monotonic() + 30
    while service.requests_received < 8 and time.monotonic() < deadline:
        threading.Event().wait(0.02)
    assert service.requests_received == 8, "the trainees' requests did not reach the service in 30 s"
    service.scorer.release.set()
    for t in threads:
        t.join(10)
    assert results == {i: pytest.approx(i / 10) for i in range(1, 9)}
    assert service.requests_scored == 8 and service.batches == 2  # the first batch, then all that waited behind it


def test_a_reply_the_scorer_fails_on_fails_alone(tmp_path, tire):
    service = ScoringService(FakeScorer(fail_on="boom"), Address(path=str(tmp_path / "s.sock")))
    service.start_in_thread()
    try:
        client = ScoringClient(str(service.address))
        with pytest.raises(ScorerError, match="the scoring service failed: fake scorer failure"):
            client.score(_request(tire, "boom"))
        assert client.score(_request(tire, "fine #all=0.8")).overall == pytest.approx(0.8)
    finally:
        service.stop()


def test_a_service_that_is_down_is_said_plainly_and_a_restarted_one_is_used_again(tmp_path, tire):
    address = Address(path=str(tmp_path / "s.sock"))
    client = ScoringClient(address)
    with pytest.raises(ScorerError, match=r"the scoring service at unix:.*s\.sock is not answering"):
        client.score(_request(tire, "hello"))
    first = ScoringService(FakeScorer(), address)
    first.start_in_thread()
    assert client.score(_request(tire, "hello #all=0.6")).overall == pytest.approx(0.6)
    first.stop()
    threading.Event().wait(0.3)
    with pytest.raises(ScorerError, match="not answering"):
        client.score(_request(tire, "hello"))
    second = ScoringService(FakeScorer(), address)  # restarted (as `frontline serve` does) at the same address
    second.start_in_thread()
    try:
        assert client.score(_request(tire, "again #all=0.7")).overall == pytest.approx(0.7)
    finally:
        second.stop()


def test_a_loopback_port_works_like_a_socket(tire):
    service = ScoringService(FakeScorer(), Address(host="127.0.0.1", port=0))
    service.start_in_thread()
    try:
        assert service.address.port
        assert ScoringClient(str(service.address)).score(_request(tire, "hi #all=0.3")).overall == pytest.approx(0.3)
    finally:
        service.stop()


def test_junk_on_the_socket_is_answered_not_fatal(service, tire):
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(service.address.path)
        reader = raw.makefile("rb")
        for junk in (b"not json\n", b'{"op": "explode"}\n', b'{"op": "score", "requests": [{"reply": 1}]}\n'):
            raw.sendall(junk)
            assert b'"ok": false' in reader.readline()
    assert ScoringClient(str(service.address)).score(_request(tire, "still fine #all=0.5")).overall == 0.5


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("10.0.0.5:9000", "only listens on this machine"),
    ("example.org:80", "only listens on this machine"),
    ("127.0.0.1:http", "is not a scoring service address"),
    ("127.0.0.1:70000", "is not a scoring service address"),
    ("unix:/" + "x" * 120, "too long for a Unix socket"),
])
def test_bad_addresses_are_explained(text, message):
    with pytest.raises(UsageError, match=message):
        parse_address(text)


def test_frontline_scorer_service_refuses_a_second_service_on_the_same_socket(service):
    err = io.StringIO()
    code = main(["scorer-service", "--listen", str(service.address)],
                Services(scorer_factory=FakeScorer, stdout=io.StringIO(), stderr=err))
    assert code == 2 and "already running at unix:" in err.getvalue() and "Traceback" not in err.getvalue()


def test_frontline_scorer_service_explains_a_bad_address():
    err = io.StringIO()
    code = main(["scorer-service", "--listen", "192.168.1.4:7000"],
                Services(scorer_factory=FakeScorer, stdout=io.StringIO(), stderr=err))
    assert code == 2 and err.getvalue().startswith("frontline: ") and "only listens on this machine" in err.getvalue()


def test_FRONTLINE_SCORER_makes_every_session_score_through_the_service(monkeypatch, service):
    monkeypatch.setenv("FRONTLINE_SCORER", str(service.address))
    scorer = Services().make_scorer()
    assert isinstance(scorer, ScoringClient) and scorer.address == service.address


async def test_the_app_keeps_the_reply_when_the_service_is_down_and_goes_on_when_it_is_back(tmp_path):
    from simulator.tui.trainee.app import make_app

    address = Address(path=str(tmp_path / "s.sock"))
    service = ScoringService(FakeScorer(), address)
    service.start_in_thread()
    seen = Recorder()
    app = make_app(Services(scorer_factory=lambda: ScoringClient(address), db_url=f"sqlite:///{tmp_path / 'a.db'}"),
                   scenario_id="tire-return", trainee="sam", deterministic=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await ready(pilot)
        play = app.screen
        await type_reply(pilot, "So sorry about the drive #all=0.9")
        service.stop()
        await pilot.pause(0.3)
        await enter_text(pilot, "We never sold tyres #all=0.6")
        await pilot.press("enter")
        await wait_until(pilot, lambda: seen.notifications("error"), what="an error notification")
        message = " ".join(seen.notifications("error"))
        assert "Could not score your reply" in message and "scoring service" in message and "not answering" in message
        assert play.query_one("#reply").value == "We never sold tyres #all=0.6"  # back in the box
        assert len(play.conversation.turns) == 1 and app.is_running
        again = ScoringService(FakeScorer(), address)
        again.start_in_thread()
        try:
            await pilot.press("enter")  # sends it again
            await wait_until(pilot, lambda: len(play.conversation.turns) == 2, what="the resent reply")
        finally:
            again.stop()
    from simulator.store import Store

    with Store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        (session,) = store.sessions(with_turns=True)
    assert [t.reply for t in session.turns] == ["So sorry about the drive #all=0.9", "We never sold tyres #all=0.6"]
