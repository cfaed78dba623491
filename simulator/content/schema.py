"""JSON Schema for scenario and rubric files, generated from the pydantic models.

Editors that speak the YAML language server show the field docstrings on hover and flag unknown keys as
you type. The files are committed under `schemas/`; a test fails when they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from simulator.content.rubric import Rubric
from simulator.content.scenario import Scenario

SCHEMAS = {"scenario.schema.json": Scenario, "rubric.schema.json": Rubric}


def schema_text(model) -> str:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written
