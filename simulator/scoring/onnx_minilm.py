"""The same BERT forward as `minilm.py`, written as an ONNX graph and run by ONNX Runtime on the CPU.

The graph is built from the installed safetensors weights (with the adapter merged) the first time, and kept
in the scorer cache folder (`settings.scorer_cache_dir()`: a small .onnx file and its weights beside it, keyed
by the weights' sha256, the adapter's digest, the ONNX Runtime version and GRAPH_FORMAT); later starts hand
that file to ONNX Runtime and skip importing `onnx` (~1 s, mostly ml_dtypes), reading the safetensors and
merging the adapter. A missing, stale or damaged cache file is rebuilt; a folder that cannot be written to just
means building in memory every time, as without a cache. The CPU path needs neither torch nor a download.
ONNX Runtime's GEMMs and thread pool score a short reply two to three times faster than torch's eager CPU
kernels on a 2-core machine (see models/MODEL_CARD.md, "Speed"), and importing it takes ~0.3 s instead of
~1.9 s. tests/test_minilm.py checks it gives torch's (and so transformers') hidden states.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from simulator.scoring.adapter import Adapter
from simulator.scoring.packing import read_config

OPSET = 17
"""LayerNormalization is an ONNX operator from opset 17."""

MS = "com.microsoft"
"""ONNX Runtime's contributed operators: the fused attention, skip-LayerNorm and bias-GELU kernels."""

GRAPH_FORMAT = 1
"""Part of the cache key: bump it whenever `build_graph` changes what it builds, so old cache files go unused."""
CACHE_KEEP = 4
"""Cached graphs kept in the folder (the most recently used): each is ~90 MB; a retrained adapter is a new one."""
_ALIGN = 4096
"""Each weight starts at a multiple of this in the cached weights file (a page: it can be mapped in place)."""
_META = "frontline."
"""Prefix of the cached model's metadata entries (its cache key, and the size and CRC-32 of its weights file)."""


def build_graph(
    config: dict, weights: Mapping[str, np.ndarray], layers_out: Sequence[int]
) -> tuple[bytes, dict[str, np.ndarray]]:
    """A serialised ONNX model and its weights, kept apart: `build_model`'s, with the weights declared as
    external data "in-memory" that `SessionOptions.add_external_initializers` supplies."""
    model, arrays = build_model(config, weights, layers_out)
    _declare_external(model, arrays, "in-memory", dict.fromkeys(arrays, 0))
    return model.SerializeToString(), arrays


def build_model(
    config: dict, weights: Mapping[str, np.ndarray], layers_out: Sequence[int]
) -> tuple[Any, dict[str, np.ndarray]]:
    """An ONNX ModelProto and its weights, kept apart. config as from `packing.read_config`.

    The model's inputs are input_ids (b, t) int64, allowed (b, t, t) bool (a token may attend to another),
    position_ids (b, t) int64, and every weight; it has one output hidden_<i> (b, t, hidden) for each i in
    `layers_out` (0 = after the embeddings, i = after encoder layer i). The weights are declared as external
    data (`_declare_external` says where: in memory, as initializers that share the arrays' memory, or a file
    beside the cached model), so the 90 MB are never copied into a protobuf.
    `weights` is read one tensor at a time (a safetensors handle does not load them all).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    n_layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    if any(not 0 <= i <= n_layers for i in layers_out):
        raise ValueError(f"layers {list(layers_out)} outside 0..{n_layers}")

    arrays: dict[str, np.ndarray] = {}
    small: list[TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    counter = iter(range(1_000_000))

    def const(name: str, value: np.ndarray) -> str:
        if value.dtype == np.float32 and value.size > 1:
            arrays[name] = np.ascontiguousarray(value)
        else:
            small.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], domain: str = "", **attrs) -> str:
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], domain=domain or None, **attrs))
        return out

    def weight(name: str) -> str:
        return const(name, weights[name].astype(np.float32))

    def matmul(x: str, prefix: str) -> str:
        # torch keeps (out, in); MatMul wants (in, out). The bias is added by the fused node that follows.
        return node("MatMul", [x, const(f"{prefix}.weight.T", weights[f"{prefix}.weight"].astype(np.float32).T)])

    def skip_norm(x: str, residual: str, prefix: str) -> str:
        """LayerNorm(x + bias + residual)."""
        return node("SkipLayerNormalization", [x, residual, weight(f"{prefix}.LayerNorm.weight"),
                    weight(f"{prefix}.LayerNorm.bias"), weight(f"{prefix}.dense.bias")], domain=MS, epsilon=eps)

    def norm(x: str, prefix: str) -> str:
        return node("LayerNormalization", [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")], axis=-1,
                    epsilon=eps)

    x = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"])
    x = node("Add", [x, node("Gather", [weight("embeddings.position_embeddings.weight"), "position_ids"])])
    x = node("Add", [x, const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))])
    x = norm(x, "embeddings.LayerNorm")
    states = {0: x}

    # ONNX Runtime's own fused kernels (the com.microsoft domain): one GEMM for query, key and value and one
    # attention kernel that takes the (b, t, t) mask as it is; residual + bias + LayerNorm in one pass; the
    # bias add and exact (erf) GELU in one pass.
    mask = node("Cast", ["allowed"], to=TensorProto.INT32)
    for i in range(n_layers):
        p = f"encoder.layer.{i}"
        parts = [f"{p}.attention.self.{part}" for part in ("query", "key", "value")]
        qkv_weight = const(f"{p}.qkv.weight.T",
                           np.concatenate([weights[f"{n}.weight"].astype(np.float32).T for n in parts], axis=1))
        qkv_bias = const(f"{p}.qkv.bias", np.concatenate([weights[f"{n}.bias"].astype(np.float32) for n in parts]))
        attended = node("Attention", [x, qkv_weight, qkv_bias, mask], domain=MS, num_heads=heads)
        x = skip_norm(matmul(attended, f"{p}.attention.output.dense"), x, f"{p}.attention.output")
        inner = node("BiasGelu", [matmul(x, f"{p}.intermediate.dense"), weight(f"{p}.intermediate.dense.bias")],
                     domain=MS)
        x = skip_norm(matmul(inner, f"{p}.output.dense"), x, f"{p}.output")
        states[i + 1] = x

    outputs = []
    for i in layers_out:
        name = f"hidden_{i}"
        nodes.append(helper.make_node("Identity", [states[i]], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "tokens", hidden]))
    graph = helper.make_graph(
        nodes,
        "minilm",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("allowed", TensorProto.BOOL, ["batch", "tokens", "tokens"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs,
        small,
    )
    for name, value in arrays.items():
        # Declared as external data; where it lives is filled in by `_declare_external`.
        graph.initializer.append(TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(value.shape),
                                             data_location=TensorProto.EXTERNAL))
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="frontline")
    model.ir_version = 8
    return model, arrays


def _declare_external(model: Any, arrays: Mapping[str, np.ndarray], location: str, offsets: Mapping[str, int]) -> None:
    """Point each of the model's external initializers at `location` (a file beside the model, or "in-memory")."""
    for tensor in model.graph.initializer:
        if tensor.name in arrays:
            del tensor.external_data[:]
            values = (("location", location), ("offset", str(offsets[tensor.name])),
                      ("length", str(arrays[tensor.name].nbytes)))
            for key, text in values:
                entry = tensor.external_data.add()
                entry.key, entry.value = key, text


def _layout(arrays: Mapping[str, np.ndarray]) -> tuple[dict[str, int], int]:
    """Each array's offset in the weights file (page-aligned, in order) and the file's size."""
    offsets: dict[str, int] = {}
    end = 0
    for name, value in arrays.items():
        offsets[name] = -(-end // _ALIGN) * _ALIGN
        end = offsets[name] + value.nbytes
    return offsets, end


class OnnxMiniLM:
    """Runs the graph; call with numpy arrays as from `packing.pack`, get the requested layers' hidden states."""

    def __init__(
        self,
        folder: Path,
        layers_out: Sequence[int],
        threads: int,
        adapter: Adapter | None = None,
        *,
        cache_dir: Path | None = None,
        weights_sha256: str | None = None,
    ):
        """cache_dir: where the built graph is kept (None: build in memory, cache nothing); weights_sha256: the
        verified sha256 of folder's model.safetensors, the cache key's part for the base weights (None: no cache).
        """
        import onnxruntime

        config = read_config(folder)
        self.layers_out = tuple(layers_out)
        self._threads = threads
        self._outputs = [f"hidden_{i}" for i in self.layers_out]
        self._weights: dict[str, Any] = {}
        self.cache_file: Path | None = None
        """The cached graph this session runs, or None when it was built in memory and not stored."""
        self.cache_status = "off"
        """How the graph was got: "loaded" (from the cache), "stored" (built, then cached), "off" (no cache
        asked for) or "unwritable: …" (built in memory; the cache folder could not be written to)."""
        key = None
        if cache_dir is not None and weights_sha256:
            key = cache_key(config, weights_sha256, adapter, self.layers_out, onnxruntime.__version__)
            self._session = self._load_cached(Path(cache_dir) / f"minilm-{key}.onnx", key)
            if self._session is not None:
                self.cache_status = "loaded"
                return
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
            weights: Mapping[str, np.ndarray] = _LazyTensors(handle)
            if adapter is not None:
                weights = adapter.apply(weights)
            model, arrays = build_model(config, weights, self.layers_out)
        if key is not None:
            try:
                self.cache_file = _store(Path(cache_dir), key, model, arrays)  # type: ignore[arg-type]
                self.cache_status = "stored"
            except Exception as exc:  # not writable, disk full, …: build in memory as without a cache
                self.cache_status = f"unwritable: {type(exc).__name__}: {exc}"
        _declare_external(model, arrays, "in-memory", dict.fromkeys(arrays, 0))
        options = self._options()
        # The session reads these arrays in place: they must live as long as it does.
        self._weights = {name: onnxruntime.OrtValue.ortvalue_from_numpy(value) for name, value in arrays.items()}
        options.add_external_initializers(list(self._weights), list(self._weights.values()))
        self._session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                     providers=["CPUExecutionProvider"])

    def _options(self) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # The cached file is the graph as built, not ORT's optimised one, so both routes are optimised alike at
        # session start (the same fused kernels run); optimising costs ~0.05 s of the ~0.15 s a session start takes.
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Pool threads spin between the graph's parallel sections during a run (a short reply scored ~15 %
        # faster than with sleeping threads) but stop spinning when the run ends, so between replies they
        # leave the app's event loop alone.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        return options

    def _load_cached(self, graph_file: Path, key: str) -> Any:
        """A session on the cached graph, or None when there is none or it is stale or damaged."""
        import onnxruntime

        if not graph_file.is_file():
            return None
        try:
            session = onnxruntime.InferenceSession(str(graph_file), self._options(), providers=["CPUExecutionProvider"])
            meta = session.get_modelmeta().custom_metadata_map
            data_file = graph_file.with_suffix(".bin")
            if meta.get(_META + "key") != key or meta.get(_META + "data") != data_file.name:
                return None
            if _crc32(data_file, int(meta[_META + "bytes"])) != int(meta[_META + "crc32"]):
                return None
        except Exception:  # unreadable, truncated, not ONNX, metadata missing: build it again
            return None
        try:
            os.utime(graph_file)  # recently used: pruning keeps it
        except OSError:
            pass
        self.cache_file = graph_file
        return session

    def __call__(self, input_ids: np.ndarray, allowed: np.ndarray, position_ids: np.ndarray) -> list[np.ndarray]:
        return self._session.run(
            self._outputs, {"input_ids": input_ids, "allowed": allowed, "position_ids": position_ids}
        )


def cache_key(config: dict, weights_sha256: str, adapter: Adapter | None, layers_out: Sequence[int],
              runtime_version: str) -> str:
    """What the cached graph depends on, hashed: the base weights, the adapter, the model's config, the layers
    given out, the ONNX Runtime version and how `build_graph` builds (GRAPH_FORMAT)."""
    parts = {
        "format": GRAPH_FORMAT,
        "weights": weights_sha256,
        "adapter": adapter.digest if adapter is not None else None,
        "config": config,
        "layers": list(layers_out),
        "onnxruntime": runtime_version,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _crc32(path: Path, size: int) -> int:
    """The CRC-32 of a file of `size` bytes (mapped, not read into memory); -1 when it is another size."""
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size != size:
            return -1
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return zlib.crc32(view)


def _store(folder: Path, key: str, model: Any, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write the graph (minilm-<key>.onnx) and its weights (minilm-<key>.bin) into `folder`, each through a
    temporary file and a rename, so a reader never sees half a file; the graph, written last, records the
    weights file's size and CRC-32, which a reader checks. Returns the graph's path. Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True)
    graph_file = folder / f"minilm-{key}.onnx"
    data_file = graph_file.with_suffix(".bin")
    offsets, size = _layout(arrays)
    crc = 0
    with _atomic(data_file) as fh:
        for name, value in arrays.items():
            gap = offsets[name] - fh.tell()
            if gap:
                padding = bytes(gap)
                fh.write(padding)
                crc = zlib.crc32(padding, crc)
            data = memoryview(np.ascontiguousarray(value)).cast("B")
            fh.write(data)
            crc = zlib.crc32(data, crc)
    stored = model.__class__()
    stored.CopyFrom(model)
    _declare_external(stored, arrays, data_file.name, offsets)
    for name, value in (("key", key), ("data", data_file.name), ("bytes", str(size)), ("crc32", str(crc))):
        entry = stored.metadata_props.add()
        entry.key, entry.value = _META + name, value
    with _atomic(graph_file) as fh:
        fh.write(stored.SerializeToString())
    _prune(folder)
    return graph_file


class _atomic:
    """A binary file written under a temporary name in the same folder and renamed into place on success."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        handle, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self.fh = os.fdopen(handle, "wb")
        return self.fh

    def __exit__(self, kind, value, traceback) -> None:
        try:
            self.fh.close()
            if kind is None:
                os.chmod(self.tmp, 0o644)  # mkstemp makes it private
                os.replace(self.tmp, self.path)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def _prune(folder: Path) -> None:
    """Delete all but the CACHE_KEEP most recently used graphs, and temporary files a killed writer left."""
    graphs = sorted(folder.glob("minilm-*.onnx"), key=_mtime, reverse=True)
    for graph in graphs[CACHE_KEEP:]:
        for path in (graph, graph.with_suffix(".bin")):
            try:
                path.unlink()  # a process running it keeps its copy or mapping
            except OSError:
                pass
    for tmp in folder.glob(".minilm-*.tmp"):
        if time.time() - _mtime(tmp) > 3600:
            try:
                tmp.unlink()
            except OSError:
                pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class _LazyTensors(Mapping[str, np.ndarray]):
    """A safetensors file as a mapping that loads a tensor when it is asked for."""

    def __init__(self, handle):
        self._handle = handle

    def __getitem__(self, name: str) -> np.ndarray:
        return self._handle.get_tensor(name)

    def __iter__(self):
        return iter(self._handle.keys())

    def __len__(self) -> int:
        return len(self._handle.keys())
