"""The CPU scorer's graph cache (`onnx_minilm.py`): a later start loads the graph the first one built and gets the
same hidden states; a damaged or stale cache file is built again, never fatal; FRONTLINE_SCORER_CACHE says
where the cache is (or `off`), whatever the data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from simulator import settings
from simulator.scoring.packing import load_tokenizer, pack

TEXTS = ["I'm so sorry about that.", "Let me ring the car centre for you right now.", "Ok", "tyre " * 400]


def _inputs():
    from simulator.scoring.encoder import model_dir

    tokenizer = load_tokenizer(model_dir(), 256)
    packed = pack([e.ids for e in tokenizer.encode_batch(TEXTS)], 256)
    return packed.input_ids, packed.allowed, packed.position_ids


def _graph(cache_dir: Path | None):
    from simulator.scoring.adapter import load_adapter
    from simulator.scoring.encoder import LAYERS, WEIGHTS_SHA256, model_dir
    from simulator.scoring.onnx_minilm import OnnxMiniLM

    return OnnxMiniLM(model_dir(), LAYERS, 1, load_adapter(), cache_dir=cache_dir, weights_sha256=WEIGHTS_SHA256)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache folder the graph was built into, and the hidden states of the graph built in memory."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("scorer-cache")
    graph = _graph(folder)
    assert graph.cache_status == "stored"
    assert graph.cache_file is not None and graph.cache_file.parent == folder
    return folder, graph(*_inputs())


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":  # same size, a few weights changed
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 3]))
    elif how == "header":
        path.write_bytes(bytes(data[:40]) + b"}{" + bytes(data[42:]))
    else:
        path.write_bytes(b"not a cached graph")


@pytest.mark.model
def test_cached_graph_gives_the_hidden_states_of_the_graph_built_in_memory(built):
    folder, reference = built
    cached = _graph(folder)
    assert cached.cache_status == "loaded"
    in_memory = _graph(None)
    assert in_memory.cache_status == "off" and in_memory.cache_file is None
    inputs = _inputs()
    for built_states, cached_states, memory_states in zip(reference, cached(*inputs), in_memory(*inputs)):
        assert np.abs(cached_states - built_states).max() < 1e-5
        assert np.abs(memory_states - built_states).max() < 1e-5


@pytest.mark.model
@pytest.mark.parametrize("how", ["flip", "truncate", "header", "garbage"])
def test_a_damaged_cache_file_is_built_again(built, tmp_path, how):
    folder, reference = built
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    (cache_file,) = tmp_path.glob("minilm-*.graph")
    _damage(cache_file, how)

    rebuilt = _graph(tmp_path)
    assert rebuilt.cache_status == "stored"
    for expected, got in zip(reference, rebuilt(*_inputs())):
        assert np.abs(got - expected).max() < 1e-5
    assert _graph(tmp_path).cache_status == "loaded"  # and the rewritten files are whole again
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.model
def test_a_cache_for_other_weights_is_not_used(built, tmp_path):
    """The key covers the adapter: another adapter (or none) is another file, not the cached one."""
    from simulator.scoring.encoder import LAYERS, WEIGHTS_SHA256, model_dir
    from simulator.scoring.onnx_minilm import OnnxMiniLM

    folder, _ = built
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    base = OnnxMiniLM(model_dir(), LAYERS, 1, None, cache_dir=tmp_path, weights_sha256=WEIGHTS_SHA256)
    assert base.cache_status == "stored"
    assert len(list(tmp_path.glob("minilm-*.graph"))) == 2


@pytest.mark.model
def test_frontline_scorer_cache_is_honoured(built, tmp_path, monkeypatch):
    from simulator.scoring.encoder import Encoder

    cache = tmp_path / "my-cache"
    monkeypatch.setenv("FRONTLINE_SCORER_CACHE", str(cache))
    monkeypatch.setenv("FRONTLINE_BACKEND", "onnx")
    monkeypatch.delenv("FRONTLINE_DEVICE", raising=False)
    encoder = Encoder()
    if encoder.backend != "onnx":
        pytest.skip("the ONNX Runtime backend is not what this machine scores with")
    assert encoder._model.cache_status == "stored"
    assert [p.name for p in cache.glob("minilm-*.graph")] == [encoder._model.cache_file.name]
    again = Encoder()
    again.load()
    assert again._model.cache_status == "loaded"
    np.testing.assert_allclose(again.embed(["Sorry about that."]), encoder.embed(["Sorry about that."]), atol=1e-5)

    monkeypatch.setenv("FRONTLINE_SCORER_CACHE", "off")
    off = Encoder()
    off.load()
    assert off._model.cache_status == "off"

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("FRONTLINE_SCORER_CACHE", str(blocked / "cache"))  # cannot be created: built in memory
    unwritable = Encoder()
    unwritable.load()
    assert unwritable._model.cache_status.startswith("unwritable")
    np.testing.assert_allclose(unwritable.embed(["Sorry about that."]), encoder.embed(["Sorry about that."]),
                               atol=1e-5)


def test_the_default_cache_folder_is_the_users_cache_whatever_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FRONTLINE_SCORER_CACHE", raising=False)
    monkeypatch.setenv("FRONTLINE_DATA_DIR", str(tmp_path / "one"))
    first = settings.current().scorer_cache
    monkeypatch.setenv("FRONTLINE_DATA_DIR", str(tmp_path / "two"))
    assert settings.current().scorer_cache == first
    import platformdirs

    assert first == Path(platformdirs.user_cache_dir("frontline")) / "scorer"
    monkeypatch.setenv("FRONTLINE_SCORER_CACHE", "~/elsewhere")
    assert settings.scorer_cache_dir() == Path("~/elsewhere").expanduser()
    monkeypatch.setenv("FRONTLINE_SCORER_CACHE", "off")
    assert settings.scorer_cache_dir() is None


def test_cache_files_round_trip_and_only_the_most_recently_used_are_kept(tmp_path):
    import os

    from simulator.scoring import onnx_minilm

    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(5000, dtype=np.float32)}
    onnx_minilm._store(tmp_path / "minilm-k0.graph", "k0", b"graph bytes", arrays)
    graph, loaded = onnx_minilm._load(tmp_path / "minilm-k0.graph", "k0")
    assert graph == b"graph bytes" and list(loaded) == ["a", "b"]
    assert all(np.array_equal(loaded[n], arrays[n]) and loaded[n].ctypes.data % 4096 == 0 for n in arrays)
    assert onnx_minilm._load(tmp_path / "minilm-k0.graph", "another key") is None  # stale: not used
    for i in range(1, onnx_minilm.CACHE_KEEP + 2):
        os.utime(tmp_path / f"minilm-k{i - 1}.graph", (1000 + i, 1000 + i))
        onnx_minilm._store(tmp_path / f"minilm-k{i}.graph", f"k{i}", b"g", arrays)
    kept = sorted(p.name for p in tmp_path.glob("minilm-*.graph"))
    assert len(kept) == onnx_minilm.CACHE_KEEP and "minilm-k0.graph" not in kept
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.model
def test_building_the_int8_graph_prints_nothing_and_leaves_logging_as_it_was(capfd):
    """ONNX Runtime's quantiser warns through the root logger; in the app that would print over the screen."""
    import logging

    pytest.importorskip("onnxruntime")
    handlers = list(logging.getLogger().handlers)
    graph = _graph(None)
    assert graph.precision == "int8" and graph.cache_status == "off"
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert logging.getLogger().handlers == handlers and logging.root.manager.disable == logging.NOTSET
