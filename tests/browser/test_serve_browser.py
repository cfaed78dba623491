"""`frontline serve` in a real browser: headless Chromium signs in, picks a scenario, replies, and sees the score
and the customer's answer; the session is in the database afterwards. Scored by the fake scorer through a real
scoring service (the model's own tests are elsewhere).

Needs Debian's `chromium` (`.ci/run` installs it). Reading the screen: xterm.js draws on a canvas, so the test
keeps a handle on the page's terminal object and reads its text buffer, which is what is drawn.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers.fakes import FakeScorer
from simulator.scoring.service import Address, ScoringService
from simulator.store import Store

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)

# Keep a handle on each xterm.js Terminal the page creates (textual.js assigns it to `this.terminal`).
CAPTURE = """
window.__terms = [];
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(v) {
    if (v && v.buffer) window.__terms.push(v);
    Object.defineProperty(this, 'terminal', {value: v, writable: true, configurable: true, enumerable: true});
  },
});
"""
SCREEN = """() => { const t = window.__terms[0]; if (!t) return '';
  const b = t.buffer.active, out = [];
  for (let y = 0; y < t.rows; y++) { const l = b.getLine(b.viewportY + y); out.push(l ? l.translateToString(true) : ''); }
  return out.join('\\n'); }"""


def _need_chromium():
    if CHROMIUM is None:
        reason = "needs Chromium: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("needs the playwright package (make setup installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"frontline serve exited ({process.returncode}):\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"frontline serve did not answer at {url}")


@pytest.fixture
def served(tmp_path):
    """A scoring service (fake scorer) and `frontline serve` using it, on loopback; yields (url, db url)."""
    service = ScoringService(FakeScorer(), Address(path=str(tmp_path / "s.sock")))
    service.start_in_thread()
    db = f"sqlite:///{tmp_path / 'team.db'}"
    port = _free_port()
    env = dict(os.environ, FRONTLINE_DATA_DIR=str(tmp_path / "data"))
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--db", db, "serve", "--port", str(port),
         "--scorer-service", str(service.address),
         "--resume"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/healthz", process)
        yield url, db, service
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        service.stop()


class Browser:
    def __init__(self, page):
        self.page = page

    def screen(self) -> str:
        return self.page.evaluate(SCREEN)

    def wait_for(self, *texts: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.2)
        size = self.page.evaluate("() => window.__terms[0] ? [window.__terms[0].cols, window.__terms[0].rows] : null")
        raise AssertionError(f"waited {timeout:.0f} s for {texts!r}; the screen ({size}) shows:\n{screen}")

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)


@pytest.fixture
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _open(chromium, url: str, name: str) -> Browser:
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.add_init_script(CAPTURE)
    page.goto(url + "/")
    page.fill("#trainee", name)
    page.click("button[type=submit]")
    page.wait_for_function("() => document.body && document.body.classList.contains('-first-byte')", timeout=60_000)
    tab = Browser(page)
    tab.wait_for("pick a scenario", "Ann Lee", " scenarios · ")
    page.focus(".xterm-helper-textarea")
    return tab


def _start_tyre(tab: Browser) -> None:
    tab.type("tyre we never sold")
    tab.wait_for("1 of ")
    tab.press("Enter")
    tab.wait_for("Margaret", "Reply to Margaret")


def test_a_whole_scenario_in_the_browser_is_scored_and_stored(served, browser):
    url, db, service = served
    tab = _open(browser, url, "Ann Lee")
    _start_tyre(tab)
    tab.type("I'm so sorry you drove all this way with it #all=0.9 goals=acknowledge_trip")
    tab.press("Enter")
    screen = tab.wait_for("overall 0.90", "Goal met")
    assert "I'm so sorry you drove all this way" in screen
    for reply in ("We've never stocked tyres here, so it must be the car centre #e=0.8 o=0.7 s=0.8 "
                  "goals=explain_kindly",
                  "I'll ring Parkway now and tell them you're coming #all=0.9 goals=solve_it",
                  "Not at all, it's an easy mix-up. Dev is expecting you #all=0.9"):
        tab.type(reply)
        tab.press("Enter")
        time.sleep(0.3)
        tab.wait_for("overall")
    tab.wait_for("The conversation is over")
    with Store(db) as store:
        (session,) = store.sessions(with_turns=True)
    assert session.trainee == "Ann Lee" and session.scenario_id == "tire-return" and session.finished
    assert len(session.turns) == 4 and session.turns[0].reply.startswith("I'm so sorry you drove")
    assert service.requests_scored >= 4


def test_a_closed_tab_loses_no_turn_and_resume_continues_the_session(served, browser):
    url, db, service = served
    tab = _open(browser, url, "Ann Lee")
    _start_tyre(tab)
    tab.type("I'm so sorry you drove all this way with it #all=0.9 goals=acknowledge_trip")
    tab.press("Enter")
    tab.wait_for("overall 0.90")
    service.scorer.release.clear()  # the next reply is mid-scoring when the tab closes
    tab.type("We've never stocked tyres here #all=0.7")
    tab.press("Enter")
    tab.wait_for("Scoring your reply")
    tab.page.close()
    time.sleep(1.0)
    service.scorer.release.set()  # the reply in flight when the tab closed may or may not have been completed
    time.sleep(1.0)
    with Store(db) as store:
        (session,) = store.sessions(with_turns=True)
    done = len(session.turns)
    assert not session.finished and done in (1, 2) and session.turns[0].reply.startswith("I'm so sorry")

    again = _open(browser, url, "Ann Lee")  # --resume: picking the scenario continues where it stopped
    _start_tyre(again)
    again.wait_for(f"Resuming your session after turn {done}", "I'm so sorry you drove")
    again.type("I'll ring Parkway now and tell them you're coming #all=0.9 goals=solve_it")
    again.press("Enter")
    again.wait_for("overall 0.90")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Store(db) as store:
            (session,) = store.sessions(with_turns=True)
        if len(session.turns) > done:
            break
        time.sleep(0.2)
    assert session.turns[0].reply.startswith("I'm so sorry") and len(session.turns) == done + 1
    assert session.turns[-1].reply.startswith("I'll ring Parkway")
