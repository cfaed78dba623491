"""One practice session driven the same way everywhere, and one set of checks on every load.

A file that `validate` refuses is refused by `list`, `play` and the picker too; the headless CLI plays through
the same `PracticeSession` the app uses; hostile reply files and options give messages, not tracebacks.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from helpers.content import TIRE
from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.content import library as library_module
from simulator.content.library import Library
from simulator.errors import StoreError
from simulator.services import Services
from simulator.session import PracticeSession, StoreLink, login_name
from simulator.store import Store

ROOT = Path(__file__).resolve().parents[2]

WARM = ("I'm sorry you carried that all the way here #all=0.9 goals=acknowledge_trip",
        "We've never sold tyres; I'll ring Parkway for you now #all=0.9 goals=explain_kindly,solve_it",
        "They're expecting you, ask for Dev #all=0.9")


def run_cli(*argv: str, stdin: str | bytes = "", db: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stream = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8") if isinstance(stdin, bytes) else io.StringIO(stdin)
    services = Services(scorer_factory=lambda: FakeScorer(), stdin=stream, stdout=out, stderr=err,
                        db_url=f"sqlite:///{db}" if db else None)
    code = main(list(argv), services)
    return code, out.getvalue(), err.getvalue()


def copy_with(folder: Path, old: str, new: str, name: str = "broken.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = TIRE.read_text()
    assert old in text, f"test setup: {old!r} not in tire-return.yaml"
    path = folder / name
    path.write_text(text.replace(old, new, 1))
    return path


def replies_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "replies.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def stored_sessions(db: Path) -> int:
    with Store(f"sqlite:///{db}") as store:
        return len(store.sessions())


# -- every load runs every check -------------------------------------------------------------------------------


def test_a_scenario_validate_refuses_is_listed_as_broken_and_play_refuses_it(tmp_path):
    folder = tmp_path / "mine"
    bad = copy_with(folder, "id: tire-return", "id: tire-broken")
    bad.write_text(bad.read_text().replace("to: insists", "to: nowhere", 1))
    code, out, err = run_cli("validate", str(bad))
    assert code == 2 and "no beat with id 'nowhere'" in out

    code, out, err = run_cli("list", "--scenarios", str(folder))  # the global option after the command
    assert code == 0
    assert "tire-return" in out  # the shipped ones are still listed
    assert "(broken)" in out and str(bad) in out and "no beat with id 'nowhere'" in out

    db = tmp_path / "s.db"
    code, out, err = run_cli("play", str(bad), "--replies", replies_file(tmp_path, *WARM), "--db", f"sqlite:///{db}")
    assert code == 2
    assert f"{bad}:" in err and "no beat with id 'nowhere'" in err and "Traceback" not in err
    assert not db.exists() or stored_sessions(db) == 0


def test_structure_and_reference_problems_of_one_file_are_reported_together(tmp_path):
    bad = copy_with(tmp_path, "turn_limit: 8", "turn_limt: 8")
    bad.write_text(bad.read_text().replace("to: insists", "to: nowhere", 1))
    code, out, _ = run_cli("validate", str(bad))
    assert code == 2
    assert "unknown key 'turn_limt'" in out
    assert "no beat with id 'nowhere'" in out  # one run shows both: no second round of fixing


def test_a_rubric_beside_its_scenario_is_found_by_validate_and_play(tmp_path):
    folder = tmp_path / "team"
    rubric = (ROOT / "rubrics" / "service.yaml").read_text().replace("id: service", "id: house_service", 1)
    folder.mkdir()
    (folder / "house-service.yaml").write_text(rubric)
    scenario = copy_with(folder, "rubric: service", "rubric: house_service", "ours.yaml")
    scenario.write_text(scenario.read_text().replace("id: tire-return", "id: ours", 1))
    code, out, _ = run_cli("validate", str(scenario))
    assert code == 0, out
    code, out, err = run_cli("play", str(scenario), "--replies", replies_file(tmp_path, *WARM), "--no-save")
    assert code == 0, err
    assert "Ending: sorted (resolved)" in out


def test_parsing_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    path = copy_with(tmp_path, "id: tire-return", "id: cached", "cached.yaml")
    calls = []
    real = library_module.load_yaml_file
    monkeypatch.setattr(library_module, "load_yaml_file", lambda p: calls.append(p) or real(p))
    library = Library([tmp_path])
    for _ in range(3):
        assert library.find_scenario("cached").usable
        Library([tmp_path]).load(path)
    assert len(calls) == 1
    path.write_text(path.read_text().replace("title: ", "title: Edited ", 1) + "\n")
    assert Library([tmp_path]).scenario("cached").title.startswith("Edited")
    assert len(calls) == 2


# -- one session object ----------------------------------------------------------------------------------------


def test_the_headless_play_stores_the_session_through_the_practice_session(tmp_path):
    db = tmp_path / "s.db"
    code, out, err = run_cli("play", "tire-return", "--trainee", "ana", "--replies",
                             replies_file(tmp_path, *WARM), "--db", f"sqlite:///{db}")
    assert code == 0, err
    with Store(f"sqlite:///{db}") as store:
        (session,) = store.sessions(with_turns=True)
        assert session.trainee == "ana" and session.finished and len(session.turns) == 3
        assert session.model_version == FakeScorer.version  # passed from the scores, not fished out


def test_a_session_is_stored_from_its_first_reply_and_resumes(tmp_path):
    library = Library()
    loaded = library.find_scenario("tire-return")
    scenario, rubric = library.require(loaded), library.rubric_for(loaded)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    link = StoreLink(lambda: store)
    session = PracticeSession.start(scenario, rubric, trainee="bo", seed=2, scorer=FakeScorer(), link=link)
    assert store.sessions() == []  # opening a scenario stores nothing
    session.submit(WARM[0])
    assert [s.id for s in store.sessions()] == [session.session_id]
    again = PracticeSession.resume(scenario, rubric, trainee="bo", scorer=FakeScorer(), link=link)
    assert again is not None and again.session_id == session.session_id
    assert again.conversation.state == session.conversation.state
    for reply in WARM[1:]:
        again.submit(reply)
    assert again.finished and store.session(again.session_id).finished
    store.close()


def test_a_lenient_link_warns_once_and_the_session_plays_on_unsaved(tmp_path):
    def broken_store():
        raise StoreError("the database is on fire")

    warnings: list[str] = []
    library = Library()
    scenario = library.scenario("tire-return")
    rubric = library.rubric(scenario.rubric)
    session = PracticeSession.start(scenario, rubric, trainee="bo", scorer=FakeScorer(),
                                    link=StoreLink(broken_store, warn=warnings.append))
    for reply in WARM:
        session.submit(reply)
    assert session.finished and session.session_id is None
    assert len(warnings) == 1 and "on fire" in warnings[0]
    strict = PracticeSession.start(scenario, rubric, trainee="bo", scorer=FakeScorer(), link=StoreLink(broken_store))
    with pytest.raises(StoreError, match="on fire"):
        strict.submit(WARM[0])


def test_trainee_in_a_line_is_the_login_name_without_trainee(tmp_path):
    scenario = copy_with(tmp_path, 'lines:', 'lines:\n      - "Are you {{ trainee }}?"', "named.yaml")
    text = scenario.read_text().replace("id: tire-return", "id: named", 1)
    # keep only the new line for the opening beat, so the opening is certainly it
    scenario.write_text(text)
    code, out, err = run_cli("play", str(scenario), "--replies", "-", "--json", "--no-save", stdin=WARM[0])
    assert code == 0, err
    doc = json.loads(out)
    assert "None" not in doc["opening"]
    if "Are you" in doc["opening"]:
        assert doc["opening"] == f"Are you {login_name()}?"


# -- hostile reply files and options --------------------------------------------------------------------------


def test_only_a_newline_ends_a_reply(tmp_path):
    text = "First \u2028part and\x0csecond part #all=0.9\nSecond reply #all=0.9\n"
    path = tmp_path / "r.txt"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("play", "tire-return", "--replies", str(path), "--json", "--no-save")
    assert code == 0, err
    turns = json.loads(out)["turns"]
    assert len(turns) == 2
    assert turns[0]["reply"] == "First \u2028part and\x0csecond part #all=0.9"


def test_invalid_utf8_in_replies_is_refused_with_its_line(tmp_path):
    path = tmp_path / "r.txt"
    path.write_bytes(b"hello #all=0.9\nbad \xff\xfe bytes\n")
    code, out, err = run_cli("play", "tire-return", "--replies", str(path), "--no-save")
    assert code == 2 and f"{path}:2: not valid UTF-8" in err and "Traceback" not in err
    code, out, err = run_cli("play", "tire-return", "--replies", "-", "--no-save", stdin=b"ok\n\xc3\x28\n")
    assert code == 2 and "<stdin>:2: not valid UTF-8" in err


def test_a_nul_byte_in_a_reply_is_refused_before_the_session_starts(tmp_path):
    db = tmp_path / "s.db"
    code, out, err = run_cli("play", "tire-return", "--replies", replies_file(tmp_path, WARM[0], "bad\x00reply"),
                             "--db", f"sqlite:///{db}")
    assert code == 2 and "reply 2" in err and "NUL" in err
    assert not db.exists() or stored_sessions(db) == 0


@pytest.mark.parametrize("seed", ["99999999999999999999999", "-1"])
def test_a_seed_beyond_what_the_store_keeps_is_refused(tmp_path, seed, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli("play", "tire-return", "--replies", replies_file(tmp_path, *WARM), "--seed", seed)
    assert exit_.value.code == 2
    assert "the seed must be between 0 and" in capsys.readouterr().err


def test_transcript_strips_escape_sequences_from_replies(tmp_path):
    code, out, _ = run_cli("play", "tire-return", "--replies",
                           replies_file(tmp_path, "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b2J #all=0.9"), "--no-save")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "␛[31mred" in out


def test_global_options_work_after_the_command(tmp_path):
    db = tmp_path / "after.db"
    code, _, err = run_cli("play", "tire-return", "--replies", replies_file(tmp_path, *WARM), "--db", f"sqlite:///{db}")
    assert code == 0, err
    assert stored_sessions(db) == 1
    code, out, err = run_cli("progress", "--db", f"sqlite:///{db}")
    assert code == 0, err
    code, out, err = run_cli("--db", f"sqlite:///{db}", "progress")
    assert code == 0, err


def test_validate_checks_what_an_ending_requires_and_the_scenarios_own_tests(tmp_path):
    bad = copy_with(tmp_path, "summary: She leaves calm", "requires: [solve_itt]\n    summary: She leaves calm")
    text = bad.read_text()
    if "\ntests:" not in text:
        text += "tests:\n  cases: []\n"
    bad.write_text(text.replace("\ntests:\n", "\ntests:\n  profiles:\n    - name: idael\n      must_pass: true\n", 1))
    code, out, _ = run_cli("validate", str(bad))
    assert code == 2
    assert "ending 'sorted' requires a goal 'solve_itt' the scenario does not have; did you mean 'solve_it'?" in out
    assert "no built-in profile 'idael'; did you mean 'ideal'?" in out
    line = next(n for n, l in enumerate(bad.read_text().splitlines(), 1) if "solve_itt" in l)
    assert f"{bad}:{line}:" in out


def test_check_results_are_kept_on_disk_until_the_file_or_a_rubric_it_sees_changes(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    path = copy_with(folder, "id: tire-return", "id: kept", "kept.yaml")
    path.write_text(path.read_text().replace("to: insists", "to: nowhere", 1))
    calls = []
    real = library_module.check_scenario
    monkeypatch.setattr(library_module, "check_scenario", lambda *a: calls.append(1) or real(*a))

    def fresh_process_load():
        library_module._cache.clear()  # what a new process starts with
        return Library([folder]).load(path)

    first = fresh_process_load()
    again = fresh_process_load()
    assert len(calls) == 1  # the second process read the first one's results
    assert [str(p) for p in again.problems] == [str(p) for p in first.problems]
    assert any("no beat with id 'nowhere'" in p.message for p in again.errors)
    # a rubric beside the scenario is something it can see: adding one checks it again
    (folder / "house.yaml").write_text((ROOT / "rubrics" / "service.yaml").read_text().replace("id: service", "id: house", 1))
    fresh_process_load()
    assert len(calls) == 2
    path.write_text(path.read_text().replace("to: nowhere", "to: insists", 1))
    assert fresh_process_load().usable and len(calls) == 3
