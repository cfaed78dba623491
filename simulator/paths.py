"""Where shipped content lives: beside the package in a checkout, inside it once installed from a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_shipped" / name


def scenarios_dir() -> Path:
    return _shipped("scenarios")


def rubrics_dir() -> Path:
    return _shipped("rubrics")


def models_dir() -> Path:
    return _shipped("models")


def schemas_dir() -> Path:
    return _shipped("schemas")
