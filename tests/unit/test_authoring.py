"""The authoring studio: `frontline new` starter files, `frontline graph`, and the lints for weak content."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.content import TIRE
from helpers.fakes import FakeScorer
from simulator import settings
from simulator.cli import main
from simulator.services import Services

ROOT = Path(__file__).resolve().parents[2]



def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(stdout=out, stderr=err, scorer_factory=lambda: FakeScorer()))
    return code, out.getvalue(), err.getvalue()


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    found = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            found += 1
            if found == nth:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def warnings_in(out: str) -> list[tuple[int, int, str]]:
    found = []
    for line in out.splitlines():
        m = re.match(r"^.*:(\d+):(\d+): warning: (.*)$", line)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return found


def play_to_the_end(path: Path, tmp_path: Path, replies: list[str]) -> str:
    replies_file = tmp_path / "replies.txt"
    replies_file.write_text("\n".join(replies) + "\n")
    code, out, err = run_cli("play", str(path), "--replies", str(replies_file), "--no-save")
    assert code == 0, err
    return out


# -- frontline new -------------------------------------------------------------------------------------------------


def test_new_scenario_validates_clean_and_plays_to_an_ending(tmp_path):
    code, out, _ = run_cli("new", "scenario", "late-parcel", "--dir", str(tmp_path))
    path = tmp_path / "late-parcel.yaml"
    assert code == 0 and path.is_file()
    assert str(path) in out  # says where it went

    code, out, err = run_cli("validate", str(path))
    assert code == 0, out
    assert "0 error(s), 0 warning(s)" in err, out

    # A trainee who owns it and commits to a step gets the resolved ending; a stonewaller runs out of turns.
    good = play_to_the_end(path, tmp_path, ["I'm so sorry #e=0.9 o=0.9 s=0.9",
                                            "Express today #e=0.9 o=0.9 s=0.9 goals=firm_next_step"])
    assert "Ending: sorted (resolved)" in good
    poor = play_to_the_end(path, tmp_path, ["Order number?"] * 8)
    assert re.search(r"Ending: \w+ \((escalated|walked_out)\)", poor), poor


def test_new_scenario_teaches_every_key_and_what_is_a_template(tmp_path):
    run_cli("new", "scenario", "late-parcel", "--dir", str(tmp_path))
    text = (tmp_path / "late-parcel.yaml").read_text()
    from simulator.content.scenario import Persona, Scenario, Setting

    for model in (Scenario, Setting, Persona):
        for key in model.model_fields:
            if key == "tests":  # a scenario's own tests are written by hand (see docs/authoring.md)
                continue
            assert re.search(rf"^\s*(- )?{key}:", text, re.M), f"starter lacks {key}"
    for kind in ("resolved", "walked_out", "escalated"):
        assert kind in text
    assert "templates" in text.lower() and "shown exactly as written" in text


def test_schema_line_points_at_the_schema_from_where_the_file_is(tmp_path):
    folder = tmp_path / "deep" / "er"
    run_cli("new", "scenario", "late-parcel", "--dir", str(folder))
    first = (folder / "late-parcel.yaml").read_text().splitlines()[0]
    m = re.match(r"^# yaml-language-server: \$schema=(\S+)$", first)
    assert m, first
    ref = m.group(1)
    target = Path(ref[len("file://"):]) if ref.startswith("file://") else folder / ref
    assert target.resolve() == (settings.schemas_dir() / "scenario.schema.json").resolve()


def test_new_goes_to_scenarios_folder_of_the_current_folder_when_there_is_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("new", "scenario", "first")
    assert code == 0 and (tmp_path / "first.yaml").is_file()
    (tmp_path / "scenarios").mkdir()
    code, out, _ = run_cli("new", "scenario", "second")
    assert code == 0 and (tmp_path / "scenarios" / "second.yaml").is_file()
    assert "scenarios/second.yaml" in out
    code, _, _ = run_cli("validate", "scenarios/second.yaml")
    assert code == 0


def test_new_refuses_an_existing_file_and_leaves_it_alone(tmp_path):
    path = tmp_path / "late-parcel.yaml"
    path.write_text("mine\n")
    code, out, err = run_cli("new", "scenario", "late-parcel", "--dir", str(tmp_path))
    assert code == 2
    assert "exists; choose another name or delete it" in err and "Traceback" not in err
    assert path.read_text() == "mine\n"


@pytest.mark.parametrize("kind, name, says", [
    ("scenario", "Late Parcel", "e.g. 'late-parcel'"),
    ("scenario", "9lives", "starting with a letter"),
    ("scenario", "../escape", "give just a name"),
    ("rubric", "phone-basics", "e.g. 'phone_basics'"),
])
def test_new_refuses_a_bad_name(tmp_path, kind, name, says):
    code, out, err = run_cli("new", kind, name, "--dir", str(tmp_path))
    assert code == 2
    assert err.startswith("frontline: ") and says in err
    assert list(tmp_path.iterdir()) == []


def test_new_rubric_beside_a_new_scenario_is_used_by_it(tmp_path):
    code, _, _ = run_cli("new", "rubric", "phone_basics", "--dir", str(tmp_path))
    assert code == 0
    code, out, _ = run_cli("new", "scenario", "late-parcel", "--rubric", "phone_basics", "--dir", str(tmp_path))
    assert code == 0 and "phone_basics" in out
    scenario = (tmp_path / "late-parcel.yaml").read_text()
    assert "rubric: phone_basics" in scenario and "scores.listening" in scenario

    code, out, err = run_cli("validate", str(tmp_path))
    assert code == 0 and "2 file(s) checked: 0 error(s), 0 warning(s)" in err, out
    good = play_to_the_end(tmp_path / "late-parcel.yaml", tmp_path,
                           ["Sorry #all=0.9", "Express today #all=0.9 goals=firm_next_step"])
    assert "Ending: sorted (resolved)" in good and "listening" in good


def test_new_scenario_with_a_rubric_it_cannot_see_says_how_to_make_one(tmp_path):
    code, _, err = run_cli("new", "scenario", "late-parcel", "--rubric", "phone_basics", "--dir", str(tmp_path))
    assert code == 2 and "frontline new rubric phone_basics" in err
    assert not (tmp_path / "late-parcel.yaml").exists()


def test_new_rubric_refuses_a_shipped_rubric_id(tmp_path):
    code, _, err = run_cli("new", "rubric", "service", "--dir", str(tmp_path))
    assert code == 2 and "already exists" in err


# -- frontline graph -----------------------------------------------------------------------------------------------


def _tire():
    from simulator.content.library import Library

    return Library().scenario("tire-return")


def test_graph_text_shows_every_beat_transition_and_ending():
    s = _tire()
    code, out, _ = run_cli("graph", "tire-return")
    assert code == 0
    for beat in s.beats:
        assert f"beat {beat.id}" in out
    for ending in s.endings:
        assert re.search(rf"^\s+{ending.id}\s+{ending.kind.value}\s", out, re.M), ending.id
    assert re.search(r"^beat opening\s+<- the customer opens here", out, re.M)
    assert re.search(r"if scores\.empathy >= 0\.5\s+-> beat doubt", out)
    assert re.search(r"always\s+-> beat insists", out)
    assert re.search(r"patience runs out\s+-> end storms_out \(walked_out\)", out)
    assert re.search(r"turn limit \(8 replies\)\s+-> end wants_manager \(escalated\)", out)
    assert re.search(r"otherwise\s+-> stays on insists", out)


def test_graph_takes_a_path_too(tmp_path):
    copy = tmp_path / "copy.yaml"
    shutil.copy(TIRE, copy)
    code, out, _ = run_cli("graph", str(copy))
    assert code == 0 and "beat relief" in out


_MERMAID_ID = r"[A-Za-z][A-Za-z0-9_]*"
_MERMAID_LABEL = r'"[^"]*"'
_MERMAID_LINE = re.compile("|".join([
    r"flowchart TD",
    rf"    {_MERMAID_ID}(\[{_MERMAID_LABEL}\]|\(\[{_MERMAID_LABEL}\]\)|\(\({_MERMAID_LABEL}\)\)|\{{\{{{_MERMAID_LABEL}\}}\}})",
    rf"    {_MERMAID_ID} (-->|-\.->)(\|{_MERMAID_LABEL}\|)? {_MERMAID_ID}",
    rf"    classDef {_MERMAID_ID} [a-z-]+:#[0-9a-f]{{6}}(,[a-z-]+:#[0-9a-f]{{6}})*",
    rf"    class {_MERMAID_ID}(,{_MERMAID_ID})* {_MERMAID_ID}",
]))


def _mermaid_ok(text: str) -> None:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    for line in lines:
        assert _MERMAID_LINE.fullmatch(line), f"not a Mermaid statement this writer makes: {line!r}"
        assert not re.search(r"(^|\s)end(\s|$)", line), "`end` is a Mermaid keyword"


def test_graph_mermaid_is_well_formed_and_complete():
    s = _tire()
    code, out, _ = run_cli("graph", "tire-return", "--format", "mermaid")
    assert code == 0
    _mermaid_ok(out)
    for beat in s.beats:
        assert f'beat_{beat.id}["{beat.id}"]' in out
    for ending in s.endings:
        assert f'end_{ending.id}(["{ending.id} ({ending.kind.value})"])' in out
    assert re.search(r'beat_opening -->\|"scores\.empathy #62;= 0\.5"\| beat_doubt', out)
    assert 'start(("start"))' in out and "start --> beat_opening" in out
    assert "patience runs out" in out and "turn limit (8)" in out


def test_graph_escapes_quotes_and_brackets_in_conditions(tmp_path):
    text = TIRE.read_text().replace("when: scores.empathy >= 0.5\n", "when: scores[\"empathy\"] >= 0.5 and difficulty != 'hard'\n", 1)
    path = tmp_path / "quoted.yaml"
    path.write_text(text)
    code, out, _ = run_cli("graph", str(path), "--format", "mermaid")
    assert code == 0, out
    _mermaid_ok(out)
    assert 'scores#91;#34;empathy#34;#93; #62;= 0.5 and difficulty != \'hard\'' in out
    code, out, _ = run_cli("graph", str(path), "--format", "dot")
    assert code == 0 and r'[label="scores[\"empathy\"] >= 0.5 and difficulty != ' in out
    _dot_ok(out)


_DOT_ID = r'"(?:[^"\\]|\\.)*"'
_DOT_ATTRS = rf'\[[a-z]+=({_DOT_ID}|[A-Za-z0-9]+)(, [a-z]+=({_DOT_ID}|[A-Za-z0-9]+))*\]'
_DOT_LINE = re.compile("|".join([
    rf"digraph {_DOT_ID} \{{",
    r"    rankdir=TB;",
    rf"    (node|edge) {_DOT_ATTRS};",
    rf"    {_DOT_ID}( {_DOT_ATTRS})?;",
    rf"    {_DOT_ID} -> {_DOT_ID}( {_DOT_ATTRS})?;",
    r"\}",
]))


def _dot_ok(text: str) -> None:
    for line in text.splitlines():
        assert _DOT_LINE.fullmatch(line), f"not a dot statement this writer makes: {line!r}"
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_graph_dot_is_well_formed_and_complete():
    s = _tire()
    code, out, _ = run_cli("graph", "tire-return", "--format", "dot")
    assert code == 0
    _dot_ok(out)
    for beat in s.beats:
        assert f'"beat:{beat.id}" [label="{beat.id}"' in out
    for ending in s.endings:
        assert f'"end:{ending.id}" [label="{ending.id} ({ending.kind.value})"' in out
    assert '"beat:opening" -> "beat:insists" [label="always"];' in out
    assert '"any beat" -> "end:storms_out" [label="patience runs out"' in out


def test_graph_of_a_broken_scenario_prints_its_problems(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(TIRE.read_text().replace("to: doubt\n", "to: doubts\n", 1))
    code, out, err = run_cli("graph", str(path))
    assert code == 2 and out == ""
    assert f"{path}:{line_of(path, 'to: doubts')}:" in err and "no beat with id 'doubts'" in err


def test_graph_of_an_unknown_id_says_so():
    code, _, err = run_cli("graph", "tire-retrun")
    assert code == 2 and "did you mean 'tire-return'" in err


# -- lints ---------------------------------------------------------------------------------------------------------


def lint_copy(tmp_path: Path, *swaps: tuple[str, str]) -> tuple[Path, list[tuple[int, int, str]]]:
    text = TIRE.read_text()
    for old, new in swaps:
        assert old in text, f"test setup: {old!r} not in tire-return.yaml"
        text = text.replace(old, new, 1)
    path = tmp_path / "weak.yaml"
    path.write_text(text)
    code, out, err = run_cli("validate", str(path))
    assert code == 0, out  # warnings never fail validate
    assert " 0 error(s)" in err
    return path, warnings_in(out)


def only(warnings, fragment: str):
    found = [w for w in warnings if fragment in w[2]]
    assert len(found) == 1, warnings
    return found[0]


def test_the_untouched_scenario_has_no_lint_warnings(tmp_path):
    _, warnings = lint_copy(tmp_path)
    assert warnings == []


def test_one_line_beat_without_fallback_can_trap_the_trainee(tmp_path):
    path, warnings = lint_copy(
        tmp_path, ('      - "I\'m not imagining it. I was standing right here when I paid for it."\n', ""))
    line, col, _ = only(warnings, "beat 'insists' has only one line and no fallback transition")
    assert line == line_of(path, "Are you calling me a liar?")


def test_one_line_beat_the_conversation_comes_back_to(tmp_path):
    # relief gets one line and a fallback back to doubt, which can lead to relief again: a cycle.
    path, warnings = lint_copy(
        tmp_path,
        ('      - "So it was them. I feel silly now. Can you tell them I\'m coming?"\n', ""),
        ("      - end: grudging\n", "      - to: doubt\n"),
    )
    line, _, message = only(warnings, "beat 'relief' has only one line")
    assert "repeats it word for word" in message and line == line_of(path, "Oh. Right.")


def test_one_line_at_a_difficulty(tmp_path):
    # opening: two plain lines become one, plus a hard-only variant: one line at easy and medium.
    path, warnings = lint_copy(
        tmp_path, ('      - "This tyre came from your shop and it\'s worn through already. Refund, please."\n', ""),
        ("      - to: insists\n", "      - when: turn > 1\n        to: insists\n"))
    _, _, message = only(warnings, "beat 'opening' has only one line at easy and medium difficulty")
    assert "no fallback" in message


def test_line_repeated_word_for_word_within_a_beat(tmp_path):
    path, warnings = lint_copy(tmp_path, (
        '      - "Hmm. Maybe it was the same day I came in for compost. But I paid here, I think."',
        '      - "Well… I did go to the car place across the car park that day too.  But the receipt said {{ store }}, I\'m sure."'))
    line, col, _ = only(warnings, "repeats line 1 of beat 'doubt' word for word")
    assert (line, col) == (line_of(path, "Well… I did go", nth=2), 9)


def test_endings_that_start_alike(tmp_path):
    path, warnings = lint_copy(tmp_path, ('line: "I want to speak to your manager. Now."',
                                          'line: "Forget it. Get me your manager."'))
    line, col, message = only(warnings, "starts like ending")
    assert "ending 'storms_out' starts like ending 'wants_manager'" in message and '"Forget it' in message
    assert line == line_of(path, "Forget it. I'm never shopping")


def test_goal_examples_blank_or_shared(tmp_path):
    path, warnings = lint_copy(
        tmp_path,
        ('      - "This store doesn\'t carry tyres, which is why I can\'t process it at this till."', '      - "  "'),
        ('      - "Let me walk you over to Parkway Car Centre and explain it to them myself."',
         '      - "That\'s a long drive with a tyre in the boot, I can see why you\'re annoyed."'),
    )
    line, col, _ = only(warnings, "goal 'explain_kindly' has a blank example")
    assert (line, col) == (line_of(path, '- "  "'), 9)
    line, _, message = only(warnings, "goal 'acknowledge_trip' has this example too")
    assert line == line_of(path, "That's a long drive", nth=2)


def test_goal_with_the_same_examples_as_another(tmp_path):
    text = TIRE.read_text()
    block = text.split("  - id: explain_kindly\n")[0].split("  - id: acknowledge_trip\n")[1]
    examples = block.split("    examples:\n")[1]
    path, warnings = lint_copy(tmp_path, (text.split("  - id: explain_kindly\n")[1].split("  - id: solve_it")[0]
                                          .split("    examples:\n")[1], examples))
    _, _, message = only(warnings, "has the same examples as goal 'acknowledge_trip'")
    assert "goal 'explain_kindly'" in message


@pytest.mark.parametrize("condition, says", [
    ("scores.empathy > 1", "scores.empathy is 0–1"),
    ("mood < 0", "mood is 0–100"),
    ("turn > 8", "turn is 1–8"),
    ("levels.empathy > 2", "levels.empathy is 0–2"),
    ("goals.solve_it and not goals.solve_it", "no values of goals.solve_it make it true"),
    ("overall >= 0.5 and overall < 0.5", "overall is 0–1"),
])
def test_condition_that_can_never_hold(tmp_path, condition, says):
    path, warnings = lint_copy(tmp_path, ("when: scores.empathy >= 0.5\n", f"when: {condition}\n"))
    line, col, message = only(warnings, "can never hold")
    assert says in message and "the transition to beat 'doubt' is never taken" in message
    assert (line, col) == (line_of(path, condition), 15)


@pytest.mark.parametrize("condition", [
    "scores.empathy >= 1", "mood <= 0", "turn >= 8", "levels.empathy >= 2", "patience == 1",
    "difficulty == 'hard' and not red_flag", "scores.empathy > scores.ownership", "scores.empathy * 2 > 1",
])
def test_conditions_that_can_hold_are_left_alone(tmp_path, condition):
    _, warnings = lint_copy(tmp_path, ("when: scores.empathy >= 0.5\n", f"when: {condition}\n"))
    assert [w for w in warnings if "can never hold" in w[2]] == []


def test_template_braces_in_the_backstory(tmp_path):
    path, warnings = lint_copy(tmp_path, ("the car centre across the car park does.",
                                          "{{ neighbour }} across the car park does."))
    line, _, message = only(warnings, "persona.backstory is shown as written")
    assert "'{{ neighbour }}'" in message
    assert line == line_of(path, "backstory:")


def test_warnings_reach_play_and_graph_without_stopping_them(tmp_path):
    path, warnings = lint_copy(tmp_path, ("when: scores.empathy >= 0.5\n", "when: mood < 0\n"))
    assert warnings
    code, out, err = run_cli("graph", str(path))
    assert code == 0 and "1 warning(s)" in err
    out = play_to_the_end(path, tmp_path, ["Sorry #e=0.9 o=0.9 s=0.9"] * 8)
    assert "Ending:" in out
