"""`frontline progress`: one trainee's trend (chart and table) and the team summary."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services
from simulator.reports.progress import Filters, _markers, team_report, trainee_report, week_start
from simulator.store import Store, StoreError
from helpers.store import COLD, WARM, Clock, play, tire, utc  # noqa: F401 (fixtures)

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc)  # the Monday after the sessions below began
# Eight different things to say: the same reply twice would count as a repeat and cost patience.
ANN_SAYS = ("Sorry about that", "When did you buy it?", "Let me have a look at the tyre",
            "I can check our records", "We may not stock these", "The car centre might know",
            "I could give them a ring", "Anything else I can do?")


@pytest.fixture
def store(_isolated_data_dir, tire):
    clock = Clock()
    s = Store(now=clock)
    # ann improves over five sessions, a day apart; bob plays twice, once this week
    for day, (e, o, sc) in enumerate([(0.3, 0.2, 0.4), (0.5, 0.3, 0.5), (0.6, 0.5, 0.6), (0.8, 0.6, 0.7),
                                      (0.9, 0.8, 0.85)]):
        play(s, tire, [f"{text} #e={e} o={o} s={sc}" for text in ANN_SAYS], trainee="ann", seed=day)
        clock.jump(days=1)
    play(s, tire, COLD, trainee="bob")
    clock.now = NOW
    play(s, tire, WARM, trainee="bob")
    play(s, tire, WARM[:1], trainee="cy", finish=False)  # started, not finished
    yield s
    s.close()


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_trainee_progress_chart_and_table(store, snapshot):
    report = trainee_report(store, "ann")
    assert report == snapshot
    # the fourth session ends with a manager called (escalated): only a resolved ending passes
    assert "Progress of ann: 5 finished session(s), 1 passed (20%)" in report
    assert "empathy 0.30 → 0.90 (+0.60)" in report
    assert "\x1b[" not in report  # no colour codes: fit for pipes and files


def test_team_summary(store, snapshot):
    report = team_report(store, now=NOW)
    assert report == snapshot
    rows = {line.split()[0]: line.split() for line in report.splitlines() if line[:4] in ("ann ", "bob ", "cy  ",
                                                                                          "team")}
    # started, finished, this week, fail rate: a session that is not finished is "started", never a contradiction
    assert rows["ann"][1:5] == ["5", "5", "0", "80%"]
    assert rows["bob"][1:5] == ["2", "2", "1", "50%"]
    assert rows["cy"][1:5] == ["1", "0", "1", "-"]
    assert rows["team"][1:5] == ["8", "7", "2", "71%"]
    assert "8 session(s) started, 7 finished (2 passed, 5 failed), 1 not finished" in report
    assert "Weakest criterion: Ownership" in report and "Weakest scenario: tire-return" in report


def test_an_override_changes_what_the_team_report_counts(store):
    ann = store.sessions(trainee="ann", with_turns=True, newest_first=False)
    before = team_report(store, now=NOW)
    assert "7 finished (2 passed, 5 failed)" in before
    for turn in ann[-1].turns:  # the trainer: her last session had no ownership at all
        store.override(turn.id, "ownership", 0, "no commitment", "kim")
    after = team_report(store, now=NOW)
    assert "7 finished (1 passed, 6 failed)" in after
    assert "FAIL*" in trainee_report(store, "ann")  # marked as the trainer's result


def test_filters_and_formats(store):
    only_hard = team_report(store, now=NOW, filters=Filters(difficulty="hard"))
    assert only_hard == "No sessions with difficulty hard.\n"
    code, out, _ = _cli("progress", "--since", "2026-03-09")
    assert code == 0 and "2 session(s) started" in out and "Only sessions with from 2026-03-09." in out
    code, out, _ = _cli("progress", "--format", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "@media print" in out and "Weakest criterion" in out
    code, out, _ = _cli("progress", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("table,name,started,finished,failed,fail_rate")
    assert any(line.startswith("scenario,tire-return,8,7,5,71%") for line in lines)
    code, _, err = _cli("progress", "--since", "2026-03-10", "--until", "2026-03-01")
    assert code == 2 and "is after --until" in err


def test_progress_command(store):
    code, out, _ = _cli("progress", "--trainee", "ann", "--width", "60")
    assert code == 0 and "Progress of ann" in out
    assert max(len(line) for line in out.splitlines()[:20]) <= 60
    code, out, _ = _cli("progress")
    assert code == 0 and out.startswith("Team progress: 3 trainee(s)")
    code, out, _ = _cli("progress", "--trainee", "cy")
    assert code == 0 and "cy has no finished sessions yet." in out
    code, _, err = _cli("progress", "--trainee", "nobody")
    assert code == 2 and "no trainee called 'nobody'" in err and "ann, bob, cy" in err
    code, _, err = _cli("progress", "--width", "10")
    assert code == 2 and "--width must be between 40 and 400" in err


def test_empty_store(_isolated_data_dir):
    with Store() as s:
        assert "No sessions stored yet" in team_report(s)
        with pytest.raises(StoreError):
            trainee_report(s, "ann")


def test_one_session_still_charts(_isolated_data_dir, tire):
    with Store(now=Clock()) as s:
        play(s, tire, WARM, trainee="ann")
        report = trainee_report(s, "ann")
    assert "E empathy" in report and "First to last" not in report


def test_helpers():
    assert _markers(["empathy", "ownership", "script_avoidance"]) == {
        "empathy": "E", "ownership": "O", "script_avoidance": "S"}
    assert _markers(["tone", "timing"]) == {"tone": "T", "timing": "I"}
    assert week_start(datetime(2026, 3, 8, 23, 0, tzinfo=timezone.utc)) == datetime(2026, 3, 2, tzinfo=timezone.utc)
