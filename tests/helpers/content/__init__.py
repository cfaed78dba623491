"""Scenario files frozen for the tests of the engine, the apps and the tools.

The shipped scenarios are reworked as the curriculum grows; a test of how the engine or a screen behaves must
not change with them. So every test runs against these copies (conftest points the library's shipped folder
here), except tests marked `shipped`, which check the real shipped content.
"""

from pathlib import Path

FROZEN_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TIRE = FROZEN_SCENARIOS / "tire-return.yaml"
MARKERS = FROZEN_SCENARIOS / "wrong-markers.yaml"
