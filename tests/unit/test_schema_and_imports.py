"""The committed JSON Schema matches the models, and the headless core stays headless."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.content.schema import SCHEMAS, schema_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_the_models(name):
    committed = (ROOT / "schemas" / name).read_text()
    assert committed == schema_text(SCHEMAS[name]), "schemas drifted: run `make schema` and commit the result"


def test_schema_carries_field_descriptions_for_editors():
    schema = json.loads((ROOT / "schemas" / "scenario.schema.json").read_text())
    assert "first beat is the customer's opening" in schema["properties"]["beats"]["description"]
    assert schema["additionalProperties"] is False


def test_every_shipped_yaml_points_editors_at_its_schema():
    for folder, schema in (("scenarios", "scenario"), ("rubrics", "rubric")):
        for path in (ROOT / folder).glob("*.yaml"):
            first = path.read_text().splitlines()[0]
            assert first == f"# yaml-language-server: $schema=../schemas/{schema}.schema.json", path


def test_core_imports_neither_textual_nor_torch():
    code = (
        "import sys, simulator.cli, simulator.engine, simulator.content.checks, simulator.scoring, simulator.content.library;"
        "import importlib.util as u;"
        "[__import__(m) for m in ('simulator.store', 'simulator.scoring.model') if u.find_spec(m)];"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'torch', 'transformers'});"
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
