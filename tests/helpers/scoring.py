"""Shared fixtures for the scorer tests (imported by them; tests/conftest.py belongs to the lead)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from simulator.content.library import Library
from simulator.content.rubric import Rubric

CONTEXT = "I've been without internet for three weeks and I work from home. Nobody will help me."
WARM_OWNING = (
    "Three weeks without internet when you work from home — that's awful, I'm sorry. "
    "I'll book an engineer for tomorrow morning right now and text you the time slot today."
)
BRUSH_OFF = "You'll need to call customer service for that."
WARM_DEFLECTING = "I'm so sorry, that sounds awful — you'll need to call the other department."
SCRIPTED = "We value you as a customer and understand your frustration. Is there anything else I can help you with today?"
NATURAL = "Three weeks is far too long. I've booked an engineer for tomorrow at nine and I'll ring you after the visit."


@functools.lru_cache(maxsize=1)
def _service() -> Rubric:
    return Library().rubric("service")


@functools.lru_cache(maxsize=1)
def _scorer():
    from simulator.scoring.model import ModelScorer

    return ModelScorer().load([_service()])


@pytest.fixture
def service_rubric() -> Rubric:
    return _service()


@pytest.fixture
def scorer():
    """One loaded ModelScorer for the whole session, whichever test module asks first."""
    return _scorer()


TINY_RUBRIC = """\
id: tiny_custom
name: Tiny custom rubric
criteria:
  - id: greeting
    name: Greeting
    description: Greets the customer by name and welcomes them.
    levels:
      - level: 0
        description: No greeting at all; launches straight into business or is curt.
        feedback: Say hello first.
        examples:
          - "What."
          - "Next."
          - "Yeah, what is it?"
      - level: 1
        description: A greeting without warmth or the customer's name.
        feedback: Add their name.
        examples:
          - "Hello."
          - "Hi there."
      - level: 2
        description: A warm greeting that uses the customer's name and welcomes them.
        feedback: Lovely welcome.
        examples:
          - "Good morning Mrs Patel, lovely to see you again — welcome back!"
          - "Hi James, welcome in, great to have you here today."
"""


def write_tiny_labelled(folder: Path, lines: int = 40) -> tuple[Path, int]:
    """Labelled replies for the tiny rubric's `greeting` criterion (3 a customer line): (the file, its rows)."""
    rows = []
    greetings = {2: "Good morning {n}, welcome back, lovely to see you.", 1: "Hello.", 0: "What do you want?"}
    for i in range(lines):
        for level, template in greetings.items():
            name = ["Sam", "Mrs Patel", "Ahmed", "Jo"][i % 4]
            rows.append({"id": f"{i}-{level}", "context": f"Hi, I'm here about order {i}.",
                         "reply": template.format(n=name) + f" Order {i} is ready.", "greeting": level})
    path = folder / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path, len(rows)


def write_tiny_rubric(folder: Path) -> Path:
    path = folder / "tiny_custom.yaml"
    path.write_text(TINY_RUBRIC, encoding="utf-8")
    return path
