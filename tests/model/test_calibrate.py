"""`frontline calibrate` with the real encoder: a scorer folder from an organisation's labels, agreement before
and after on customer lines it did not fit on, and `--scorer DIR` scoring with it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from simulator.cli import main
from simulator.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from house_rule import LINES, rows  # noqa: E402


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_calibrate_writes_a_scorer_that_sessions_can_tell_apart(tmp_path):
    labels = tmp_path / "house.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows(LINES[:10])), encoding="utf-8")
    out = tmp_path / "scorer"
    code, text, err = _cli("calibrate", "--labels", str(labels), "--out", str(out), "--json")
    assert code == 0, err
    report = json.loads(text)
    assert report["lines"]["held_out"] >= 1 and report["lines"]["fit"] >= 1
    for cid in ("empathy", "ownership", "script_avoidance"):
        figures = report["criteria"][cid]
        assert set(figures["before"]) == {"spearman", "qwk", "exact"} == set(figures["after"])
    assert (out / "service.npz").is_file() and (out / "service.json").is_file()
    meta = json.loads((out / "service.json").read_text())
    assert meta["calibration"]["rows"]["held_out"] == report["criteria"]["ownership"]["rows"]["held_out"]

    from simulator.scoring.model import ModelScorer

    shipped, calibrated = ModelScorer().version, ModelScorer(heads_folder=out).version
    assert shipped != calibrated and "calibrated:service@" in calibrated

    code, text, err = _cli("--scorer", str(out), "score", "I'll sort it now.", "--context", "My card was declined.")
    assert code == 0, err


def test_calibrate_mistakes_are_explained(tmp_path):
    few = tmp_path / "few.jsonl"
    few.write_text("".join(json.dumps(r) + "\n" for r in rows(LINES[:1])[:5]), encoding="utf-8")
    code, _, err = _cli("calibrate", "--labels", str(few), "--out", str(tmp_path / "x"))
    assert code == 2 and "calibration needs at least" in err and "Traceback" not in err
    code, _, err = _cli("calibrate", "--labels", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x"))
    assert code == 2 and "no such labels file" in err
    code, _, err = _cli("--scorer", str(tmp_path), "list")
    assert code == 2 and "is not a scorer folder" in err


def test_calibrating_only_the_changed_criterion_keeps_the_others_shipped(tmp_path):
    import numpy as np

    from simulator.scoring.heads import heads_dir, load_heads

    labels = tmp_path / "house.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows(LINES[:10])), encoding="utf-8")
    out = tmp_path / "scorer"
    code, text, err = _cli("calibrate", "--labels", str(labels), "--out", str(out), "--criteria", "ownership",
                           "--json")
    assert code == 0, err
    report = json.loads(text)["criteria"]
    assert report["empathy"]["strength"] == 0 and report["script_avoidance"]["strength"] == 0
    assert report["empathy"]["before"] == report["empathy"]["after"]
    shipped, calibrated = load_heads("service", heads_dir()), load_heads("service", out)
    for cid in ("empathy", "script_avoidance"):
        assert np.array_equal(shipped.heads[cid].weights, calibrated.heads[cid].weights)
    assert json.loads((out / "service.json").read_text())["calibration"]["criteria"] == ["ownership"]
    # the learned red flags and evidence taggers travel with the calibrated scorer
    kept = {key for key in shipped.heads if ":" in key}
    assert kept and kept <= set(calibrated.heads)

    code, _, err = _cli("calibrate", "--labels", str(labels), "--out", str(out), "--criteria", "warmth")
    assert code == 2 and "has the criteria" in err and "Traceback" not in err
