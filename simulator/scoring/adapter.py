"""The encoder adapter: low-rank (LoRA) updates to MiniLM's linear layers, learned from the labelled replies.

Frozen sentence embeddings miss some of what ownership and script-avoidance turn on ("I'll ring them" against
"you'll need to ring them"); a rank-8 update to each linear layer, trained with the heads and held close to the
base model's embeddings (so similarity to goals, red flags and model replies still means what it did), lets the
encoder notice it. At load time the update is merged into the weights (W + scale * B @ A), so scoring costs
exactly what the base model costs. The artefact is ~1.3 MB beside the heads, not a copy of the 90 MB model.

On disk it is a peft LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`, as
`PeftModel.save_pretrained` writes it and `PeftModel.from_pretrained` reads it) plus `frontline.json`, our
record of how it was trained and the digest the heads name. numpy and safetensors only, no torch: the training
side is `finetune.py` (transformers + peft).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from simulator import settings
from simulator.scoring.base import ScorerError

FORMAT = 2
"""frontline.json's format: 2 is the peft folder (1 was minilm-lora.npz + minilm-lora.json)."""
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
META_FILE = "frontline.json"
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
"""The linear layers of every encoder layer that get an update (each `encoder.layer.<i>.<target>.weight`); peft's
`target_modules` (it matches a module whose name ends with one of them)."""
_PEFT_PREFIX = "base_model.model."
# peft keys: base_model.model.<module>.lora_A.weight (A, (rank, in)) and ….lora_B.weight (B, (out, rank)).
_PEFT_SUFFIX = {".lora_A.weight": "down", ".lora_B.weight": "up"}
_FIX = "retrain it with `frontline train --adapt`, or delete the folder's files to use the base model"


def adapter_dir() -> Path:
    return settings.models_dir() / "adapter"


def artefact_paths(folder: Path | None = None) -> tuple[Path, Path, Path]:
    """(adapter_model.safetensors, adapter_config.json, frontline.json) in `folder` (default: the shipped one)."""
    folder = folder or adapter_dir()
    return folder / WEIGHTS_FILE, folder / CONFIG_FILE, folder / META_FILE


@dataclass
class Adapter:
    scale: float
    down: dict[str, np.ndarray]
    """weight name -> A, (rank, in)"""
    up: dict[str, np.ndarray]
    """weight name -> B, (out, rank)"""
    meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    """peft's adapter_config.json as peft wrote it (`finetune.py`), or None to write a minimal one."""

    @functools.cached_property
    def digest(self) -> str:
        """A short hash of the update itself: heads record it, to know which encoder they were fitted on.
        (Computed once: the scorer checks it on every reply.) The file format does not enter it."""
        h = hashlib.sha256(f"{self.scale:.8g}".encode())
        for name in sorted(self.down):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.down[name], dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(self.up[name], dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    @property
    def rank(self) -> int:
        return max(a.shape[0] for a in self.down.values())

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

    def peft_config(self) -> dict[str, Any]:
        """adapter_config.json: peft's own when training wrote one, else the fields a LoraConfig needs."""
        rank = self.rank
        config = dict(self.config) if self.config else {
            "peft_type": "LORA",
            "task_type": None,
            "target_modules": sorted({_target_of(name) for name in self.down}),
            "lora_dropout": 0.0,
            "bias": "none",
            "fan_in_fan_out": False,
            "use_rslora": False,
            "use_dora": False,
            "init_lora_weights": True,
            "inference_mode": True,
            "modules_to_save": None,
            "rank_pattern": {},
            "alpha_pattern": {},
        }
        # scale = lora_alpha / r, as peft computes it
        config.update({"base_model_name_or_path": BASE_MODEL, "r": rank, "lora_alpha": self.scale * rank})
        if isinstance(config.get("target_modules"), list):  # peft writes a set's order
            config["target_modules"] = sorted(config["target_modules"])
        if float(config["lora_alpha"]).is_integer():
            config["lora_alpha"] = int(config["lora_alpha"])
        return config


def _target_of(weight_name: str) -> str:
    module = weight_name.removesuffix(".weight")
    for target in TARGETS:
        if module.endswith("." + target):
            return target
    return module


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


def _write(path: Path, write) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.chmod(0o644)  # safetensors creates its file private
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def save_adapter(adapter: Adapter, folder: Path | None = None) -> tuple[Path, Path]:
    """Write `adapter` as a peft folder plus frontline.json; returns (weights file, frontline.json)."""
    from safetensors.numpy import save_file

    weights_path, config_path, meta_path = artefact_paths(folder)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for name in sorted(adapter.down):
        module = _PEFT_PREFIX + name.removesuffix(".weight")
        tensors[f"{module}.lora_A.weight"] = np.ascontiguousarray(adapter.down[name], dtype=np.float32)
        tensors[f"{module}.lora_B.weight"] = np.ascontiguousarray(adapter.up[name], dtype=np.float32)
    _write(weights_path, lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))
    config = json.dumps(adapter.peft_config(), indent=2, sort_keys=True) + "\n"
    _write(config_path, lambda p: p.write_text(config, encoding="utf-8"))
    meta = {**adapter.meta, "format": FORMAT, "scale": adapter.scale, "digest": adapter.digest}
    _write(meta_path, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"))
    return weights_path, meta_path


def _scale_of(config: dict[str, Any], where: Path) -> float:
    """lora_alpha / r (peft's scaling), after refusing what a plain merge W + scale * B @ A would get wrong."""
    unsupported = [key for key, ok in (
        ("peft_type", config.get("peft_type") == "LORA"),
        ("use_dora", not config.get("use_dora")),
        ("fan_in_fan_out", not config.get("fan_in_fan_out")),
        ("bias", config.get("bias", "none") == "none"),
        ("rank_pattern", not config.get("rank_pattern")),
        ("alpha_pattern", not config.get("alpha_pattern")),
        ("modules_to_save", not config.get("modules_to_save")),
    ) if not ok]
    if unsupported:
        raise ScorerError(f"encoder adapter {where} uses peft options this scorer cannot merge "
                          f"({', '.join(unsupported)}); {_FIX}")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    return alpha / (rank ** 0.5 if config.get("use_rslora") else rank)


def load_adapter(folder: Path | None = None) -> Adapter | None:
    """The adapter in `folder` (default: the shipped one), or None when there is none."""
    from safetensors.numpy import load_file

    weights_path, config_path, meta_path = artefact_paths(folder)
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if meta and meta.get("format") != FORMAT:
            raise ScorerError(f"encoder adapter {meta_path} has format {meta.get('format')}, expected {FORMAT}; {_FIX}")
        scale = _scale_of(config, config_path)
        tensors = load_file(str(weights_path))
    except ScorerError:
        raise
    except Exception as exc:  # JSON, a missing key, a damaged safetensors file
        raise ScorerError(f"encoder adapter {weights_path} cannot be read ({type(exc).__name__}: {exc}); {_FIX}") from exc
    down: dict[str, np.ndarray] = {}
    up: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        for suffix, side in _PEFT_SUFFIX.items():
            if key.startswith(_PEFT_PREFIX) and key.endswith(suffix):
                name = key[len(_PEFT_PREFIX) : -len(suffix)] + ".weight"
                (down if side == "down" else up)[name] = value.astype(np.float32, copy=False)
                break
        else:
            raise ScorerError(f"encoder adapter {weights_path} holds {key}, which is not a LoRA matrix; {_FIX}")
    if set(down) != set(up) or not down:
        raise ScorerError(f"encoder adapter {weights_path} is incomplete (A and B matrices do not pair up); {_FIX}")
    adapter = Adapter(scale=scale, down=down, up=up, meta=meta, config=config)
    if meta.get("digest") and meta["digest"] != adapter.digest:
        raise ScorerError(f"encoder adapter {weights_path} does not match {meta_path.name} (digest differs); {_FIX}")
    return adapter
