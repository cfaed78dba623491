"""Every setting Frontline reads from its environment, and every folder it uses, in one place.

Nothing else in the package reads a `FRONTLINE_*` variable: a command-line option overrides the value read
here (`--db` over FRONTLINE_DB, and so on), and the tests set the variables and see them honoured everywhere.

| variable | what it sets |
|---|---|
| FRONTLINE_DB | the database URL (default: SQLite `frontline.db` in the data folder) |
| FRONTLINE_DATA_DIR | the data folder (default: the platform's user data folder) |
| FRONTLINE_DEVICE | `cpu` or `cuda`: where the scorer runs (default: CUDA when a GPU is visible) |
| FRONTLINE_BACKEND | `torch` runs the scorer in torch on the CPU too (default: ONNX Runtime there) |
| FRONTLINE_THREADS | threads the scorer uses (default: every core, at most 8) |
| FRONTLINE_SCORER | address of a running scoring service (`unix:/path` or `127.0.0.1:PORT`): score through it instead of loading the model (see `frontline scorer-service`) |
| FRONTLINE_SCORER_DIR | a scorer folder written by `frontline calibrate`: every command and app scores with its heads (`--scorer DIR` wins) |
| FRONTLINE_SCORER_CACHE | the folder where the CPU scorer keeps its built graph, so a later start only loads it (default: the platform's user cache folder + `/scorer`; `off`: build it in memory every time) |
| FRONTLINE_REVIEW_SECRET | `frontline serve` only: the secret that opens the trainer's review in the browser (off when unset) |

The environment is read when a value is asked for, not at import, so a test that sets a variable sees it.
Shipped content lives beside the package in a checkout and inside it once installed from a wheel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

VARIABLES = ("FRONTLINE_DB", "FRONTLINE_DATA_DIR", "FRONTLINE_DEVICE", "FRONTLINE_BACKEND", "FRONTLINE_THREADS",
             "FRONTLINE_SCORER", "FRONTLINE_REVIEW_SECRET", "FRONTLINE_SCORER_DIR", "FRONTLINE_SCORER_CACHE")


@dataclass(frozen=True)
class Settings:
    """The environment's settings, read once per call of `current()`."""

    db_url: str | None
    """FRONTLINE_DB, or None for the default SQLite file."""
    data_dir: Path
    device: str | None
    backend: str | None
    threads: int | None
    scorer: str | None = None
    """FRONTLINE_SCORER: the scoring service to score through, or None to load the model in this process."""
    review_secret: str | None = None
    """FRONTLINE_REVIEW_SECRET: opens the review in `frontline serve`; None keeps it closed."""
    scorer_dir: str | None = None
    """FRONTLINE_SCORER_DIR: a calibrated scorer folder (`frontline calibrate`) to score with; None: the shipped."""
    scorer_cache: Path | None = None
    """FRONTLINE_SCORER_CACHE: where the built encoder graph is cached (`scorer_cache_dir()`); None: not cached."""


def _text(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def current() -> Settings:
    threads = _text("FRONTLINE_THREADS") or _text("FRONTLINE_TORCH_THREADS")  # the older name still works
    return Settings(
        db_url=_text("FRONTLINE_DB"),
        data_dir=data_dir(),
        device=_text("FRONTLINE_DEVICE"),
        backend=(_text("FRONTLINE_BACKEND") or "").lower() or None,
        threads=int(threads) if threads and threads.isdigit() and int(threads) > 0 else None,
        scorer=_text("FRONTLINE_SCORER"),
        review_secret=_text("FRONTLINE_REVIEW_SECRET"),
        scorer_dir=_text("FRONTLINE_SCORER_DIR"),
        scorer_cache=scorer_cache_dir(),
    )


def child_environment(*, db_url: str | None = None, scorer: str | None = None) -> dict[str, str]:
    """The FRONTLINE_* variables a process started by `frontline serve` needs (added to its environment)."""
    values = {"FRONTLINE_DB": db_url, "FRONTLINE_SCORER": scorer, "FRONTLINE_DATA_DIR": str(data_dir())}
    return {name: value for name, value in values.items() if value}


def data_dir() -> Path:
    """FRONTLINE_DATA_DIR, else the platform's user data folder (`~/.local/share/frontline` on Linux)."""
    configured = _text("FRONTLINE_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("frontline"))


def scorer_cache_dir() -> Path | None:
    """FRONTLINE_SCORER_CACHE, else the platform's user cache folder + `scorer` (`~/.cache/frontline/scorer` on
    Linux); None when it is `off`. One folder whatever FRONTLINE_DATA_DIR says: what is cached there is derived
    from the installed model and adapter only, and is keyed by their digests."""
    configured = _text("FRONTLINE_SCORER_CACHE")
    if configured and configured.lower() in ("off", "none", "0", "false", "no"):
        return None
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("frontline")) / "scorer"


def default_sqlite_path() -> Path:
    return data_dir() / "frontline.db"


# -- shipped content -----------------------------------------------------------------------------------------


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
