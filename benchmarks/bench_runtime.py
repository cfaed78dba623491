"""Paired runtime benchmark: the hand-built ONNX graph (simulator/scoring/onnx_minilm.py) against the library
route (transformers' BertModel with the adapter merged, exported by torch.onnx.export, fused by
onnxruntime.transformers.optimizer with model_type "bert", 12 heads, hidden 384).

Both graphs take the same packed inputs (input_ids, the (rows, tokens, tokens) `allowed` mask, position_ids) and
give the hidden states of encoder.LAYERS; both run in ONNX Runtime with the same session options and thread
count, in one process, alternating on every call (this VM's speed drifts by more than the differences measured,
so only paired numbers are compared). Cold load and peak RSS are measured in fresh child processes, alternating,
each loading one graph (the library graph from its cached .onnx file) and scoring a batch. Both are float32:
the scorer then quantises its graph to int8 with ONNX Runtime's own quantiser, which either graph could take.

Run from the repository root:  .venv/bin/python benchmarks/bench_runtime.py  [--replies N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def export_library_graph(out: Path) -> dict[str, float]:
    """Export the merged BertModel with torch.onnx.export and fuse it with ONNX Runtime's transformer optimizer."""
    import collections

    import torch
    from onnxruntime.transformers import optimizer

    from simulator.scoring import minilm
    from simulator.scoring.adapter import load_adapter
    from simulator.scoring.encoder import LAYERS, model_dir

    class Packed(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, allowed, position_ids):
            hidden = minilm.packed_hidden_states(self.bert, input_ids, allowed, position_ids)
            return tuple(hidden[i] for i in LAYERS)

    times = {}
    start = time.perf_counter()
    bert = minilm.load(model_dir(), torch.device("cpu"), load_adapter()).bert
    bert.set_attn_implementation("eager")
    model = Packed(bert).eval()
    ids = torch.randint(1000, 2000, (2, 16))
    allowed = torch.ones(2, 16, 16, dtype=torch.bool)
    positions = torch.arange(16).repeat(2, 1)
    raw = out.with_suffix(".raw.onnx")
    axes = {"input_ids": {0: "rows", 1: "tokens"}, "allowed": {0: "rows", 1: "tokens", 2: "tokens"},
            "position_ids": {0: "rows", 1: "tokens"}, **{f"hidden_{i}": {0: "rows", 1: "tokens"} for i in LAYERS}}
    torch.onnx.export(model, (ids, allowed, positions), str(raw), input_names=["input_ids", "allowed", "position_ids"],
                      output_names=[f"hidden_{i}" for i in LAYERS], dynamic_axes=axes, opset_version=17,
                      dynamo=False)
    times["export_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    fused.save_model_to_file(str(out))
    raw.unlink()
    times["optimize_s"] = time.perf_counter() - start
    times["ops"] = dict(collections.Counter(n.op_type for n in fused.model.graph.node).most_common())
    return times


def session_options(threads: int):
    """The options onnx_minilm.OnnxMiniLM uses, so both graphs run alike."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3
    return options


class LibraryGraph:
    def __init__(self, path: Path, threads: int):
        import onnxruntime

        from simulator.scoring.encoder import LAYERS

        self._session = onnxruntime.InferenceSession(str(path), session_options(threads),
                                                     providers=["CPUExecutionProvider"])
        self._outputs = [f"hidden_{i}" for i in LAYERS]

    def __call__(self, input_ids, allowed, position_ids):
        return self._session.run(self._outputs, {"input_ids": input_ids, "allowed": allowed,
                                                 "position_ids": position_ids})


def hand_graph(threads: int):
    from simulator.scoring.adapter import load_adapter
    from simulator.scoring.encoder import LAYERS, model_dir
    from simulator.scoring.onnx_minilm import OnnxMiniLM

    # float32, as the library graph is: the int8 step the scorer adds (onnx_minilm.quantize_graph) is ONNX
    # Runtime's own quantiser and would apply to either graph alike
    return OnnxMiniLM(model_dir(), LAYERS, threads, load_adapter(), precision="float32")


def child(kind: str, path: str, threads: int) -> None:
    """One cold process: import, load one graph, encode a batch; print the times and peak RSS as JSON."""
    start = time.perf_counter()
    from simulator.scoring.encoder import model_dir
    from simulator.scoring.packing import load_tokenizer, pack

    graph = hand_graph(threads) if kind == "hand" else LibraryGraph(Path(path), threads)
    loaded = time.perf_counter() - start
    tokenizer = load_tokenizer(model_dir(), 256)
    texts = [f"I'll ring the car centre for you right now about order {i}." for i in range(32)]
    packed = pack([e.ids for e in tokenizer.encode_batch(texts)], 256)
    graph(packed.input_ids, packed.allowed, packed.position_ids)
    first = time.perf_counter() - start
    # VmHWM, not ru_maxrss: a child started by fork + exec reports its parent's peak in ru_maxrss
    status = Path("/proc/self/status").read_text()
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"load_s": loaded, "first_batch_s": first, "rss_mb": peak_kb / 1024}))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the replies, graphs alternating")
    parser.add_argument("--cold", type=int, default=3, help="cold child processes per graph")
    parser.add_argument("--threads", type=int, default=0, help="default: encoder.default_threads('onnx')")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    from simulator.scoring.encoder import default_threads

    threads = args.threads or default_threads("onnx")
    if args.child:
        child(args.child[0], args.child[1], threads)
        return 0

    from simulator.content.library import Library
    from simulator.scoring.data import default_data_files, load_examples
    from simulator.scoring.encoder import model_dir
    from simulator.scoring.model import reply_sentences
    from simulator.scoring.packing import load_tokenizer, pack

    work = Path(tempfile.mkdtemp(prefix="bench_runtime_"))
    path = work / "minilm-library.onnx"
    built = export_library_graph(path)
    fused = {op: n for op, n in built["ops"].items() if op in ("Attention", "SkipLayerNormalization", "BiasGelu",
                                                               "LayerNormalization", "Softmax", "MatMul")}
    print(f"library graph: export {built['export_s']:.1f} s, optimizer {built['optimize_s']:.1f} s; ops {fused}")

    rubric = Library().rubric("service")
    examples = load_examples(default_data_files(), rubric.criterion_ids)
    replies = [s for s in (reply_sentences(e.reply) for e in examples) if 1 <= len(s) <= 3][: args.replies]
    tokenizer = load_tokenizer(model_dir(), 256)
    graphs = {"hand": hand_graph(threads), "library": LibraryGraph(path, threads)}
    print(f"{threads} intra-op threads; {len(replies)} replies of 1–3 sentences (customer line cached: only "
          f"the reply's sentences are encoded), {args.rounds} rounds, graphs alternating on every call")

    def run(graph, texts):
        packed = pack([e.ids for e in tokenizer.encode_batch(texts)], 256)
        start = time.perf_counter()
        hidden = graph(packed.input_ids, packed.allowed, packed.position_ids)
        return (time.perf_counter() - start) * 1000, hidden

    for texts in replies[:10]:  # warm-up
        for graph in graphs.values():
            run(graph, texts)
    latency = {name: [] for name in graphs}
    difference = 0.0
    for round_ in range(args.rounds):
        for i, texts in enumerate(replies):
            names = list(graphs) if (i + round_) % 2 == 0 else list(graphs)[::-1]
            outputs = {}
            for name in names:
                elapsed, outputs[name] = run(graphs[name], texts)
                latency[name].append(elapsed)
            difference = max(difference, *(float(np.abs(a - b).max())
                                            for a, b in zip(outputs["hand"], outputs["library"])))
    ratio = np.array(latency["library"]) / np.array(latency["hand"])
    batch_texts = [t for texts in replies for t in texts][:64]
    throughput = {name: [] for name in graphs}
    for round_ in range(5):
        for name in (list(graphs) if round_ % 2 == 0 else list(graphs)[::-1]):
            for start in range(0, len(batch_texts), 32):
                elapsed, _ = run(graphs[name], batch_texts[start : start + 32])
                throughput[name].append(32 / elapsed * 1000)
    del graphs
    cold = {"hand": [], "library": []}
    for _ in range(args.cold):
        for name in cold:
            out = subprocess.run([sys.executable, __file__, "--child", name, str(path), "--threads", str(threads)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            cold[name].append(json.loads(out.stdout.strip().splitlines()[-1]))

    print("\n| | hand-built graph (onnx_minilm.py) | torch.onnx.export + ORT transformer optimizer |")
    print("|---|---|---|")
    for label, key in (("per reply, forward only, p50 (ms)", 50), ("per reply, forward only, p95 (ms)", 95)):
        print(f"| {label} | {percentile(latency['hand'], key):.2f} | {percentile(latency['library'], key):.2f} |")
    print(f"| paired time ratio library/hand, median (faster on) | 1 | {np.median(ratio):.3f} "
          f"(library faster on {np.mean(ratio < 1) * 100:.0f} % of calls) |")
    print(f"| throughput, batches of 32 sentences (texts/s, median) | {np.median(throughput['hand']):.0f} | "
          f"{np.median(throughput['library']):.0f} |")
    for label, key in (("cold: import + load (s, min–max)", "load_s"),
                       ("cold: import + load + first batch (s)", "first_batch_s"), ("peak RSS (MB)", "rss_mb")):
        cells = [f"{min(c[key] for c in cold[n]):.2f}–{max(c[key] for c in cold[n]):.2f}" for n in cold]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    print(f"| max abs difference of the hidden states (all replies, layers {list(range(0, 7, 3))}) | "
          f"{difference:.2e} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
