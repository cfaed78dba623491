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


def test_the_adapter_is_a_peft_folder_with_our_record_beside_it(tmp_path):
    adapter = small_adapter()
    weights_path, meta_path = save_adapter(adapter, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter_config.json", "adapter_model.safetensors",
                                                         "frontline.json"]
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 2 and config["lora_alpha"] == 4  # scale 2.0
    assert config["target_modules"] == ["attention.self.query"]
    from safetensors.numpy import load_file

    tensors = load_file(str(weights_path))
    assert sorted(tensors) == ["base_model.model.encoder.layer.0.attention.self.query.lora_A.weight",
                               "base_model.model.encoder.layer.0.attention.self.query.lora_B.weight"]
    assert json.loads(meta_path.read_text())["digest"] == adapter.digest


def test_the_shipped_adapter_keeps_the_digest_its_heads_name():
    """Moving from minilm-lora.npz to the peft folder kept the matrices, so the shipped heads still load."""
    adapter = load_adapter()
    assert adapter is not None and adapter.scale == 2.0 and adapter.rank == 8 and len(adapter.down) == 36
    from simulator import settings

    for heads in (settings.models_dir() / "heads").glob("*.json"):
        recorded = json.loads(heads.read_text()).get("adapter")
        assert recorded in (None, adapter.digest), heads.name


def test_a_damaged_or_mismatched_adapter_is_refused_with_the_fix(tmp_path):
    save_adapter(small_adapter(), tmp_path)
    weights_path, config_path, meta_path = artefact_paths(tmp_path)
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "digest": "0" * 16}))
    with pytest.raises(ScorerError, match="digest differs.*frontline train --adapt"):
        load_adapter(tmp_path)
    meta_path.write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ScorerError, match="format 99"):
        load_adapter(tmp_path)
    meta_path.write_text(json.dumps(meta))
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ScorerError, match="cannot merge .use_dora"):
        load_adapter(tmp_path)
    config_path.write_text(json.dumps(config))
    weights_path.write_bytes(b"not safetensors")
    with pytest.raises(ScorerError, match="cannot be read"):
        load_adapter(tmp_path)


@pytest.mark.model
def test_peft_reads_the_saved_folder_and_merges_what_our_loader_merges(tmp_path):
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from simulator.scoring import minilm
    from simulator.scoring.encoder import model_dir

    adapter = load_adapter()
    save_adapter(adapter, tmp_path)
    merged_by_peft = peft.PeftModel.from_pretrained(minilm.bert(model_dir()), str(tmp_path)).merge_and_unload()
    merged_by_us = minilm.merge_adapter(minilm.bert(model_dir()), load_adapter(tmp_path))
    theirs = dict(merged_by_peft.named_parameters())
    for name, ours in merged_by_us.named_parameters():
        assert torch.allclose(ours, theirs[name], atol=1e-6), name


@pytest.mark.model
def test_the_peft_model_on_packed_rows_gives_each_text_alone():
    """Training packs texts as scoring does: the block mask and restarting positions reach BertModel intact."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from simulator.scoring import minilm
    from simulator.scoring.encoder import model_dir
    from simulator.scoring.finetune import lora_model
    from simulator.scoring.packing import load_tokenizer, pack

    model = lora_model(model_dir(), rank=2, scale=2.0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:  # a non-zero update, so the adapter is in the comparison
                parameter.normal_(std=0.05)
    texts = ["I'm so sorry about that.", "Let me ring the car centre for you right now.", "Ok"]
    token_ids = [e.ids for e in load_tokenizer(model_dir(), 256).encode_batch(texts)]
    packed = pack(token_ids, 256)
    assert len(packed.input_ids) == 1
    with torch.no_grad():
        hidden = minilm.packed_hidden_states(model, *(torch.from_numpy(a) for a in packed[:3]))
        for tokens, (row, start, end) in zip(token_ids, packed.segments):
            ids = torch.tensor([tokens])
            alone = minilm.packed_hidden_states(model, ids, torch.ones_like(ids))
            for layer in range(7):
                difference = (hidden[layer][row, start:end] - alone[layer][0]).abs().max().item()
                assert difference < 1e-4, f"layer {layer} differs by {difference}"


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
    # float32 on the CPU too: the scorer's int8 graph differs from torch by its rounding, not by the adapter
    base = Encoder(adapter=False, precision="float32").embed_layers(texts, cache=False)
    adapted = Encoder(adapter=adapter, precision="float32").embed_layers(texts, cache=False)
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


@pytest.mark.model
def test_the_adapter_learns_the_red_flags_the_rows_are_labelled_for():
    """A blaming clause is a few words in a reply's mean: the encoder learns the flags with the criteria, from the
    rows labelled for red flags only, and records which it learned (none when no row raises one)."""
    from dataclasses import replace

    from simulator.scoring.data import Example
    from simulator.scoring.finetune import AdapterSettings, fit_adapter

    rows = []
    for i in range(12):
        context = f"My order {i} arrived broken."
        rows.append(Example(f"{i}-a", context, "I'm so sorry, I'll send a new one today.", {"empathy": 2}, red_flags=()))
        rows.append(Example(f"{i}-b", context, "You should have checked it, that's on you.", {"empathy": 0},
                            red_flags=("blames_customer",)))
        rows.append(Example(f"{i}-c", context, "Ok.", {"empathy": 0}))  # not labelled for red flags
    quick = AdapterSettings(epochs=1, rank=2)
    adapter = fit_adapter(rows, {"empathy": 2}, ("c@6", "smean@6"), flags=["blames_customer", "insults_customer"],
                          settings=quick)
    assert adapter.meta["red_flags"] == ["blames_customer"]  # no row raises insults_customer
    unlabelled = [replace(r, red_flags=None) for r in rows]
    assert fit_adapter(unlabelled, {"empathy": 2}, ("c@6", "smean@6"), flags=["blames_customer"],
                       settings=quick).meta["red_flags"] == []
