"""The encoder adapter: low-rank (LoRA) updates to MiniLM's linear layers, learned from the labelled replies.

Frozen sentence embeddings miss some of what ownership and script-avoidance turn on ("I'll ring them" against
"you'll need to ring them"); a rank-8 update to each linear layer, trained with the heads and held close to the
base model's embeddings (so similarity to goals, red flags and model replies still means what it did), lets the
encoder notice it. At load time the update is merged into the weights (W + scale * B @ A), so scoring costs
exactly what the base model costs. The artefact is ~1.3 MB beside the heads, not a copy of the 90 MB model.
numpy only: the training side is `finetune.py`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from simulator import settings
from simulator.scoring.base import ScorerError

FORMAT = 1
NAME = "minilm-lora"
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
"""The linear layers of every encoder layer that get an update (each `encoder.layer.<i>.<target>.weight`)."""


def adapter_dir() -> Path:
    return settings.models_dir() / "adapter"


def artefact_paths(folder: Path | None = None) -> tuple[Path, Path]:
    folder = folder or adapter_dir()
    return folder / f"{NAME}.npz", folder / f"{NAME}.json"


@dataclass
class Adapter:
    scale: float
    down: dict[str, np.ndarray]
    """weight name -> A, (rank, in)"""
    up: dict[str, np.ndarray]
    """weight name -> B, (out, rank)"""
    meta: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def digest(self) -> str:
        """A short hash of the update itself: heads record it, to know which encoder they were fitted on.
        (Computed once: the scorer checks it on every reply.)"""
        h = hashlib.sha256(f"{self.scale:.8g}".encode())
        for name in sorted(self.down):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.down[name], dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(self.up[name], dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def merged(self, name: str, weight: np.ndarray) -> np.ndarray:
        """`weight` with this adapter's update added when it has one for `name`."""
        if name not in self.down:
            return weight
        update = self.scale * (self.up[name].astype(np.float32) @ self.down[name].astype(np.float32))
        if update.shape != weight.shape:
            raise ScorerError(f"encoder adapter: update for {name} is {update.shape}, the weight is {weight.shape}")
        return (weight.astype(np.float32) + update).astype(np.float32)

    def apply(self, weights: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """A view of `weights` (read one at a time) with the updates merged in."""
        return _Merged(weights, self)


class _Merged(Mapping[str, np.ndarray]):
    def __init__(self, weights: Mapping[str, np.ndarray], adapter: Adapter):
        self._weights = weights
        self._adapter = adapter

    def __getitem__(self, name: str) -> np.ndarray:
        return self._adapter.merged(name, self._weights[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._weights)

    def __len__(self) -> int:
        return len(self._weights)


def save_adapter(adapter: Adapter, folder: Path | None = None) -> tuple[Path, Path]:
    npz_path, json_path = artefact_paths(folder)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{name}.A": a.astype(np.float32) for name, a in adapter.down.items()}
    arrays.update({f"{name}.B": b.astype(np.float32) for name, b in adapter.up.items()})
    tmp = npz_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(npz_path)
    meta = {**adapter.meta, "format": FORMAT, "scale": adapter.scale, "digest": adapter.digest}
    json_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return npz_path, json_path


def load_adapter(folder: Path | None = None) -> Adapter | None:
    """The adapter in `folder` (default: the shipped one), or None when there is none."""
    npz_path, json_path = artefact_paths(folder)
    if not json_path.is_file():
        return None
    fix = "retrain it with `frontline train --adapt`, or delete both files to use the base model"
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ScorerError(f"encoder adapter {json_path} has format {meta.get('format')}, expected {FORMAT}; {fix}")
        with np.load(npz_path) as arrays:
            down = {key[:-2]: arrays[key] for key in arrays.files if key.endswith(".A")}
            up = {key[:-2]: arrays[key] for key in arrays.files if key.endswith(".B")}
    except ScorerError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ScorerError(f"encoder adapter {npz_path} cannot be read ({exc}); {fix}") from exc
    if set(down) != set(up) or not down:
        raise ScorerError(f"encoder adapter {npz_path} is incomplete (A and B matrices do not pair up); {fix}")
    adapter = Adapter(scale=float(meta["scale"]), down=down, up=up, meta=meta)
    if meta.get("digest") and meta["digest"] != adapter.digest:
        raise ScorerError(f"encoder adapter {npz_path} does not match {json_path.name} (digest differs); {fix}")
    return adapter
