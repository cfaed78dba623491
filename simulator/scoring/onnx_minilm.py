"""The same BERT forward as `minilm.py`, written as an ONNX graph and run by ONNX Runtime on the CPU.

The graph is built in memory from the installed safetensors weights at load time (nothing is exported or
cached on disk), so the CPU path needs neither torch nor a second copy of the model. ONNX Runtime's GEMMs and
thread pool score a short reply two to three times faster than torch's eager CPU kernels on a 2-core machine
(see models/MODEL_CARD.md, "Speed"), and importing it takes ~0.3 s instead of ~1.9 s.
tests/test_minilm.py checks it gives torch's (and so transformers') hidden states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from simulator.scoring.adapter import Adapter
from simulator.scoring.packing import read_config

OPSET = 17
"""LayerNormalization is an ONNX operator from opset 17."""

MS = "com.microsoft"
"""ONNX Runtime's contributed operators: the fused attention, skip-LayerNorm and bias-GELU kernels."""


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
        # Declared with external data that add_external_initializers supplies from memory.
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(value.shape),
                             data_location=TensorProto.EXTERNAL)
        for key, text in (("location", "in-memory"), ("offset", "0"), ("length", str(value.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, text
        graph.initializer.append(tensor)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="frontline")
    model.ir_version = 8
    return model.SerializeToString(), arrays


class OnnxMiniLM:
    """Runs the graph; call with numpy arrays as from `packing.pack`, get the requested layers' hidden states."""

    def __init__(self, folder: Path, layers_out: Sequence[int], threads: int, adapter: Adapter | None = None):
        import onnxruntime
        from safetensors import safe_open

        config = read_config(folder)
        self.layers_out = tuple(layers_out)
        with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
            weights: Mapping[str, np.ndarray] = _LazyTensors(handle)
            if adapter is not None:
                weights = adapter.apply(weights)
            graph, arrays = build_graph(config, weights, self.layers_out)
        options = onnxruntime.SessionOptions()
        # The session reads these arrays in place: they must live as long as it does.
        self._weights = {name: onnxruntime.OrtValue.ortvalue_from_numpy(value) for name, value in arrays.items()}
        options.add_external_initializers(list(self._weights), list(self._weights.values()))
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Pool threads spin between the graph's parallel sections during a run (a short reply scored ~15 %
        # faster than with sleeping threads) but stop spinning when the run ends, so between replies they
        # leave the app's event loop alone.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self._outputs = [f"hidden_{i}" for i in self.layers_out]


    def __call__(self, input_ids: np.ndarray, allowed: np.ndarray, position_ids: np.ndarray) -> list[np.ndarray]:
        return self._session.run(
            self._outputs, {"input_ids": input_ids, "allowed": allowed, "position_ids": position_ids}
        )


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
