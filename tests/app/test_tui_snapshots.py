"""Snapshots (pytest-textual-snapshot) of the trainee's app with the deterministic profile.

Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`, and look at the
SVGs under tests/__snapshots__/test_tui_snapshots/ before committing them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.content import FROZEN_SCENARIOS
from helpers.app import ready, services, type_reply, wait_until

from simulator.content.library import Library
from simulator.tui.trainee.app import make_app

SHIPPED = FROZEN_SCENARIOS


@pytest.fixture
def fixed_library(tmp_path) -> Library:
    """Two shipped scenarios only, so new scenario files do not change the picker's snapshot."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name in ("tire-return.yaml", "wrong-markers.yaml"):
        shutil.copy(SHIPPED / name, folder / name)
    library = Library()
    library.scenario_dirs = [folder]
    return library


MID_SCENARIO = [
    "You've driven all this way with a heavy tyre, I'm so sorry #e=0.9 o=0.5 s=0.8 goals=acknowledge_trip",
    "We've never stocked tyres here, so it must be Parkway across the car park #e=0.6 o=0.6 s=0.7 "
    "goals=explain_kindly",
]


def test_picker(snap_compare, tmp_path, fixed_library):
    app = make_app(services(tmp_path), trainee="sam", library=fixed_library, deterministic=True)

    async def run_before(pilot):
        await ready(pilot)
        await wait_until(pilot, lambda: app.screen.best_loaded, what="best results")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)


def test_play_mid_scenario(snap_compare, tmp_path, fixed_library):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", library=fixed_library,
                   deterministic=True)

    async def run_before(pilot):
        await ready(pilot)
        for reply in MID_SCENARIO:
            await type_reply(pilot, reply)

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)


def test_play_at_80_by_24(snap_compare, tmp_path, fixed_library):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", library=fixed_library,
                   deterministic=True)

    async def run_before(pilot):
        await ready(pilot)
        await type_reply(pilot, MID_SCENARIO[0])

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_debrief(snap_compare, tmp_path, fixed_library):
    app = make_app(services(tmp_path), scenario_id="tire-return", trainee="sam", library=fixed_library,
                   deterministic=True)

    async def run_before(pilot):
        await ready(pilot)
        for reply in [*MID_SCENARIO, "I'll ring them right now and tell them you're coming #all=0.9 goals=solve_it",
                      "Ask for Dev at the counter, he's expecting you #all=0.8"]:
            await type_reply(pilot, reply)
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DebriefScreen", what="the debrief")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)
