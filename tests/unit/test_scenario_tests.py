"""`frontline test`: a scenario's own tests — cases, trainee profiles, exploration — as an author sees them.

Cases here are scored by the fake scorer (its `#e=… goals=…` directives steer them); the shipped scenarios'
cases run with the real model in tests/model/test_shipped_scenario_tests.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helpers.fakes import FakeScorer
from simulator.cli.main import main
from simulator.services import Services

TINY = """\
id: tiny
title: Tiny
summary: A small scenario for the tests.
setting: {business: Corner shop, role: Till}
persona: {name: Pat, mood: 50, patience: 3, backstory: Pat wants a refund for a broken kettle.}
rubric: service
turn_limit: 4
goals:
  - id: refund
    description: Give the refund
    examples: ["I'll refund the kettle for you now."]
beats:
  - id: opening
    lines: ["This kettle broke on day one. I want a refund."]
    model_replies: ["I'll refund the kettle for you now."]
    transitions:
      - {when: red_flag, end: gone}
      - {when: "goals.refund and scores.ownership >= 0.5 and scores.empathy >= 0.5", end: happy}
      - {when: "scores.ownership < 0.3", to: cross}
  - id: cross
    lines: ["So you won't help me?"]
    model_replies: ["I will: the refund goes through now."]
    transitions:
      - {when: "red_flag or mood < 10", end: gone}
      - {when: "scores.ownership >= 0.5 and scores.empathy >= 0.5", end: happy}
      - {when: "turn >= 3 and scores.ownership < 0.3", end: limit}
endings:
  - {id: happy, kind: resolved, line: "Thanks."}
  - {id: gone, kind: walked_out, line: "Bye."}
  - {id: limit, kind: escalated, line: "Get me the manager."}
on_patience_out: gone
on_turn_limit: gone
"""

# `cross` can only be left when ownership is above 1 (never), and that is the only way to `never` and `limit`.
TRAPPED = TINY.replace(
    """      - {when: "red_flag or mood < 10", end: gone}
      - {when: "scores.ownership >= 0.5 and scores.empathy >= 0.5", end: happy}
      - {when: "turn >= 3 and scores.ownership < 0.3", end: limit}
endings:""",
    """      - {when: "scores.ownership > 1", end: never}
endings:
  - {id: never, kind: resolved, line: "Nobody gets here."}""",
)


def write(tmp_path: Path, text: str, tests: str = "") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text + tests)
    return path


def line_of(path: Path, fragment: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line]
    return hits[nth - 1]


def run(*argv: str, scorer=FakeScorer) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    services = Services(scorer_factory=scorer, stdout=out, stderr=err)
    code = main(["test", *argv], services)
    return code, out.getvalue(), err.getvalue()


def no_model():
    raise AssertionError("the scorer was loaded, but nothing needed it")


# -- exploration -------------------------------------------------------------------------------------------------


def test_exploration_names_an_unreachable_ending_and_a_trap_beat(tmp_path):
    path = write(tmp_path, TRAPPED)
    code, out, err = run(str(path), "--no-profiles", scorer=no_model)
    assert code == 1
    assert f"{path}:{line_of(path, 'id: never')}: ending 'never' was not reached by any explored path" in out
    assert (f"{path}:{line_of(path, 'id: cross')}: beat 'cross' is only ever left by the turn limit or patience "
            "running out") in out
    assert f"{path}:{line_of(path, 'id: limit')}: ending 'limit' was not reached" in out
    assert len(out.splitlines()) == 3  # `happy`, `gone` and `opening` are fine
    assert "1 scenario(s)" in err and "3 failed" in err


def test_a_sound_scenario_passes_every_check(tmp_path):
    path = write(tmp_path, TINY)
    code, out, err = run(str(path), scorer=no_model)
    assert (code, out) == (0, "")
    assert "0 failed" in err


def test_a_condition_that_fails_for_some_value_is_refused_before_anything_is_played(tmp_path):
    # Division by zero once patience is down to 1. Every load checks conditions over the whole range of values
    # they can see, so the file is refused at the condition's line (exit 2) before exploration would meet it.
    text = TINY.replace('{when: "scores.ownership >= 0.5 and scores.empathy >= 0.5", end: happy}',
                        '{when: "10 / (patience - 1) > 1 and scores.ownership >= 0.5", end: happy}')
    path = write(tmp_path, text)
    code, out, err = run(str(path), "--no-profiles", scorer=no_model)
    assert code == 2 and out == ""
    line = line_of(path, '10 / (patience - 1)')
    assert f"{path}:{line}:" in err and "condition fails when patience=1" in err


# -- profiles ----------------------------------------------------------------------------------------------------


def test_builtin_profiles_hold_a_scenario_to_their_default_expectations(tmp_path):
    # An ideal trainee (ownership 1, the refund given) can never reach anything but `happy`, and passes; here the
    # only way to `happy` is taken away, so `ideal` must fail — at the `tests:` key, as the file has one.
    text = TINY.replace('scores.empathy >= 0.5", end: happy}\n      - {when: "scores.ownership < 0.3"',
                        'scores.empathy >= 0.5", end: limit}\n      - {when: "scores.ownership < 0.3"')
    path = write(tmp_path, text, "tests:\n  explore: false\n")
    code, out, _ = run(str(path), scorer=no_model)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{path}:{line_of(path, 'tests:')}: profile 'ideal' reached 'limit' but may only reach "
                            "resolved at every difficulty: ending 'limit' (escalated), ")
    assert first.endswith("with overall 1.00; path opening → limit")
    assert all("profile 'ideal'" in line for line in out.splitlines())


def test_a_scenarios_own_profile_and_changed_expectations(tmp_path):
    tests = """\
tests:
  explore: false
  profiles:
    - name: shrugger
      scores: {ownership: 0.1, empathy: 0.8}
      must_not_reach: [escalated]
    - name: repeating
      must_pass: true
"""
    path = write(tmp_path, TINY, tests)
    code, out, _ = run(str(path), scorer=no_model)
    assert code == 1
    lines = out.splitlines()
    shrugger, repeating = line_of(path, "name: shrugger"), line_of(path, "name: repeating")
    # ownership 0.1: off to `cross`, never helped, and at turn 3 Pat calls the manager.
    assert any(line.startswith(f"{path}:{shrugger}: profile 'shrugger' reached 'limit' but must not reach escalated")
               and line.endswith("path opening → cross ×2 → limit") for line in lines)
    assert any(line.startswith(f"{path}:{repeating}: profile 'repeating' failed but must pass") for line in lines)
    assert {line.split(": ")[0] for line in lines} == {f"{path}:{shrugger}", f"{path}:{repeating}"}


def test_a_known_issue_is_printed_without_failing_and_fails_once_it_is_fixed(tmp_path):
    tests = """\
tests:
  explore: false
  profiles:
    - name: repeating
      must_pass: true
      known_issue: the middling trainee does not pass yet
"""
    path = write(tmp_path, TINY, tests)
    code, out, err = run(str(path), scorer=no_model)
    assert code == 0
    assert out.startswith(f"{path}:{line_of(path, 'name: repeating')}: known issue: profile 'repeating' failed")
    assert "0 failed" in err and "known issue(s)" in err
    stale = tests.replace("must_pass: true", "must_not_pass: true")
    write(tmp_path, TINY, stale)
    code, out, _ = run(str(path), scorer=no_model)
    assert code == 1
    assert "profile 'repeating' now meets its expectations (must not pass); remove its `known_issue`" in out


# -- cases -------------------------------------------------------------------------------------------------------


CASES = """\
tests:
  explore: false
  cases:
    - name: gives the refund
      replies: ["Refund done. #e=0.9 o=0.9 s=0.9 goals=refund"]
      expect: {ending: happy, passed: true}
    - name: runs out of replies
      replies: ["Hmm. #o=0.1", "Let me think. #o=0.4"]
      expect: {ending: resolved}
    - name: expects the wrong ending
      replies: ["Refund done. #e=0.9 o=0.9 s=0.9 goals=refund"]
      expect: {ending: gone}
    - name: one reply too many
      replies: ["Refund done. #e=0.9 o=0.9 s=0.9 goals=refund", "Anything else?"]
      expect: {ending: happy, passed: false}
"""


def test_failing_cases_are_named_with_their_line_and_where_they_got_to(tmp_path):
    path = write(tmp_path, TINY, CASES)
    code, out, err = run(str(path), "--no-profiles")
    assert code == 1
    lines = out.splitlines()
    ran_out = line_of(path, "name: runs out")
    wrong = line_of(path, "name: expects the wrong")
    extra = line_of(path, "name: one reply too many")
    assert lines[0].startswith(f"{path}:{ran_out}: case 'runs out of replies': the replies ran out at turn 2 on "
                               "beat 'cross'")
    assert "before reaching 'resolved'" in lines[0]
    assert lines[1].startswith(f"{path}:{wrong}: case 'expects the wrong ending' reached ending 'happy' (resolved) "
                               "at turn 1, expected 'gone'")
    assert lines[2].startswith(f"{path}:{extra}: case 'one reply too many' passed (overall 0.90")
    assert lines[3] == (f"{path}:{extra}: case 'one reply too many' ended ('happy') at turn 1 with 1 reply(ies) "
                        "left over; remove them or expect a later ending")
    assert len(lines) == 4  # the first case passed
    assert "4 check(s): 3 failed" in err


def test_a_case_expected_to_pass_that_does_not_says_why_it_did_not(tmp_path):
    """Over the pass mark yet failed: the manager is told which floor it fell under, and the path it took."""
    cold = """\
tests:
  explore: false
  cases:
    - name: right fix, no warmth
      replies: ["Policy is policy. #e=0.1 o=0.1 s=1.0", "Refund done. #e=0.5 o=1.0 s=1.0 goals=refund"]
      expect: {ending: happy, passed: true}
"""
    path = write(tmp_path, TINY, cold)
    code, out, _ = run(str(path), "--no-profiles")
    assert code == 1
    assert "case 'right fix, no warmth' failed (overall" in out and "but is expected to pass: " in out
    assert "averaged 0.30, under its floor of 0.40" in out
    assert "path opening → cross → happy" in out


def test_a_case_marked_as_a_known_issue_is_reported_but_does_not_fail_until_it_is_stale(tmp_path):
    """A manager can ship a scenario while a scorer weakness makes one case end early: the case's failure is
    printed as a known issue, the run passes; once the case reaches what it expects, the note itself fails."""
    known = """\
tests:
  explore: false
  cases:
    - name: ends early on a false flag
      replies: ["Refund done. #e=0.9 o=0.9 s=0.9 goals=refund", "Anything else?"]
      expect: {ending: happy, passed: true}
      known_issue: the scorer raises a flag here that it should not (model card)
"""
    path = write(tmp_path, TINY, known)
    code, out, err = run(str(path), "--no-profiles")
    assert code == 0
    assert out.startswith(f"{path}:{line_of(path, 'name: ends early')}: known issue: case 'ends early on a false "
                          "flag' ended ('happy') at turn 1 with 1 reply(ies) left over")
    assert "0 failed, 1 known issue(s)" in err
    write(tmp_path, TINY, known.replace(', "Anything else?"', ""))
    code, out, _ = run(str(path), "--no-profiles")
    assert code == 1
    assert "case 'ends early on a false flag' now reaches what it expects; remove its `known_issue`" in out


def test_no_cases_skips_them_and_never_loads_the_model(tmp_path):
    path = write(tmp_path, TINY, CASES)
    code, out, _ = run(str(path), "--no-cases", scorer=no_model)
    assert (code, out) == (0, "")


# -- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tests, fragment, col, message", [
    ("tests:\n  cases:\n    - name: x\n      replies: [hi]\n      expct: {ending: happy}\n",
     "expct", 7, "unknown key 'expct'; did you mean 'expect'?"),
    ("tests:\n  cases:\n    - name: x\n      replies: [hi]\n      expect: {ending: hapy}\n",
     "hapy", 24, "no ending or ending kind 'hapy'; did you mean 'happy'?"),
    ("tests:\n  profiles:\n    - name: mine\n      scores: {empaty: 0.2}\n",
     "empaty", 16, "rubric 'service' has no criterion 'empaty'; did you mean 'empathy'?"),
    ("tests:\n  profiles:\n    - name: mine\n      scores: {empathy: 2}\n",
     "empathy: 2", 25, "less than or equal to 1"),
    ("tests:\n  profiles:\n    - name: ideal\n      scores: {empathy: 0.2}\n",
     "empathy: 0.2", 15, "'ideal' is a built-in profile"),
    ("tests:\n  profiles:\n    - name: idael\n      must_pass: true\n",
     "idael", 13, "no built-in profile 'idael'; did you mean 'ideal'?"),
])
def test_a_bad_tests_section_is_refused_with_file_line_and_column(tmp_path, tests, fragment, col, message):
    path = write(tmp_path, TINY, tests)
    code, out, err = run(str(path), scorer=no_model)
    assert code == 2 and out == ""
    where = f"{path}:{line_of(path, fragment)}:{col}: "
    assert any(line.startswith(where) and message in line for line in err.splitlines()), err


def test_bad_input_stops_everything_before_anything_runs(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "tiny.yaml").write_text(TRAPPED)  # would fail its checks if it ran
    (good / "broken.yaml").write_text(TINY.replace("id: tiny", "id: broken").replace("turn_limit: 4", "turn_limt: 4"))
    code, out, err = run(str(good), scorer=no_model)
    assert code == 2 and out == ""
    assert f"{good / 'broken.yaml'}:7:1: unknown key 'turn_limt'" in err


def test_an_unknown_scenario_and_a_bad_budget_exit_2():
    assert run("no-such-scenario", scorer=no_model)[0] == 2
    with pytest.raises(SystemExit) as exited:  # argparse's own exit, with its usage line
        run("tire-return", "--budget", "lots", scorer=no_model)
    assert exited.value.code == 2


# -- the shipped scenarios ---------------------------------------------------------------------------------------


def test_shipped_scenarios_meet_their_profiles():
    """Fast part of what CI runs with the model: profiles only (the exploration and cases are in the model test)."""
    code, out, err = run("--no-cases", "--no-explore", scorer=no_model)
    assert code == 0, out
    assert "0 failed" in err


def test_every_shipped_scenario_has_a_good_and_a_bad_case(library):
    from simulator.content.scenario import EndingKind

    for loaded in library.scenarios():
        scenario = library.require(loaded)
        assert scenario.tests is not None and len(scenario.tests.cases) >= 2, scenario.id
        kinds = {next((e.kind for e in scenario.endings if c.expect.ending in (e.id, e.kind.value)), None)
                 for c in scenario.tests.cases}
        assert EndingKind.resolved in kinds and kinds - {EndingKind.resolved}, scenario.id
