"""Warnings about weak content: a scenario that works but teaches or plays badly (being built)."""

from __future__ import annotations

from simulator.content.scenario import Scenario
from simulator.content.yamlfile import LoadedYaml
from simulator.errors import Problem


def lint_scenario(scenario: Scenario, yaml: LoadedYaml, file: str) -> list[Problem]:
    """Warnings (severity "warning") about weak content in a scenario that is otherwise valid."""
    return []
