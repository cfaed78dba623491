"""What CI runs: every shipped scenario's own tests, its scripted cases scored by the real model."""

from __future__ import annotations

import io

import pytest

from simulator.cli.main import main
from simulator.services import Services


pytestmark = pytest.mark.shipped  # the real shipped scenarios, not the frozen test copies

@pytest.mark.model
def test_frontline_test_passes_on_the_shipped_scenarios():
    out, err = io.StringIO(), io.StringIO()
    code = main(["test", "scenarios"], Services(stdout=out, stderr=err))
    assert code == 0, out.getvalue() + err.getvalue()
    assert "0 failed" in err.getvalue()
