"""The numpy parts of the scorer's robustness work: phrase evidence from token shares, noisy copies for
training, red-flag labels in the data. (The model itself is tested in tests/model.)"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from simulator.scoring import encoder as encoder_module
from simulator.scoring.attribution import Sentence, evidence_phrases, phrases, sentence_weights, word_shares
from simulator.scoring.data import DataError, Example, load_examples, with_flag_labels
from simulator.scoring.encoder import TokenStates
from simulator.scoring.heads import FLAG_ALSO, FLAG_PREFIX, HeadSet, flag_heads, flag_raised, load_heads, save_heads
from simulator.scoring.noise import KINDS, augment, noisy

DIM = encoder_module.DIM
L = len(encoder_module.LAYERS)


def _tokens(text: str, directions: dict[str, np.ndarray], rng: np.random.Generator) -> TokenStates:
    """Synthetic word-pieces, one per word plus [CLS]/[SEP]: a word listed in `directions` points that way."""
    import re

    words = [m.span() for m in re.finditer(r"\S+", text)]
    states = [rng.normal(scale=0.1, size=(L, DIM))]
    for a, b in words:
        vector = directions.get(text[a:b].strip(",."), np.zeros(DIM))
        states.append(np.repeat(vector[None], L, axis=0) + rng.normal(scale=0.1, size=(L, DIM)))
    states.append(rng.normal(scale=0.1, size=(L, DIM)))
    offsets = [(0, 0), *words, (0, 0)]
    special = [True] + [False] * len(words) + [True]
    stacked = np.array(states, dtype=np.float32)
    return TokenStates(offsets=np.array(offsets), special=np.array(special), states=stacked,
                       norms=np.linalg.norm(stacked.mean(axis=0), axis=-1).astype(np.float32))


def _evidence(text: str, weights: np.ndarray, directions: dict[str, np.ndarray], upward: bool) -> list[str]:
    rng = np.random.default_rng(0)
    tokens = _tokens(text, directions, rng)
    layers = tokens.states.mean(axis=0) / tokens.norms[:, None]
    sentence = Sentence(start=0, tokens=tokens, layers=layers)
    per_sentence = sentence_weights(("smean@6",), weights, np.zeros((L, DIM)), layers[None])
    words, shares = word_shares(text, [sentence], per_sentence)
    return evidence_phrases(text, words, shares, upward=upward, limit=3)


def test_the_phrase_holding_the_words_a_criterion_reads_is_its_evidence_and_criteria_differ():
    rng = np.random.default_rng(1)
    warm, action = rng.normal(size=DIM), rng.normal(size=DIM)
    directions = {"awful": warm * 3, "sorry": warm * 3, "booking": action * 3, "now": action * 3}
    text = "I'm so sorry, that sounds awful, I'm booking the engineer now"
    empathy = _evidence(text, warm, directions, upward=True)
    ownership = _evidence(text, action, directions, upward=True)
    assert "awful" in empathy[0] or "sorry" in empathy[0]
    assert "booking the engineer now" in ownership[0]
    assert empathy[0] != ownership[0]
    for phrase in empathy + ownership:
        assert phrase in text and phrase != text  # a phrase of the reply, not the whole of it


def test_a_low_score_is_explained_by_the_words_that_pulled_it_down():
    rng = np.random.default_rng(2)
    blame = rng.normal(size=DIM)
    text = "Sorry about that, but you really should have checked the booking"
    low = _evidence(text, -blame, {"should": blame * 4, "checked": blame * 4}, upward=False)
    assert "should have checked" in low[0]


def test_phrases_are_cut_at_clause_punctuation_and_before_conjunctions():
    text = "I'm sorry, but the sizes were on your booking and you should have checked. Next!"
    import re

    words = [m.span() for m in re.finditer(r"\S+", text)]
    groups = [" ".join(text[a:b] for a, b in (words[i] for i in g)) for g in phrases(text, words)]
    assert groups == ["I'm sorry,", "but the sizes were on your booking", "and you should have checked.", "Next!"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_noise_changes_the_surface_only(kind):
    text = "I'm so sorry we cancelled your colour fitting, I'll organise a new one for Tuesday."
    noisy_text = KINDS[kind](text, random.Random(3))
    assert noisy_text != text and noisy_text.strip()
    assert noisy_text.lower().replace("z", "s").count("tuesday") == 1  # the content is still there


def test_augment_adds_noisy_copies_with_the_same_labels_and_flags_and_never_copies_a_copy():
    rows = [Example(id=f"r{i}", context="c", reply="Sorry, I'll ring the depot now and call you back.",
                    labels={"empathy": 1, "ownership": 2}, red_flags=()) for i in range(50)]
    rows.append(Example(id="n1", context="c", reply="sorry", labels={"empathy": 1}, noise_of="r0"))
    out = augment(rows, 0.5, seed=0)
    extra = out[len(rows):]
    assert 10 < len(extra) < 40 and all(e.noise_of and e.id.startswith(e.noise_of + "~aug-") for e in extra)
    assert all(e.labels == {"empathy": 1, "ownership": 2} and e.red_flags == () for e in extra)
    assert not any(e.noise_of == "n1" for e in extra)
    assert noisy("Hi", random.Random(0))[1] != "Hi"


def test_red_flag_labels_come_from_the_row_or_from_a_flags_file(tmp_path):
    data = tmp_path / "part.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "context": "c", "reply": "Your fault.", "empathy": 0, "red_flags": ["blames_customer"]},
        {"id": "b", "context": "c", "reply": "Sorry!", "empathy": 1},
        {"id": "c", "context": "c", "reply": "Sure.", "empathy": 1},
    ]) + "\n")
    flags = tmp_path / "flags.jsonl"
    flags.write_text(json.dumps({"id": "b", "red_flags": []}) + "\n" + json.dumps({"id": "a", "red_flags": []}) + "\n")
    rows = {e.id: e for e in with_flag_labels(load_examples([data], ["empathy"]), [flags])}
    assert rows["a"].red_flags == ("blames_customer",)  # the row's own label wins
    assert rows["b"].red_flags == () and rows["c"].red_flags is None  # c is not labelled for red flags
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "context": "c", "reply": "r", "empathy": 0, "red_flags": "blame"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: 'red_flags' must be a list"):
        load_examples([bad], ["empathy"])


def test_a_two_level_head_gives_the_probability_of_the_upper_level():
    """Red-flag heads are two-level heads; sklearn stores one row of weights for two classes."""
    from simulator.scoring.train import fit_head

    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, 0] > 0.3).astype(int)
    head = fit_head("flag:demo", x, y, 1, 1.0, ("c@6",))
    p = head.predict(x)
    assert ((p >= 0.5) == (y == 1)).mean() > 0.9 and p.min() >= 0 and p.max() <= 1


def _xor_rows(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A label no straight line separates (the sign of a product), as "warm words, mocking tone" is to a
    logistic head on pooled embeddings."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 6)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(int)


def test_a_network_flag_head_learns_what_a_logistic_one_cannot_and_gives_sklearns_probabilities():
    from sklearn.neural_network import MLPClassifier

    from simulator.scoring.train import FLAG_MLP_EPOCHS, FLAG_MLP_HIDDEN, fit_flag_network, fit_head

    x, y = _xor_rows()
    network = fit_flag_network(x[:400], y[:400, None], 0.1, ("c@6",), ["flag:demo"])["flag:demo"]
    logistic = fit_head("flag:demo", x[:400], y[:400], 1, 1.0, ("c@6",))
    held_x, held_y = x[400:], y[400:]
    assert ((network.predict(held_x) >= 0.5) == held_y).mean() > 0.8
    assert ((logistic.predict(held_x) >= 0.5) == held_y).mean() < 0.7

    # the numpy forward pass is the mean of the logits of sklearn's networks, one per seed, on the standardised rows
    import warnings

    from simulator.scoring.train import FLAG_MLP_SEEDS

    assert len(FLAG_MLP_SEEDS) > 1 and network.hidden_weights.shape[0] == FLAG_MLP_HIDDEN * len(FLAG_MLP_SEEDS)
    logits = []
    for seed in FLAG_MLP_SEEDS:
        reference = MLPClassifier(hidden_layer_sizes=(FLAG_MLP_HIDDEN,), alpha=0.1, max_iter=FLAG_MLP_EPOCHS,
                                  random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference.fit((x[:400] - network.mean) / network.scale, y[:400])
        p = np.clip(reference.predict_proba((held_x - network.mean) / network.scale)[:, 1], 1e-12, 1 - 1e-12)
        logits.append(np.log(p / (1 - p)))
    expected = 1 / (1 + np.exp(-np.mean(logits, axis=0)))
    np.testing.assert_allclose(network.predict(held_x), expected, atol=1e-4)


def test_a_network_head_survives_saving_and_format_1_heads_still_load(tmp_path):
    import json as json_module

    from simulator.scoring.train import fit_flag_network, fit_head

    x, y = _xor_rows()
    heads = {"flag:demo": fit_flag_network(x, y[:, None], 0.1, ("c@6",), ["flag:demo"])["flag:demo"],
             "empathy": fit_head("empathy", x, y, 1, 1.0, ("c@6",))}
    save_heads(HeadSet(rubric_id="demo", heads=heads, meta={}), tmp_path)
    loaded = load_heads("demo", tmp_path)
    assert loaded is not None and loaded.heads["flag:demo"].kind == "mlp"
    for key, head in heads.items():
        np.testing.assert_allclose(loaded.heads[key].predict(x), head.predict(x), rtol=1e-6)

    # an artefact written before network heads existed (format 1, linear heads only) is read as before
    save_heads(HeadSet(rubric_id="old", heads={"empathy": heads["empathy"]}, meta={}), tmp_path)
    meta_path = tmp_path / "old.json"
    meta = json_module.loads(meta_path.read_text())
    meta_path.write_text(json_module.dumps({**meta, "format": 1}))
    old = load_heads("old", tmp_path)
    assert old is not None
    np.testing.assert_allclose(old.heads["empathy"].predict(x), heads["empathy"].predict(x), rtol=1e-6)


def test_each_flag_takes_the_network_only_where_it_catches_clearly_more_than_a_logistic_head():
    """Training picks per flag on grouped CV: a flag no straight line separates gets the shared network's head,
    one a logistic head already catches keeps that (a network also fits the wording of the settings)."""
    from simulator.scoring.train import _fit_flag_heads

    x, crossed = _xor_rows(seed=6)
    x = np.vstack([x, x + 0.01])
    crossed = np.concatenate([crossed, crossed])
    straight = (x[:, 2] > 0.8).astype(int)
    examples = [
        Example(id=f"r{i}", context=f"customer line {i // 4}", reply=f"reply {i}", labels={"empathy": 1},
                red_flags=tuple(f for f, y in (("crossed", crossed[i]), ("straight", straight[i])) if y))
        for i in range(len(x))
    ]
    said: list[str] = []
    heads = _fit_flag_heads(["crossed", "straight", "never"], examples, x, ("c@6",), said.append)
    assert [h.kind for h in heads["crossed"]] == ["mlp"] and heads["crossed"][0].info["model"] == "mlp"
    assert [h.kind for h in heads["straight"]] == ["softmax"] and heads["straight"][0].info["model"] == "logistic"
    assert "never" not in heads and any("never: 0 of" in line for line in said)
    for flag, truth in (("crossed", crossed), ("straight", straight)):
        assert heads[flag][0].info["cv"]["precision"] >= 0.9
        raised = flag_raised(heads[flag], lambda _head: x)
        assert (raised & (truth == 1)).sum() / truth.sum() > 0.5, flag


def test_a_flag_is_raised_by_either_of_two_heads_where_each_catches_what_the_other_misses(monkeypatch, tmp_path):
    """Half a flag's replies are caught by a straight line, half only by the network, and the network cannot
    see the first half (as the shipped insult network let plain put-downs through that a logistic head
    caught): training keeps both heads, raising the flag when either does, and the pair survives saving."""
    from simulator.scoring import train as train_module

    x, _ = _xor_rows(seed=7)
    x = np.vstack([x, x + 0.01])
    crossed = x[:, 0] * x[:, 1] > 0.8
    straight = x[:, 2] > 0.85
    flagged = (crossed | straight).astype(int)
    real_network = train_module.fit_flag_network

    def network_blind_to_column_2(features, labels, alpha, recipe, names, seeds=(0,)):
        blind = features.copy()
        blind[:, 2] = 0.0
        heads = real_network(blind, labels, alpha, recipe, names, seeds)
        for head in heads.values():
            head.hidden_weights[:, 2] = 0.0
        return heads

    monkeypatch.setattr(train_module, "fit_flag_network", network_blind_to_column_2)
    examples = [
        Example(id=f"r{i}", context=f"customer line {i // 4}", reply=f"reply {i}", labels={"empathy": 1},
                red_flags=("mixed",) if flagged[i] else ())
        for i in range(len(x))
    ]
    said: list[str] = []
    heads = train_module._fit_flag_heads(["mixed"], examples, x, ("c@6",), said.append)["mixed"]
    assert [h.info["model"] for h in heads] == ["logistic", "mlp"], said
    assert all(h.info["raised_with"] == "either" for h in heads)
    assert heads[0].info["cv"]["precision"] >= 0.9
    raised = flag_raised(heads, lambda _head: x)
    for part in (crossed, straight):
        assert (raised & part).sum() / part.sum() > 0.6
    assert not any(h.predict(x[straight & ~crossed]).mean() > 0.5 for h in heads[1:])  # the network misses it

    save_heads(HeadSet("demo", {FLAG_PREFIX + "mixed": heads[0], FLAG_PREFIX + "mixed" + FLAG_ALSO: heads[1]},
                       {"adapter": None}), tmp_path)
    loaded = load_heads("demo", tmp_path)
    assert loaded is not None
    again = flag_heads(loaded.heads, "mixed")
    assert [h.kind for h in again] == ["softmax", "mlp"]
    np.testing.assert_array_equal(flag_raised(again, lambda _head: x), raised)


def test_a_flag_threshold_catches_the_most_rows_at_the_precision_a_red_flag_needs():
    from simulator.scoring.train import MIN_FLAG_PRECISION, best_flag_threshold

    # ten flagged rows and ninety unflagged: nine flagged ones score 0.9, one 0.5; one unflagged row 0.9, two
    # 0.6 and the others 0.1. Up to 0.6 the false ones pull precision under 0.90; above it, nine of ten raised
    # are right.
    truth = np.array([True] * 10 + [False] * 90)
    probability = np.array([0.9] * 9 + [0.5] + [0.9] + [0.6] * 2 + [0.1] * 87)
    rank, threshold, metrics = best_flag_threshold(truth, probability)
    assert rank[0] and metrics["precision"] >= MIN_FLAG_PRECISION and 0.6 < threshold <= 0.9
    assert metrics["recall"] == 0.9
    # no threshold reaches the precision: the most precise one is returned, ranked as not precise
    rank, _, metrics = best_flag_threshold(truth, np.where(truth, 0.9, 0.95))
    assert not rank[0] and metrics["precision"] < MIN_FLAG_PRECISION


def test_flags_of_one_network_store_and_run_its_hidden_layer_once(tmp_path):
    from simulator.scoring.train import fit_flag_network, fit_head

    x, y = _xor_rows()
    labels = np.stack([y, 1 - y], axis=1)[:400]
    network = fit_flag_network(x[:400], labels, 0.1, ("c@6",), ["flag:a", "flag:b"], seeds=(0,))
    other = fit_flag_network(x[:400], labels[:, :1], 1.0, ("c@6",), ["flag:c"], seeds=(1,))
    stored = {**network, **other, "empathy": fit_head("empathy", x[:400], y[:400], 1, 1.0, ("c@6",))}
    npz_path, _ = save_heads(HeadSet("demo", dict(stored), {}), tmp_path)
    with np.load(npz_path) as arrays:
        assert sorted(n for n in arrays.files if n.endswith(".hidden_weights")) == [
            "flag:a.hidden_weights", "flag:c.hidden_weights"]  # the two networks, once each
    loaded = load_heads("demo", tmp_path).heads
    assert loaded["flag:a"].hidden_weights is loaded["flag:b"].hidden_weights
    assert loaded["flag:c"].hidden_weights is not loaded["flag:a"].hidden_weights

    held = x[400:]
    shared: dict = {}
    for name, head in stored.items():
        np.testing.assert_allclose(loaded[name].predict(held, shared), head.predict(held), atol=1e-6)
    assert len(shared) == 2  # one hidden layer computed per network, not per flag
