"""The scoring service that `frontline serve` starts for its visitors: started, watched, restarted, stopped.

If the service dies (killed, out of memory), it is started again at the same address; meanwhile each session
that replies is told the scoring service is not answering, and its reply stays in the box to send again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from simulator.errors import ScorerError
from simulator.scoring.service import Address, wait_until_answering

START_TIMEOUT = 180.0
"""Seconds the service may take to load the model and answer (a cold disk on a slow machine)."""


class ScorerSupervisor:
    def __init__(self, *, environment: dict[str, str], log=print, address: Address | None = None,
                 options: list[str] | None = None):
        self._folder: str | None = None
        if address is None:
            self._folder = tempfile.mkdtemp(prefix="frontline-scorer-")  # private (0700), short enough a path
            address = Address(path=str(Path(self._folder) / "scorer.sock"))
        self.address = address
        self.environment = environment
        self.options = list(options or [])
        """Global options for the service's command line (e.g. a calibrated scorer folder)."""
        self.log = log
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen:
        env = dict(os.environ)
        env.update(self.environment)
        env.pop("FRONTLINE_SCORER", None)  # the service loads the model itself
        return subprocess.Popen([sys.executable, "-m", "simulator", *self.options, "scorer-service", "--listen",
                                 str(self.address)],
                                env=env, stdin=subprocess.DEVNULL)

    def start(self) -> None:
        """Start the service and wait until it answers; raises ScorerError if it cannot start."""
        self.process = self._spawn()
        process = self.process
        if not wait_until_answering(self.address, START_TIMEOUT, alive=lambda: process.poll() is None):
            code = process.poll()
            self.stop()
            why = f"it exited with status {code}" if code is not None else f"no answer in {START_TIMEOUT:.0f} s"
            raise ScorerError(f"the scoring service did not start ({why}); see its messages above")
        self._watcher = threading.Thread(target=self._watch, name="scorer-supervisor", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            try:
                process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            if self._stopping.is_set():
                return
            self.restarts += 1
            delay = min(30.0, 2.0 ** min(self.restarts, 5) / 4)
            self.log(f"frontline serve: the scoring service stopped (status {process.returncode}); "
                     f"starting it again in {delay:.1f} s")
            if self._stopping.wait(delay):
                return
            self.process = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def wait_answering(self, timeout: float) -> bool:
        return wait_until_answering(self.address, timeout)
