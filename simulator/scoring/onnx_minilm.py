"""The same BERT forward as `minilm.py`, written as an ONNX graph and run by ONNX Runtime on the CPU.

The graph is built from the installed safetensors weights (with the adapter merged) the first time, and kept
in the scorer cache folder (`settings.scorer_cache_dir()`): one file holding the serialised graph and its
weights, keyed by the weights' sha256, the adapter's digest, the ONNX Runtime version and GRAPH_FORMAT. Later
starts read that file and skip importing `onnx` (~1 s, mostly ml_dtypes), reading the safetensors and merging
the adapter; the session is then made exactly as after a build (the same graph bytes, the weights handed over
from memory), so it runs the same kernels at the same speed. A missing, stale or damaged cache file is built
again; a folder that cannot be written to means building in memory every time, as without a cache.
The CPU path needs neither torch nor a download. ONNX Runtime's GEMMs and thread pool score a short reply two
to three times faster than torch's eager CPU kernels on a 2-core machine (see models/MODEL_CARD.md, "Speed"),
and importing it takes ~0.3 s instead of ~1.9 s. tests/test_minilm.py checks it gives torch's (and so
transformers') hidden states.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
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

GRAPH_FORMAT = 3
"""Part of the cache key: bump it whenever `build_graph` or `quantize_graph` changes what it builds, so old cache
files go unused. (2: weights of any dtype in the cache file, for the int8 graph. 3: int8 weights in 7 bits.)"""
PRECISIONS = ("int8", "float32")
PRECISION = "int8"
"""What the scorer runs: the graph with its matrix weights quantised to int8 per output channel by ONNX Runtime's
own dynamic quantiser (`quantize_graph`). On the 2-core machine it scores a reply in about 60 % of the float
graph's time, and the heads are trained on what it gives (see models/MODEL_CARD.md, "int8 encoder"). "float32" is
the graph exactly as `build_graph` writes it: the tests compare it with torch."""
CACHE_KEEP = 4
"""Cached graphs kept in the folder (the most recently used): each is ~60 MB int8, ~90 MB float32; a retrained
adapter is a new one."""
_MAGIC = b"frontline-minilm"
_ALIGN = 4096
"""The graph and each weight start at a multiple of this in the cache file and in memory (a page)."""


def build_graph(
    config: dict, weights: Mapping[str, np.ndarray], layers_out: Sequence[int]
) -> tuple[bytes, dict[str, np.ndarray]]:
    """A serialised ONNX model and its weights, kept apart. config as from `packing.read_config`.

    The model's inputs are input_ids (b, t) int64, allowed (b, t, t) bool (a token may attend to another),
    position_ids (b, t) int64, and every weight; it has one output hidden_<i> (b, t, hidden) for each i in
    `layers_out` (0 = after the embeddings, i = after encoder layer i). The weights go to the session as
    initializers that share the arrays' memory, so the 90 MB are never copied into a protobuf.
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
        graph.initializer.append(_external_tensor(name, value, TensorProto.FLOAT))
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="frontline")
    model.ir_version = 8
    return model.SerializeToString(), arrays


def quantize_graph(graph: bytes, arrays: Mapping[str, np.ndarray]) -> tuple[bytes, dict[str, np.ndarray]]:
    """`build_graph`'s model with the weights of its MatMul and Attention nodes quantised to int8, per output
    channel, by ONNX Runtime's dynamic quantiser (activations are quantised at run time, per call); the same
    (graph, weights) split as `build_graph`, the weights now of several dtypes.

    Per-channel scales matter here: one scale per matrix moved a reply's pooled embedding to cosine 0.96 of the
    float one, per channel to 0.99 (paired, 300 held-out replies).

    The weights use 7 of their 8 bits (`reduce_range`): ONNX Runtime multiplies uint8 activations by int8
    weights with VPMADDUBSW on x86 CPUs without VNNI, which adds two products into a 16-bit lane and saturates
    when both are large, while CPUs with VNNI add them exactly. With full-range weights the same reply scored
    differently on the two kinds of CPU (the heads fitted on an AVX2 machine moved a scenario's ending on an
    AVX-512 VNNI one); with 7-bit weights a pair of products stays under the lane's limit (2 x 255 x 64 <
    32,768), so every x86 CPU computes the same integers and a team's machines agree."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load_from_string(graph)
    inline = [t for t in model.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inline)
    model.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in arrays.items())
    with tempfile.TemporaryDirectory(prefix="frontline-int8-") as folder, _root_logging_silenced():
        target = Path(folder) / "int8.onnx"
        quantize_dynamic(model, target, op_types_to_quantize=["MatMul", "Attention"], per_channel=True,
                         weight_type=QuantType.QInt8, reduce_range=True,
                         # the fused com.microsoft nodes have no inferred output types; their outputs are float
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        quantized = onnx.load(str(target))
    return _external_weights(quantized)


@contextlib.contextmanager
def _root_logging_silenced():
    """The quantiser warns through `logging.warning`, which, on a root logger without handlers, installs one
    that writes to stderr for the rest of the process: in the app that would print over the screen. A handler
    that drops everything is there while it runs, and records are off."""
    import logging

    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        root.removeHandler(guard)


def _external_weights(model) -> tuple[bytes, dict[str, np.ndarray]]:
    """The model serialised with its large initializers declared external (supplied from memory to the
    session, as `build_graph` does) and those initializers as arrays."""
    from onnx import helper, numpy_helper

    arrays: dict[str, np.ndarray] = {}
    kept = []
    for tensor in model.graph.initializer:
        value = numpy_helper.to_array(tensor)
        if value.size > 1 and value.dtype in (np.float32, np.int8, np.uint8, np.int32):
            arrays[tensor.name] = np.ascontiguousarray(value)
            kept.append(_external_tensor(tensor.name, arrays[tensor.name],
                                         helper.np_dtype_to_tensor_dtype(value.dtype)))
        else:
            kept.append(tensor)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model.SerializeToString(), arrays


def _external_tensor(name: str, value: np.ndarray, data_type: int):
    """An initializer declared with external data that `add_external_initializers` supplies from memory."""
    from onnx import TensorProto

    tensor = TensorProto(name=name, data_type=data_type, dims=list(value.shape), data_location=TensorProto.EXTERNAL)
    for key, text in (("location", "in-memory"), ("offset", "0"), ("length", str(value.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, text
    return tensor


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
        precision: str = PRECISION,
    ):
        """cache_dir: where the built graph is kept (None: build in memory, cache nothing); weights_sha256: the
        verified sha256 of folder's model.safetensors, the cache key's part for the base weights (None: no cache);
        precision: one of PRECISIONS.
        """
        import onnxruntime

        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        self.precision = precision

        config = read_config(folder)
        self.layers_out = tuple(layers_out)
        self.cache_file: Path | None = None
        """The cache file the graph was read from or written to; None when it was built in memory only."""
        self.cache_status = "off"
        """How the graph was got: "loaded" (from the cache), "stored" (built, then cached), "off" (no cache
        asked for) or "unwritable: …" (built in memory; the cache folder could not be written to)."""
        self._threads = threads
        self._outputs = [f"hidden_{i}" for i in self.layers_out]
        cache_file, key = None, ""
        if cache_dir is not None and weights_sha256:
            key = cache_key(config, weights_sha256, adapter, self.layers_out, onnxruntime.__version__, precision)
            cache_file = Path(cache_dir) / f"minilm-{key}.graph"
            found = _load(cache_file, key)
            if found is not None:
                try:
                    self._start(*found)
                    self.cache_file, self.cache_status = cache_file, "loaded"
                    return
                except Exception:  # whole, but ONNX Runtime refuses it: build it again
                    pass
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
            weights: Mapping[str, np.ndarray] = _LazyTensors(handle)
            if adapter is not None:
                weights = adapter.apply(weights)
            graph, arrays = build_graph(config, weights, self.layers_out)
        if precision == "int8":
            graph, arrays = quantize_graph(graph, arrays)
        if cache_file is not None:
            try:
                _store(cache_file, key, graph, arrays)
                self.cache_file, self.cache_status = cache_file, "stored"
            except Exception as exc:  # not writable, disk full, …: built in memory, as without a cache
                self.cache_status = f"unwritable: {type(exc).__name__}: {exc}"
        self._start(graph, arrays)

    def _start(self, graph: bytes, arrays: Mapping[str, np.ndarray]) -> None:
        """The session: the same whether the graph was just built or read from the cache."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # The session reads these arrays in place: they must live as long as it does.
        self._weights = {name: onnxruntime.OrtValue.ortvalue_from_numpy(value) for name, value in arrays.items()}
        options.add_external_initializers(list(self._weights), list(self._weights.values()))
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Pool threads spin between the graph's parallel sections during a run (a short reply scored ~15 %
        # faster than with sleeping threads) but stop spinning when the run ends, so between replies they
        # leave the app's event loop alone.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, allowed: np.ndarray, position_ids: np.ndarray) -> list[np.ndarray]:
        return self._session.run(
            self._outputs, {"input_ids": input_ids, "allowed": allowed, "position_ids": position_ids}
        )


# -- the cache ---------------------------------------------------------------------------------------------------
# One file per key: _MAGIC, the header's length (8 bytes, little-endian), the header (JSON: key, sizes, each
# weight's name, shape and offset, and the CRC-32 of everything after it), then, from a page boundary on, the
# serialised graph and the float32 weights, each page-aligned. Read whole into one page-aligned buffer: the
# weights are views of it, handed to the session like freshly built ones. (ONNX Runtime can also map a model's
# weights file itself, which saved ~100 MB of RSS but ran a reply 4-9 % slower, paired; see MODEL_CARD.md.)


def cache_key(config: dict, weights_sha256: str, adapter: Adapter | None, layers_out: Sequence[int],
              runtime_version: str, precision: str = PRECISION) -> str:
    """What the cached graph depends on, hashed: the base weights, the adapter, the model's config, the layers
    given out, the ONNX Runtime version (it quantises, too), the precision and how the graph is built
    (GRAPH_FORMAT)."""
    parts = {
        "format": GRAPH_FORMAT,
        "precision": precision,
        "weights": weights_sha256,
        "adapter": adapter.digest if adapter is not None else None,
        "config": config,
        "layers": list(layers_out),
        "onnxruntime": runtime_version,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _load(path: Path, key: str) -> tuple[bytes, dict[str, np.ndarray]] | None:
    """(graph, weights) from the cache file, or None when there is none, or it is for another key, or damaged."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_MAGIC)) != _MAGIC:
                return None
            header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
            body = int(header["body"])
            size = os.fstat(fh.fileno()).st_size - body
            if header.get("key") != key or size != int(header["size"]):
                return None
            raw = np.empty(size + _ALIGN, dtype=np.uint8)
            start = -raw.ctypes.data % _ALIGN
            buffer = raw[start : start + size]
            fh.seek(body)
            if fh.readinto(memoryview(buffer)) != size or zlib.crc32(buffer) != int(header["crc32"]):
                return None
        graph_start, graph_end = header["graph"]
        graph = buffer[graph_start:graph_end].tobytes()
        arrays = {}
        for name, shape, offset, dtype_name in header["weights"]:
            dtype = np.dtype(dtype_name)
            arrays[name] = buffer[offset : offset + dtype.itemsize * int(np.prod(shape))].view(dtype).reshape(shape)
    except (OSError, ValueError, KeyError, TypeError):  # unreadable, truncated, not ours: build it again
        return None
    try:
        os.utime(path)  # recently used: pruning keeps it
    except OSError:
        pass
    return graph, arrays


def _store(path: Path, key: str, graph: bytes, arrays: Mapping[str, np.ndarray]) -> None:
    """Write the cache file through a temporary file and a rename, so a reader never sees half a file (and
    processes storing at once each rename a whole one). Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks: list[Any] = [graph]
    weights = []
    end = len(graph)
    for name, value in arrays.items():
        offset = _aligned(end)
        chunks += [bytes(offset - end), memoryview(np.ascontiguousarray(value)).cast("B")]
        weights.append([name, list(value.shape), offset, value.dtype.str])
        end = offset + value.nbytes
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    header: dict[str, Any] = {"key": key, "format": GRAPH_FORMAT, "size": end, "crc32": crc,
                              "graph": [0, len(graph)], "weights": weights}
    header["body"] = _aligned(len(_MAGIC) + 8 + len(json.dumps(header)) + 64)  # 64: room for "body" itself
    text = json.dumps(header).encode()
    head = _MAGIC + len(text).to_bytes(8, "little") + text
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as fh:
            fh.write(head + bytes(header["body"] - len(head)))
            for chunk in chunks:
                fh.write(chunk)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Delete all but the CACHE_KEEP most recently used cache files, and temporary files a killed writer left."""
    for stale in sorted(folder.glob("minilm-*.graph"), key=_mtime, reverse=True)[CACHE_KEEP:]:
        try:
            stale.unlink()  # a process that read it has its own copy
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
