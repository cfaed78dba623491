"""`frontline test`: a scenario's own tests (cases, trainee profiles, exploration of the beat graph)."""

from __future__ import annotations


def register(sub) -> None:
    """Adds `test` (being built)."""
