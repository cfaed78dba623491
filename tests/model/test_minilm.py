"""Both forward passes (transformers' BertModel taking packed rows, the torch backend; and the ONNX Runtime graph)
give transformers' numbers for plain padded batches, and packing several texts into one row gives what encoding
each alone gives, so the trained heads stay valid whichever runs."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.scoring.packing import load_tokenizer, pack

TEXTS = ["I'm so sorry about that.", "Let me ring the car centre for you right now.", "Ok", "tyre " * 400]


@pytest.mark.model
def test_hidden_states_match_transformers_bert():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from simulator.scoring import minilm
    from simulator.scoring.encoder import model_dir

    folder = model_dir()
    ours = minilm.load(folder, torch.device("cpu"))
    tokenizer = load_tokenizer(folder, 256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # a padded batch, as transformers gives it
    encodings = tokenizer.encode_batch(TEXTS)
    ids = torch.tensor([e.ids for e in encodings])
    mask = torch.tensor([e.attention_mask for e in encodings])

    reference_tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    reference = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32,
                                                       add_pooling_layer=False).eval()
    batch = reference_tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
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


@pytest.mark.model
def test_onnx_graph_and_packed_rows_give_the_torch_hidden_states_of_each_text_alone():
    torch = pytest.importorskip("torch")
    from simulator.scoring import minilm
    from simulator.scoring.encoder import LAYERS, model_dir
    from simulator.scoring.onnx_minilm import OnnxMiniLM

    folder = model_dir()
    reference = minilm.load(folder, torch.device("cpu"))
    graph = OnnxMiniLM(folder, LAYERS, threads=1, precision="float32")
    tokenizer = load_tokenizer(folder, 256)
    token_ids = [e.ids for e in tokenizer.encode_batch(TEXTS)]
    packed = pack(token_ids, 256)
    assert len(packed.input_ids) == 2  # the three short texts share a row; the 256-token one fills its own

    hidden = graph(packed.input_ids, packed.allowed, packed.position_ids)
    for text_tokens, (row, start, end) in zip(token_ids, packed.segments):
        ids = torch.tensor([text_tokens])
        with torch.inference_mode():
            alone = reference(ids, torch.ones_like(ids))
        for out, layer in zip(hidden, LAYERS):
            difference = np.abs(out[row, start:end] - alone[layer][0].numpy()).max()
            assert difference < 1e-4, f"layer {layer} of {text_tokens[:4]}… differs by {difference}"


def test_pack_lays_texts_out_first_fit_and_only_lets_a_text_see_itself():
    packed = pack([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]], row_tokens=5, pad_id=0)
    # longest first: [6..9] opens row 0, [1,2,3] opens row 1, [4,5] joins row 1, [10] fills row 0
    assert packed.segments == [(1, 0, 3), (1, 3, 5), (0, 0, 4), (0, 4, 5)]
    assert packed.input_ids.tolist() == [[6, 7, 8, 9, 10], [1, 2, 3, 4, 5]]
    assert packed.position_ids.tolist() == [[0, 1, 2, 3, 0], [0, 1, 2, 0, 1]]
    allowed = packed.allowed
    assert allowed[1, 0, :3].all() and not allowed[1, 0, 3:].any()  # token of [1,2,3] sees only its text
    assert allowed[0, 4].tolist() == [False, False, False, False, True]
    pooled = packed.pooling_matrix() @ np.arange(10, dtype=np.float32)
    assert pooled.tolist() == pytest.approx([6.0, 8.5, 1.5, 4.0])  # means of each text's flat positions


def test_pack_pads_short_rows_and_refuses_a_text_longer_than_a_row():
    packed = pack([[1, 2, 3, 4], [5, 6, 7, 8], [9]], row_tokens=5, pad_id=0)
    assert packed.input_ids.tolist() == [[1, 2, 3, 4, 9], [5, 6, 7, 8, 0]]
    assert not packed.allowed[1, :, 4].any()  # nobody attends to padding
    with pytest.raises(ValueError, match="does not fit"):
        pack([[1] * 6], row_tokens=5)


@pytest.mark.model
def test_the_int8_graph_the_scorer_runs_reads_each_text_as_the_float_graph_does():
    """Quantised per output channel, each text's pooled embedding stays within cosine 0.95 of the float graph's
    at every layer the heads read, 0.97 on average (one scale per matrix fell to 0.91 on some replies)."""
    from simulator.scoring.encoder import LAYERS, model_dir
    from simulator.scoring.onnx_minilm import OnnxMiniLM

    folder = model_dir()
    exact, int8 = (OnnxMiniLM(folder, LAYERS, threads=1, precision=p) for p in ("float32", "int8"))
    tokenizer = load_tokenizer(folder, 256)
    packed = pack([e.ids for e in tokenizer.encode_batch(TEXTS)], 256)
    pool = packed.pooling_matrix()
    inputs = (packed.input_ids, packed.allowed, packed.position_ids)
    for a, b, layer in zip(exact(*inputs), int8(*inputs), LAYERS):
        pa, pb = pool @ a.reshape(pool.shape[1], -1), pool @ b.reshape(pool.shape[1], -1)
        cosine = (pa * pb).sum(1) / np.linalg.norm(pa, axis=1) / np.linalg.norm(pb, axis=1)
        assert cosine.min() > 0.95 and cosine.mean() > 0.97, f"layer {layer}: cosine {cosine.round(4)}"
        if layer > 0:  # the embeddings are looked up, not multiplied: the same in both
            assert not np.allclose(a, b, atol=1e-4)  # it is the quantised graph, not the float one again


@pytest.mark.model
def test_the_int8_weights_use_seven_bits_so_every_x86_cpu_computes_the_same_scores():
    """ONNX Runtime multiplies uint8 activations by int8 weights two at a time into a 16-bit lane on CPUs without
    VNNI: a pair of products must stay under 32,768, or those CPUs saturate where VNNI ones do not and a team's
    machines score the same reply differently. Weights within [-64, 64] keep every pair under it."""
    from safetensors import safe_open

    from simulator.scoring.encoder import LAYERS, model_dir
    from simulator.scoring.onnx_minilm import build_graph, quantize_graph
    from simulator.scoring.packing import read_config

    folder = model_dir()
    with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
        weights = {name: handle.get_tensor(name) for name in handle.keys()}
    _, arrays = quantize_graph(*build_graph(read_config(folder), weights, LAYERS))
    quantised = {name: value for name, value in arrays.items() if value.dtype == np.int8}
    assert len(quantised) >= 6 * 4, "every layer's attention and feed-forward matrices are int8"
    for name, value in quantised.items():
        largest = max(-int(value.min()), int(value.max()))
        assert largest <= 64 and 2 * 255 * largest < 32768, name
