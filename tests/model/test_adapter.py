"""The encoder adapter: its artefact, merging it into the weights, training it, and heads that must match it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.scoring import CONTEXT, write_tiny_labelled, write_tiny_rubric
from simulator.content.library import load_rubric, require
from simulator.scoring import ScorerError, ScoreRequest
from simulator.scoring.adapter import Adapter, artefact_paths, load_adapter, save_adapter


def small_adapter(seed: int = 0, rank: int = 2) -> Adapter:
    rng = np.random.default_rng(seed)
    name = "encoder.layer.0.attention.self.query.weight"
    return Adapter(scale=2.0, down={name: rng.normal(size=(rank, 4)).astype(np.float32)},
                   up={name: rng.normal(size=(3, rank)).astype(np.float32)}, meta={"rank": rank})


def test_merging_adds_the_scaled_low_rank_update_to_named_weights_only():
    adapter = small_adapter()
    name = "encoder.layer.0.attention.self.query.weight"
    weight = np.ones((3, 4), dtype=np.float32)
    expected = weight + 2.0 * adapter.up[name] @ adapter.down[name]
    assert np.allclose(adapter.merged(name, weight), expected)
    other = np.zeros((3, 4), dtype=np.float32)
    assert adapter.merged("embeddings.word_embeddings.weight", other) is other
    view = adapter.apply({name: weight, "bias": other})
    assert set(view) == {name, "bias"} and np.allclose(view[name], expected)
    with pytest.raises(ScorerError, match="update for"):
        adapter.merged(name, np.ones((4, 4), dtype=np.float32))


def test_saved_adapter_loads_back_with_the_same_digest(tmp_path):
    adapter = small_adapter()
    save_adapter(adapter, tmp_path)
    loaded = load_adapter(tmp_path)
    assert loaded is not None and loaded.digest == adapter.digest and loaded.scale == 2.0
    assert loaded.meta["rank"] == 2
    assert small_adapter(seed=1).digest != adapter.digest
    assert load_adapter(tmp_path / "nowhere") is None


def test_a_damaged_or_mismatched_adapter_is_refused_with_the_fix(tmp_path):
    save_adapter(small_adapter(), tmp_path)
    npz_path, json_path = artefact_paths(tmp_path)
    meta = json.loads(json_path.read_text())
    json_path.write_text(json.dumps({**meta, "digest": "0" * 16}))
    with pytest.raises(ScorerError, match="digest differs.*frontline train --adapt"):
        load_adapter(tmp_path)
    json_path.write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ScorerError, match="format 99"):
        load_adapter(tmp_path)
    json_path.write_text(json.dumps(meta))
    npz_path.write_bytes(b"not an npz")
    with pytest.raises(ScorerError, match="cannot be read"):
        load_adapter(tmp_path)


@pytest.mark.model
def test_both_backends_merge_the_adapter_and_agree(monkeypatch):
    from simulator.scoring.encoder import Encoder

    rng = np.random.default_rng(0)
    down, up = {}, {}
    for layer in range(6):
        name = f"encoder.layer.{layer}.intermediate.dense.weight"
        down[name] = rng.normal(scale=0.05, size=(4, 384)).astype(np.float32)
        up[name] = rng.normal(scale=0.05, size=(1536, 4)).astype(np.float32)
    adapter = Adapter(scale=2.0, down=down, up=up)
    texts = ["I'll ring the car centre for you right now.", "You'll need to call them yourself."]
    base = Encoder(adapter=False).embed_layers(texts, cache=False)
    adapted = Encoder(adapter=adapter).embed_layers(texts, cache=False)
    assert np.abs(base - adapted).max() > 1e-3  # the update changed the embeddings…
    monkeypatch.setenv("FRONTLINE_BACKEND", "torch")
    with_torch = Encoder(adapter=adapter)
    assert with_torch.backend == "torch"
    assert np.abs(with_torch.embed_layers(texts, cache=False) - adapted).max() < 1e-4  # …the same way in both


@pytest.mark.model
def test_train_adapt_writes_an_adapter_and_heads_that_name_it(tmp_path):
    from simulator.scoring.encoder import Encoder
    from simulator.scoring.finetune import AdapterSettings
    from simulator.scoring.model import ModelScorer
    from simulator.scoring import train

    rubric = require(load_rubric(write_tiny_rubric(tmp_path)))
    data, _ = write_tiny_labelled(tmp_path, lines=24)
    quick = AdapterSettings(epochs=1, rank=2)
    result = train.train_heads(
        rubric, [data], folder=tmp_path / "heads", adapt=True, adapter_folder=tmp_path / "adapter",
        adapt_settings=quick,
    )
    adapter = load_adapter(tmp_path / "adapter")
    assert adapter is not None and adapter.meta["rows"] == result.n_train and adapter.meta["rank"] == 2
    meta = json.loads((tmp_path / "heads" / "tiny_custom.json").read_text())
    assert meta["adapter"] == adapter.digest

    request = ScoreRequest(reply="Good morning Jo, welcome back! Order 3 is ready.", context=CONTEXT, rubric=rubric)
    matching = ModelScorer(encoder=Encoder(adapter=adapter), heads_folder=tmp_path / "heads")
    assert matching.score(request).levels["greeting"] == 2
    assert f"adapter@{adapter.digest[:12]}" in matching.version
    mismatched = ModelScorer(encoder=Encoder(adapter=False), heads_folder=tmp_path / "heads")
    with pytest.raises(ScorerError, match="fitted on encoder adapter .* retrain them with `frontline train"):
        mismatched.score(request)
