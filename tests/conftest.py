from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# No test may reach a model hub, and the user's own database is never touched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def fake_scorer():
    from helpers.fakes import FakeScorer

    return FakeScorer()


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Point the default SQLite database into a temporary folder for every test."""
    data = tmp_path_factory.mktemp("frontline-data")
    monkeypatch.setenv("FRONTLINE_DATA_DIR", str(data))
    monkeypatch.delenv("FRONTLINE_DB", raising=False)
    yield data


@pytest.fixture(autouse=True)
def _frozen_scenarios(request, monkeypatch):
    """Tests see the frozen scenario copies in tests/helpers/content unless marked `shipped`."""
    if request.node.get_closest_marker("shipped") is None:
        from helpers.content import FROZEN_SCENARIOS
        from simulator import settings

        monkeypatch.setattr(settings, "scenarios_dir", lambda: FROZEN_SCENARIOS)
    yield


@pytest.fixture
def library():
    from simulator.content.library import Library

    return Library()
