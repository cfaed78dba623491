"""`frontline export` (md, html, json, csv) and `frontline export-labels`."""

from __future__ import annotations

import csv
import io
import html
import json
import re
from html.parser import HTMLParser

import pytest

from helpers.fakes import FakeScorer
from simulator.cli import main
from simulator.services import Services
from simulator.reports.exports import agreement, evidence_segments, label_rows, md_escape, render, svg_chart, to_html
from simulator.store import Store
from helpers.store import COLD, WARM, Clock, play, tire, utc  # noqa: F401 (fixtures)

NASTY = "<script>alert('x')</script> [bold]loud[/bold] & \"quoted\" #e=0.9 o=0.2 s=0.5 goals=acknowledge_trip"


@pytest.fixture
def store(_isolated_data_dir):
    s = Store(now=Clock())  # the default database: the CLI below finds the same one
    yield s
    s.close()


@pytest.fixture
def sessions(store, tire):
    a, _ = play(store, tire, [NASTY] + WARM[1:], trainee="<b>ann</b>")
    b, _ = play(store, tire, COLD, trainee="bob")
    return a, b


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Services(scorer_factory=FakeScorer, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escapes_everything(store, sessions):
    a, _ = sessions
    page = to_html([store.session(a)])
    parsed = _Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags  # the reply's <script> is text, not a tag
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;ann&lt;/b&gt;" in page and "<b>ann</b>" not in page
    text = "".join(parsed.text)
    assert "<script>alert('x')</script> [bold]loud[/bold]" in text  # shown exactly as typed
    assert "<svg" in page and "<polyline" in page  # the chart is inline
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)  # nothing fetched from elsewhere
    assert "<mark" in page and "evidence for empathy" in page
    assert page.count('<section class="session"') == 1
    assert '<span class="who">Margaret (closing)</span>' in page


def test_evidence_phrases_are_found_in_the_reply():
    segments = evidence_segments("Sorry about that. I'll call them now.",
                                 {"empathy": ["Sorry about that."], "ownership": ["i'll CALL them now", "absent"]})
    assert segments == [("Sorry about that.", ("empathy",)), (" ", ()), ("I'll call them now", ("ownership",)),
                        (".", ())]
    both = evidence_segments("abc", {"x": ["ab"], "y": ["bc"]})
    assert both == [("a", ("x",)), ("b", ("x", "y")), ("c", ("y",))]


def test_svg_chart_plots_every_criterion_at_every_turn(store, sessions):
    s = store.session(sessions[0])
    svg = svg_chart(s)
    assert svg.count("<polyline") == 3 and svg.count("<circle") == 3 * len(s.turns)
    assert "pass mark 0.60" in svg


def test_markdown_escapes_and_lists_every_turn(store, sessions):
    s = store.session(sessions[0])
    md = render([s], "md")
    assert md.startswith("# Frontline session report")
    assert "\\<script\\>" in md and "\\[bold\\]" in md and "<script>" not in md
    assert md.count("#### Turn ") == len(s.turns)
    assert md.count("> **Margaret:** ") == len(s.turns) + 1  # the customer by name, closing line included
    assert md_escape("a|b*c") == "a\\|b\\*c"


def test_json_round_trips_the_transcript(store, sessions):
    s = store.session(sessions[0])
    doc = json.loads(render([s], "json", single=True))
    assert doc["id"] == s.id and doc["trainee"] == "<b>ann</b>" and doc["passed"] is s.passed
    assert [t["reply"] for t in doc["turns"]] == [t.reply for t in s.turns]
    assert doc["turns"][0]["scores"] == s.turns[0].scores and doc["turns"][0]["overrides"] == []
    every = json.loads(render(store.sessions(with_turns=True), "json"))
    assert len(every["sessions"]) == 2


def test_csv_has_a_row_per_turn_and_defuses_formulas(store, tire):
    play(store, tire, ["=HYPERLINK(\"http://evil\") #all=0.5", "-1 +1 @x #all=0.5"], finish=False)
    rows = list(csv.DictReader(io.StringIO(render(store.sessions(with_turns=True), "csv"))))
    assert len(rows) == 2
    assert rows[0]["reply"].startswith("'=HYPERLINK") and rows[1]["reply"].startswith("'-1")
    assert {"empathy_score", "ownership_level", "script_avoidance_trainer_level", "empathy_evidence"} <= set(rows[0])


def test_export_command_writes_each_format(store, sessions, tmp_path):
    a, b = sessions
    for fmt in ("md", "html", "json", "csv"):
        target = tmp_path / f"report.{fmt}"
        code, _, err = _cli("export", str(a), "--out", str(target))
        assert code == 0, err
        assert f"as {fmt} to {target}" in err and target.read_text(encoding="utf-8")
    code, out, _ = _cli("export", "--all", "--format", "json")
    assert code == 0 and {s["id"] for s in json.loads(out)["sessions"]} == {a, b}
    code, out, _ = _cli("export", "--all", "--trainee", "bob", "--format", "csv")
    assert code == 0 and len(out.strip().splitlines()) == 1 + len(store.session(b).turns)
    code, out, _ = _cli("export", str(b))
    assert code == 0 and out.startswith("# Frontline session report")  # Markdown on stdout by default


@pytest.mark.parametrize("argv, message", [
    (["export", "999"], "no session with id 999"),
    (["export", "abc"], "'abc' is not a session id"),
    (["export"], "give a SESSION_ID or --all"),
    (["export", "1", "--all"], "give a SESSION_ID or --all"),
    (["export", "1", "--out", "report.pdf"], "cannot tell the format"),
    (["export", "--all", "--trainee", "nobody"], "no sessions to export with those filters"),
    (["export", "1", "--format", "md", "--out", "/no/such/dir/r.md"], "cannot write /no/such/dir/r.md"),
])
def test_export_mistakes_are_explained(store, sessions, argv, message):
    code, _, err = _cli(*argv)
    assert code == 2 and err.startswith("frontline: ") and message in err


def test_labels_take_the_trainer_level_where_overridden_and_the_model_level_elsewhere(store, sessions):
    a, b = sessions
    turn = store.session(a).turns[0]
    store.override(turn.id, "ownership", 2, "she did take it on", "kim")
    rows = label_rows(store.sessions(with_turns=True))
    assert rows == [{
        "id": f"frontline-s{a}-t1", "setting": "Hillside Hardware, a hardware and garden store",
        "context": turn.customer_line, "reply": turn.reply, "empathy": turn.levels["empathy"], "ownership": 2,
        "script_avoidance": turn.levels["script_avoidance"],
    }]
    store.mark_reviewed(b, "kim")
    confirmed = label_rows(store.sessions(with_turns=True), include_confirmed=True)
    assert len(confirmed) == 1 + len(store.session(b).turns)


def test_export_labels_command_writes_jsonl_and_reports_agreement(store, sessions, tmp_path):
    a, b = sessions
    clock = store._now
    turns_a = store.session(a).turns
    store.override(turns_a[0].id, "ownership", 2, "", "kim")
    store.override(turns_a[1].id, "empathy", turns_a[1].levels["empathy"], "model was right", "kim")
    store.mark_reviewed(a, "kim")
    clock.jump(days=7)
    store.mark_reviewed(b, "lee")

    target = tmp_path / "labels.jsonl"
    code, out, err = _cli("export-labels", "--out", str(target))
    assert code == 0, err
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 2 and set(lines[0]) == {"id", "setting", "context", "reply", "empathy", "ownership",
                                                 "script_avoidance"}
    assert "wrote 2 labelled example(s)" in out and "2026-W10" in out and "2026-W11" in out
    week10 = next(line for line in out.splitlines() if line.startswith("2026-W10"))
    n = len(turns_a)
    assert f"{(n - 1) / n:.0%}" in week10  # one ownership level changed out of n turns reviewed that week

    code, out, err = _cli("export-labels")  # JSONL on stdout, the summary on stderr
    assert code == 0 and len(out.splitlines()) == 2 and "Agreement" in err


def test_agreement_by_week(store, sessions):
    a, _ = sessions
    s = store.session(a)
    store.override(s.turns[0].id, "empathy", 0, "", "kim")
    criteria, rows = agreement(store.sessions(with_turns=True))
    assert criteria == ["empathy", "ownership", "script_avoidance"]
    (week, total) = rows
    assert week.period == "2026-W10" and total.period == "all"
    assert week.counts == {"empathy": 1} and week.rate("empathy") == 0.0 and week.rate("ownership") is None


def _override_ann(store, sessions):
    a, _ = sessions
    turns = store.session(a).turns
    store.override(turns[0].id, "empathy", 0, "cold, =SUM(A1)", "kim")  # the model gave it level 2
    store.comment(a, "Warm, but never owns the problem", "kim")
    return a


def test_overrides_count_in_every_format_with_the_models_beside_them(store, sessions):
    a = _override_ann(store, sessions)
    session = store.session(a)
    assert session.overridden and session.final_overall < session.overall
    md = render([session], "md")
    assert "with the trainer's levels (the model's: " in md and "Warm, but never owns the problem" in md
    doc = json.loads(render([session], "json", single=True))
    assert doc["overall"] == pytest.approx(session.final_overall) and doc["model_overall"] == session.overall
    assert doc["comment"] == "Warm, but never owns the problem" and doc["overridden"] is True
    # the feedback shown is the rubric's for the trainer's level, not the model's
    html_text = to_html([session])
    from simulator.content.library import Library
    level0 = Library().rubric("service").criterion("empathy").levels[0].feedback
    assert html.escape(level0, quote=True) in html_text or level0 in md
    rows = list(csv.DictReader(io.StringIO(render([session], "csv"))))
    assert rows[0]["session_comment"] == "Warm, but never owns the problem"
    assert rows[0]["empathy_trainer"] == "kim" and rows[0]["empathy_trainer_comment"] == "cold, =SUM(A1)"
    assert rows[0]["model_session_overall"] != rows[0]["session_overall"]


def test_html_index_has_a_column_per_criterion_and_print_styles(store, sessions):
    text = to_html(store.sessions(with_turns=True, newest_first=False))
    assert "@media print" in text and "break-inside: avoid" in text
    index = text.split('<section class="session index">')[1].split("</section>")[0]
    for cid in ("empathy", "ownership", "script_avoidance", "difficulty"):
        assert f"<th>{cid}</th>" in index


def test_xapi_statements_per_turn_and_per_session(store, sessions):
    a = _override_ann(store, sessions)
    code, out, err = _cli("export", "--all", "--format", "xapi")
    assert code == 0, err
    statements = json.loads(out)
    everything = store.sessions(with_turns=True)
    assert len(statements) == sum(len(s.turns) + 1 for s in everything)
    ids = [st["id"] for st in statements]
    assert len(set(ids)) == len(ids)
    uuid_re = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    for st in statements:
        assert uuid_re.match(st["id"]) and uuid_re.match(st["context"]["registration"])
        assert st["actor"]["account"]["name"] in ("<b>ann</b>", "bob")
        assert st["verb"]["id"].startswith("http://adlnet.gov/expapi/verbs/")
        assert st["object"]["objectType"] == "Activity" and st["object"]["id"].startswith("https://")
        assert 0 <= st["result"].get("score", {"scaled": 0})["scaled"] <= 1
        assert st["timestamp"].endswith("Z")
        assert all(key.startswith("https://") for key in st["result"].get("extensions", {}))
    done = [st for st in statements if st["verb"]["display"]["en-US"] == "completed"]
    ann = next(st for st in done if st["actor"]["name"] == "<b>ann</b>")
    assert ann["result"]["score"]["raw"] == pytest.approx(store.session(a).final_overall, abs=1e-4)
    first_turn = next(st for st in statements if st["verb"]["display"]["en-US"] == "responded"
                      and st["actor"]["name"] == "<b>ann</b>")
    extensions = first_turn["result"]["extensions"]
    assert any(k.endswith("/levels") and v["empathy"] == 0 for k, v in extensions.items())
    assert any(k.endswith("/model-levels") and v["empathy"] == 2 for k, v in extensions.items())
    assert any(k.endswith("/evidence") for k in extensions)
    again = json.loads(_cli("export", "--all", "--format", "xapi")[1])
    assert [st["id"] for st in again] == ids  # re-sending does not duplicate statements


def test_agreement_command_per_criterion_trainer_and_scorer(store, sessions):
    _override_ann(store, sessions)
    a, b = sessions
    store.mark_reviewed(b, "lee")
    code, out, err = _cli("agreement")
    assert code == 0, err
    assert "criterion" in out and "trainer" in out and "scorer version" in out
    assert re.search(r"^kim\s+1\s+0%", out, re.M) and re.search(r"^lee\s+\d+\s+100%", out, re.M)
    code, out, _ = _cli("agreement", "--json")
    report = json.loads(out)
    assert report["by_criterion"]["ownership"]["n"] >= 1 and set(report["by_trainer"]) == {"kim", "lee"}
    assert list(report["by_scorer"]) == ["fake-scorer-1"] or len(report["by_scorer"]) == 1
