"""Our plain-torch MiniLM forward gives transformers' numbers, so the trained heads stay valid."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


def test_hidden_states_match_transformers_bert():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from simulator.scoring import minilm
    from simulator.scoring.encoder import model_dir

    folder = model_dir()
    texts = ["I'm so sorry about that.", "Let me ring the car centre for you right now.", "Ok", "tyre " * 400]
    tokenizer, ours = minilm.load(folder, 256, torch.device("cpu"))
    ids, mask = minilm.encode(tokenizer, texts, torch.device("cpu"))

    reference_tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    reference = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32,
                                                       add_pooling_layer=False).eval()
    batch = reference_tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    assert torch.equal(ids, batch["input_ids"]) and torch.equal(mask, batch["attention_mask"])
    assert ids.shape[1] == 256  # the long text was truncated, not rejected

    with torch.inference_mode():
        mine = ours(ids, mask)
        theirs = reference(**batch, output_hidden_states=True).hidden_states
    assert len(mine) == len(theirs) == 7
    real_tokens = mask.unsqueeze(-1).bool()
    for layer in range(7):
        difference = (mine[layer] - theirs[layer]).abs().masked_select(real_tokens).max().item()
        assert difference < 1e-4, f"layer {layer} differs by {difference}"
