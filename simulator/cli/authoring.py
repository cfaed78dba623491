"""`frontline new | graph`: a manager's authoring commands (starter files, pictures of the beat graph)."""

from __future__ import annotations


def register(sub) -> None:
    """Adds `new` and `graph` (being built)."""
