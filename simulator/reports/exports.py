"""Sessions written out for people and programs: HTML, Markdown, JSON, CSV; and trainer labels for the scorer.

Every function here takes `StoredSession`s (from `simulator.store`) and returns text; the commands in
`simulator.cli.sessions` decide where it goes. The HTML report is one self-contained file: styles inline, the
per-criterion chart an inline SVG drawn here, no scripts, every piece of stored text HTML-escaped.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from simulator import __version__
from simulator.scoring.evidence import evidence_spans
from simulator.reports.feedback import level_feedback  # noqa: F401  (part of this module's interface)
from simulator.store import Override, StoredSession, StoredTurn
from simulator.terminal import clean

FORMATS = ("md", "html", "json", "csv", "xapi")

# One colour per criterion, in rubric order (then repeated): readable on white, distinct for colour-blind eyes.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
HIGHLIGHT = ("#bfdcf2", "#f8cfb4", "#b5e6d2", "#efcde2", "#f8e0a8", "#cbe7f8")


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@functools.lru_cache(maxsize=1)
def _persona_names() -> dict[str, str]:
    from simulator.content.library import Library

    return {l.model.id: l.model.persona.name for l in Library().scenarios() if l.model is not None}


def customer_name(session: StoredSession) -> str:
    """The persona's name when the scenario is still around (sessions store its id, not the name)."""
    return _persona_names().get(session.scenario_id, "Customer")


def verdict(session: StoredSession) -> str:
    """PASS/FAIL in force (the trainer's levels counted), or "unfinished"."""
    if not session.finished:
        return "unfinished"
    return "PASS" if session.final_passed else "FAIL"


def result_words(session: StoredSession) -> str:
    """The result in force, and the model's beside it when a trainer's override changed it."""
    if not session.finished:
        return f"unfinished after {session.turn_count or len(session.turns)} turn(s)"
    text = f"{verdict(session)}, overall {session.final_overall or 0:.2f} against pass mark {session.pass_mark or 0:.2f}"
    if session.overridden:
        text += (f" with the trainer's levels (the model's: {'PASS' if session.passed else 'FAIL'}, "
                 f"overall {session.overall or 0:.2f})")
    return text


def criteria_of(sessions: Iterable[StoredSession]) -> list[str]:
    """Criterion ids across sessions, in first-seen order."""
    seen: dict[str, None] = {}
    for session in sessions:
        for cid in session.criteria:
            seen.setdefault(cid, None)
        for turn in session.turns:
            for cid in turn.levels:
                seen.setdefault(cid, None)
    return list(seen)


# -- evidence highlighting ---------------------------------------------------------------------------------------


def evidence_segments(reply: str, evidence: dict[str, Sequence[str]]) -> list[tuple[str, tuple[str, ...]]]:
    """Split `reply` into (text, criteria whose evidence covers it) pieces, in order (phrases found as the apps
    find them, `scoring.evidence`; phrases not in the reply are left out)."""
    owners: list[list[str]] = [[] for _ in reply]
    spans, _ = evidence_spans(reply, evidence)
    for cid, places in spans.items():
        for start, end in places:
            for i in range(start, end):
                if cid not in owners[i]:
                    owners[i].append(cid)
    segments: list[tuple[str, tuple[str, ...]]] = []
    for ch, who in zip(reply, owners):
        key = tuple(who)
        if segments and segments[-1][1] == key:
            segments[-1] = (segments[-1][0] + ch, key)
        else:
            segments.append((ch, key))
    return segments


# -- JSON ---------------------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _override_dict(o: Override) -> dict:
    return {"criterion": o.criterion, "model_level": o.model_level, "level": o.level, "comment": o.comment,
            "reviewer": o.reviewer, "at": _iso(o.created_at), "undoes": o.undoes}


def turn_dict(turn: StoredTurn) -> dict:
    data = turn.to_turn().to_dict()
    data["id"] = turn.id
    data["recorded_at"] = _iso(turn.created_at)
    data["trainer_levels"] = {c: o.level for c, o in turn.overrides.items()}
    data["overrides"] = [_override_dict(o) for o in turn.history]
    return data


def session_dict(session: StoredSession) -> dict:
    return {
        "id": session.id,
        "trainee": session.trainee,
        "scenario": session.scenario_id,
        "scenario_title": session.scenario_title,
        "setting": session.setting,
        "scenario_hash": session.content_hash,
        "rubric": session.rubric_id,
        "model_version": session.model_version,
        "difficulty": session.difficulty,
        "mode": session.mode,
        "seed": session.seed,
        "opening": session.opening,
        "started_at": _iso(session.started_at),
        "ended_at": _iso(session.ended_at),
        "finished": session.finished,
        "ending": session.ending,
        "ending_kind": session.ending_kind,
        "ending_summary": session.ending_summary,
        "overall": session.final_overall,
        "pass_mark": session.pass_mark,
        "passed": session.final_passed,
        "averages": session.criterion_averages() or None,
        "overridden": session.overridden,
        "model_overall": session.overall,
        "model_passed": session.passed,
        "model_averages": session.averages,
        "reviewed": session.reviewed,
        "reviewed_by": session.reviewed_by,
        "reviewed_at": _iso(session.reviewed_at),
        "comment": session.comment,
        "comment_by": session.comment_by,
        "comment_at": _iso(session.comment_at),
        "turns": [turn_dict(t) for t in session.turns],
    }


# Everything `simulator.terminal.clean` would swap that json.dumps(ensure_ascii=False) leaves raw (it escapes
# only U+0000–U+001F): DEL, C1 controls, line separators, bidi controls, lone surrogates.
_JSON_RAW_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def json_for_terminal(text: str) -> str:
    """JSON text from json.dumps(ensure_ascii=False) made safe to print: what `clean` would swap is written as a
    \\u escape instead. Such characters only occur inside JSON strings, so the data stays exactly the same."""
    return _JSON_RAW_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def for_terminal(text: str, fmt: str) -> str:
    """A rendered export (or JSONL) made safe for a terminal: JSON escaped losslessly, anything else `clean`ed."""
    return json_for_terminal(text) if fmt in ("json", "jsonl", "xapi") else clean(text)


def to_json(sessions: Sequence[StoredSession], *, single: bool = False) -> str:
    doc = session_dict(sessions[0]) if single else {"sessions": [session_dict(s) for s in sessions]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- CSV: one row per turn --------------------------------------------------------------------------------------


def _cell(text: str | None) -> str:
    """Free text for a spreadsheet: a leading = + - @ would be read as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(sessions: Sequence[StoredSession]) -> str:
    criteria = criteria_of(sessions)
    head = ["session_id", "trainee", "scenario", "started_at", "mode", "difficulty", "seed", "ending", "ending_kind",
            "session_overall", "passed", "model_session_overall", "model_passed", "reviewed", "session_comment",
            "turn", "beat", "customer_line", "reply", "overall"]
    for cid in criteria:
        head += [f"{cid}_score", f"{cid}_level", f"{cid}_trainer_level", f"{cid}_trainer", f"{cid}_trainer_comment",
                 f"{cid}_evidence"]
    head += ["red_flags", "goals_met", "mood_before", "mood_after", "patience_after", "customer_reaction",
             "model_version"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(head)
    for s in sessions:
        for t in s.turns:
            row: list = [s.id, _cell(s.trainee), s.scenario_id, _iso(s.started_at), s.mode, s.difficulty, s.seed,
                         s.ending or "", s.ending_kind or "",
                         "" if s.final_overall is None else f"{s.final_overall:.4f}",
                         "" if s.final_passed is None else str(s.final_passed).lower(),
                         "" if s.overall is None else f"{s.overall:.4f}",
                         "" if s.passed is None else str(s.passed).lower(), str(s.reviewed).lower(),
                         _cell(s.comment), t.number,
                         t.beat, _cell(t.customer_line), _cell(t.reply), f"{t.overall:.4f}"]
            for cid in criteria:
                if cid in t.levels:
                    override = t.overrides.get(cid)
                    row += [f"{t.scores[cid]:.4f}", t.levels[cid], override.level if override else "",
                            _cell(override.reviewer) if override else "", _cell(override.comment) if override else "",
                            _cell(" | ".join(t.evidence.get(cid, [])))]
                else:
                    row += ["", "", "", "", "", ""]
            row += [" ".join(t.red_flags), " ".join(t.goals_met), f"{t.mood_before:.1f}", f"{t.mood_after:.1f}",
                    t.patience_after, _cell(t.customer_reaction), t.model_version]
            writer.writerow(row)
    return buffer.getvalue()


# -- Markdown -----------------------------------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>|#")


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as formatting or HTML (CommonMark escapes)."""
    text = " ".join(text.split("\n"))
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _md_session(s: StoredSession) -> list[str]:
    e = md_escape
    criteria = criteria_of([s])
    out = [f"## Session {s.id}: {e(s.scenario_title or s.scenario_id)}", ""]
    out.append(f"- **Trainee:** {e(s.trainee)}")
    out.append(f"- **Scenario:** `{s.scenario_id}` ({s.difficulty}, seed {s.seed}, {s.mode} mode)")
    out.append(f"- **Started:** {local_time(s.started_at)}" + (f", ended {local_time(s.ended_at)}" if s.ended_at else ""))
    if s.finished:
        out.append(f"- **Result:** {e(result_words(s))}")
        out.append(f"- **Ending:** {e(s.ending or '')} ({s.ending_kind}) — {e(s.ending_summary or '')}")
    else:
        out.append(f"- **Result:** unfinished after {len(s.turns)} turn(s)")
    out.append(f"- **Model:** {e(s.model_version or 'unknown')}")
    if s.reviewed:
        out.append(f"- **Reviewed** by {e(s.reviewed_by or '')} on {local_time(s.reviewed_at)}")
    if s.comment:
        out.append(f"- **Trainer's comment** ({e(s.comment_by or '')}, {local_time(s.comment_at)}): {e(s.comment)}")
    out.append("")
    averages = s.criterion_averages()
    if averages:
        model = s.model_averages()
        out += ["| criterion | average | model's |", "|---|---|---|"]
        out += [f"| {e(cid)} | {avg:.2f} | {model.get(cid, avg):.2f} |" for cid, avg in averages.items()]
        out.append("")
    out += ["### Transcript", ""]
    customer = e(customer_name(s))
    for t in s.turns:
        out.append(f"#### Turn {t.number} ({e(t.beat)})")
        out.append("")
        out.append(f"> **{customer}:** {e(t.customer_line)}")
        out.append(">")
        out.append(f"> **Trainee:** {e(t.reply)}")
        out.append("")
        out += ["| criterion | score | model level | trainer level | evidence | feedback |", "|---|---|---|---|---|---|"]
        for cid in criteria:
            if cid not in t.levels:
                continue
            o = t.overrides.get(cid)
            trainer = f"{o.level} ({e(o.reviewer)}: {e(o.comment)})" if o else ""
            evidence = "; ".join(f"“{e(p)}”" for p in t.evidence.get(cid, []))
            out.append(f"| {e(cid)} | {t.scores[cid]:.2f} | {t.levels[cid]} | {trainer} | {evidence} | "
                       f"{e(level_feedback(s, t, cid))} |")
        out.append("")
        notes = [f"overall {t.overall:.2f}", f"mood {t.mood_before:.0f} → {t.mood_after:.0f}",
                 f"patience {t.patience_after}"]
        if t.red_flags:
            notes.append("red flags: " + e(", ".join(t.red_flags)))
        if t.goals_met:
            notes.append("goals met: " + e(", ".join(t.goals_met)))
        out.append("*" + "; ".join(notes) + "*")
        out.append("")
        if t.nearest_model_reply:
            out.append(f"A stronger reply: {e(t.nearest_model_reply)}")
            out.append("")
    if s.turns:
        last = s.turns[-1]
        out += [f"> **{customer}:** {e(last.customer_reaction)}", ""]
    return out


def to_markdown(sessions: Sequence[StoredSession]) -> str:
    lines = ["# Frontline sessions" if len(sessions) > 1 else "# Frontline session report", ""]
    for s in sessions:
        lines += _md_session(s)
    return "\n".join(lines).rstrip() + "\n"


# -- HTML -----------------------------------------------------------------------------------------------------------


def _h(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def svg_chart(session: StoredSession, width: int = 640, height: int = 240) -> str:
    """Per-criterion score at each turn as an inline SVG line chart (0–1), with the pass mark dashed."""
    criteria = criteria_of([session])
    turns = session.turns
    left, right, top, bottom = 40, 150, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(turns)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n <= 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="Score per criterion at each turn">']
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + plot_w}" y2="{y(v):.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:.2f}</text>')
    for i, t in enumerate(turns):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" class="tick">{t.number}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" class="tick">turn</text>')
    if session.pass_mark is not None:
        py = y(session.pass_mark)
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}" stroke="#888" '
                     'stroke-dasharray="5 4"/>')
    for k, cid in enumerate(criteria):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x(i), y(t.scores[cid])) for i, t in enumerate(turns) if cid in t.scores]
        if len(points) > 1:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for (px, py), t in zip(points, [t for t in turns if cid in t.scores]):
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}">'
                         f'<title>{_h(cid)}, turn {t.number}: {t.scores[cid]:.2f}</title></circle>')
        ly = top + 8 + 20 * k
        lx = left + plot_w + 16
        parts.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 18}" y2="{ly}" stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{lx + 24}" y="{ly + 4}" class="legend">{_h(cid)}</text>')
    if session.pass_mark is not None:
        ly = top + 8 + 20 * len(criteria)
        lx = left + plot_w + 16
        parts.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 18}" y2="{ly}" stroke="#888" stroke-dasharray="5 4"/>')
        parts.append(f'<text x="{lx + 24}" y="{ly + 4}" class="legend">pass mark {session.pass_mark:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _highlighted_reply(turn: StoredTurn, colours: dict[str, int]) -> str:
    out = []
    for text, owners in evidence_segments(turn.reply, turn.evidence):
        if not owners:
            out.append(_h(text))
            continue
        # Tinted with the first criterion's colour, underlined once per criterion (stacked underlines).
        background = HIGHLIGHT[colours.get(owners[0], 0) % len(HIGHLIGHT)]
        lines = ", ".join(f"inset 0 -{2 * (i + 1)}px 0 {PALETTE[colours.get(c, 0) % len(PALETTE)]}"
                          for i, c in enumerate(owners))
        title = "evidence for " + ", ".join(owners)
        out.append(f'<mark style="background: {background}; box-shadow: {lines}; padding-bottom: {2 * len(owners)}px" '
                   f'title="{_h(title)}">{_h(text)}</mark>')
    return "".join(out)


_PRINT_CSS = """
@media print {
  @page { margin: 14mm; }
  body { background: #fff; padding: 0; font-size: 11pt; }
  main { max-width: none; }
  section.session { border: none; border-radius: 0; padding: 0; margin: 0 0 12mm; break-before: page; }
  section.session:first-of-type, section.index { break-before: auto; }
  .turn, table, svg, dl { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  .bar, .swatch, .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  footer { display: none; }
}
"""

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d1d1f; background: #f6f6f4; margin: 0; padding: 24px; }
main { max-width: 980px; margin: 0 auto; }
section.session { background: #fff; border: 1px solid #ddd; border-radius: 10px; padding: 20px 28px; margin-bottom: 28px; }
h1 { font-size: 22px; margin: 0 0 16px; }
h2 { font-size: 20px; margin: 0 0 4px; }
h3 { font-size: 16px; margin: 24px 0 8px; }
.sub { color: #555; margin: 0 0 12px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; }
.pass { background: #d8f0dc; color: #1b5e20; } .fail { background: #fbdada; color: #8e1b1b; }
.unfinished { background: #eee; color: #444; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { color: #555; font-weight: 600; }
table.scores { table-layout: fixed; }
table.scores td { overflow-wrap: anywhere; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { display: inline-block; height: 10px; border-radius: 3px; vertical-align: middle; margin-right: 6px; }
.turn { border-top: 1px solid #eee; padding-top: 12px; margin-top: 16px; }
.turn h4 { margin: 0 0 8px; font-size: 14px; color: #555; }
.line { padding: 8px 12px; border-radius: 8px; margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.customer { background: #f1f1ef; } .trainee { background: #eef5fc; }
.who { font-weight: 600; margin-right: 6px; }
mark { border-radius: 3px; padding: 0 1px; color: inherit; }
.legend-key { font-size: 13px; color: #555; } .legend-key span { margin-right: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
.override { color: #6a3d00; } .note { color: #555; font-size: 13px; }
.flag { color: #8e1b1b; font-weight: 600; }
svg.chart { max-width: 100%; height: auto; }
svg .tick { font-size: 11px; fill: #666; } svg .legend { font-size: 12px; fill: #333; }
footer { color: #777; font-size: 12px; text-align: center; }
"""


def _html_session(s: StoredSession) -> str:
    criteria = criteria_of([s])
    colours = {cid: k for k, cid in enumerate(criteria)}
    status = verdict(s)
    badge = {"PASS": "pass", "FAIL": "fail"}.get(status, "unfinished")
    out = [f'<section class="session" id="session-{s.id}">']
    out.append(f'<h2>{_h(s.scenario_title or s.scenario_id)} <span class="badge {badge}">{_h(status)}</span></h2>')
    out.append(f'<p class="sub">Session {s.id} · {_h(s.trainee)} · {_h(local_time(s.started_at))}</p>')
    facts = [
        ("Scenario", f"{s.scenario_id} ({s.difficulty}, seed {s.seed}, {s.mode} mode)"),
        ("Setting", s.setting),
    ]
    if s.finished:
        facts.append(("Result", result_words(s)))
        facts.append(("Ending", f"{s.ending} ({s.ending_kind}) — {s.ending_summary or ''}"))
    else:
        facts.append(("Result", f"unfinished after {len(s.turns)} turn(s)"))
    facts.append(("Model", s.model_version or "unknown"))
    if s.reviewed:
        facts.append(("Reviewed", f"by {s.reviewed_by} on {local_time(s.reviewed_at)}"))
    if s.comment:
        facts.append(("Trainer's comment", f"{s.comment} — {s.comment_by}, {local_time(s.comment_at)}"))
    out.append('<dl class="facts">' + "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in facts) + "</dl>")

    averages = s.criterion_averages()
    if averages:
        model = s.model_averages()
        out.append("<h3>Scores</h3><table><tr><th>criterion</th><th>average</th><th>model's</th></tr>")
        for cid, avg in averages.items():
            colour = PALETTE[colours.get(cid, 0) % len(PALETTE)]
            out.append(f'<tr><td>{_h(cid)}</td><td class="num"><span class="bar" style="width: {avg * 200:.0f}px; '
                       f'background: {colour}"></span>{avg:.2f}</td><td class="num">{model.get(cid, avg):.2f}</td></tr>')
        out.append("</table>")
    if s.turns:
        out.append("<h3>Score per turn</h3>")
        out.append(svg_chart(s))

    out.append("<h3>Transcript</h3>")
    key = "".join(f'<span><i class="swatch" style="background: {HIGHLIGHT[k % len(HIGHLIGHT)]}; box-shadow: inset 0 '
                  f'-3px 0 {PALETTE[k % len(PALETTE)]}"></i>evidence for {_h(cid)}</span>' for cid, k in colours.items())
    out.append(f'<p class="legend-key">{key}</p>')
    customer = _h(customer_name(s))
    if s.opening and (not s.turns or s.turns[0].customer_line != s.opening):
        out.append(f'<div class="line customer"><span class="who">{customer}</span>{_h(s.opening)}</div>')
    for t in s.turns:
        out.append('<div class="turn">')
        out.append(f"<h4>Turn {t.number} · {_h(t.beat)} · overall {t.overall:.2f} · mood {t.mood_before:.0f} → "
                   f"{t.mood_after:.0f} · patience {t.patience_after}</h4>")
        out.append(f'<div class="line customer"><span class="who">{customer}</span>{_h(t.customer_line)}</div>')
        out.append(f'<div class="line trainee"><span class="who">{_h(s.trainee)}</span>'
                   f"{_highlighted_reply(t, colours)}</div>")
        out.append('<table class="scores"><colgroup><col style="width: 15%"><col style="width: 7%">'
                   '<col style="width: 8%"><col style="width: 20%"><col style="width: 22%"><col></colgroup>'
                   "<tr><th>criterion</th><th>score</th><th>model level</th><th>trainer</th>"
                   "<th>evidence</th><th>feedback</th></tr>")
        for cid in criteria:
            if cid not in t.levels:
                continue
            o = t.overrides.get(cid)
            trainer = ""
            if o:
                trainer = (f'<span class="override">level {o.level}</span> by {_h(o.reviewer)}, '
                           f"{_h(local_time(o.created_at))}" + (f"<br>“{_h(o.comment)}”" if o.comment else ""))
            evidence = "<br>".join(f"“{_h(p)}”" for p in t.evidence.get(cid, []))
            out.append(f'<tr><td>{_h(cid)}</td><td class="num">{t.scores[cid]:.2f}</td><td class="num">'
                       f"{t.levels[cid]}</td><td>{trainer}</td><td>{evidence}</td>"
                       f"<td>{_h(level_feedback(s, t, cid))}</td></tr>")
        out.append("</table>")
        if t.red_flags:
            out.append(f'<p class="flag">Red flags: {_h(", ".join(t.red_flags))}</p>')
        if t.goals_met:
            out.append(f'<p class="note">Goals met: {_h(", ".join(t.goals_met))}</p>')
        if t.nearest_model_reply:
            out.append(f'<p class="note">A stronger reply: “{_h(t.nearest_model_reply)}”</p>')
        out.append("</div>")
    if s.turns:
        closing = f"{customer} (closing)" if s.turns[-1].ending else customer
        out.append(f'<div class="line customer"><span class="who">{closing}</span>'
                   f"{_h(s.turns[-1].customer_reaction)}</div>")
    out.append("</section>")
    return "\n".join(out)


def to_html(sessions: Sequence[StoredSession]) -> str:
    if len(sessions) == 1:
        s = sessions[0]
        title = f"Frontline session {s.id}: {s.scenario_title or s.scenario_id} ({s.trainee})"
    else:
        title = f"Frontline: {len(sessions)} sessions"
    body = [f"<h1>{_h(title)}</h1>"]
    if len(sessions) > 1:
        criteria = criteria_of(sessions)
        body.append("<section class=\"session index\"><table><tr><th>session</th><th>trainee</th><th>scenario</th>"
                    "<th>difficulty</th><th>date</th>" + "".join(f"<th>{_h(c)}</th>" for c in criteria)
                    + "<th>overall</th><th>result</th></tr>")
        for s in sessions:
            overall = "" if s.final_overall is None else f"{s.final_overall:.2f}"
            averages = s.criterion_averages()
            cells = "".join(f'<td class="num">{averages[c]:.2f}</td>' if c in averages else "<td></td>"
                            for c in criteria)
            mark = " *" if s.overridden else ""
            body.append(f'<tr><td><a href="#session-{s.id}">{s.id}</a></td><td>{_h(s.trainee)}</td>'
                        f"<td>{_h(s.scenario_id)}</td><td>{_h(s.difficulty)}</td>"
                        f"<td>{_h(local_time(s.started_at))}</td>{cells}"
                        f'<td class="num">{overall}</td><td>{_h(verdict(s))}{mark}</td></tr>')
        if any(s.overridden for s in sessions):
            body.append('<tr><td colspan="99" class="note">* with the trainer\'s levels</td></tr>')
        body.append("</table></section>")
    body += [_html_session(s) for s in sessions]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">\n"
        f"<title>{_h(title)}</title>\n<style>{_CSS}{_PRINT_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n<footer>Made by Frontline {_h(__version__)}</footer>\n</main>\n</body>\n</html>\n"
    )


def render(sessions: Sequence[StoredSession], fmt: str, *, single: bool = False) -> str:
    if fmt == "html":
        return to_html(sessions)
    if fmt == "md":
        return to_markdown(sessions)
    if fmt == "json":
        return to_json(sessions, single=single)
    if fmt == "csv":
        return to_csv(sessions)
    if fmt == "xapi":
        from simulator.reports.xapi import to_xapi

        return to_xapi(sessions)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


# -- trainer labels for the scorer, and how far trainers agree with the model ---------------------------------------


def label_rows(sessions: Iterable[StoredSession], *, include_confirmed: bool = False) -> list[dict]:
    """One labelled example per turn a trainer overrode (with `include_confirmed`: also every turn of a reviewed
    session), in the scorer's training format: the trainer's level where overridden, the model's elsewhere."""
    rows = []
    for s in sessions:
        for t in s.turns:
            if not t.overrides and not (include_confirmed and s.reviewed):
                continue
            row: dict = {"id": f"frontline-s{s.id}-t{t.number}", "setting": s.setting, "context": t.customer_line,
                         "reply": t.reply}
            row.update(t.effective_levels)
            rows.append(row)
    return rows


def to_jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


@dataclass
class AgreementRow:
    period: str
    """ISO week (e.g. 2026-W09), or "all"."""
    counts: dict[str, int]
    """Reviewed criterion-turns per criterion."""
    kept: dict[str, int]
    """Of those, how many kept the model's level."""
    turns: set[int] = field(default_factory=set)
    """Ids of the turns reviewed."""

    def rate(self, criterion: str) -> float | None:
        n = self.counts.get(criterion, 0)
        return self.kept.get(criterion, 0) / n if n else None

    @property
    def total_rate(self) -> float | None:
        n = sum(self.counts.values())
        return sum(self.kept.values()) / n if n else None


def agreement(sessions: Iterable[StoredSession]) -> tuple[list[str], list[AgreementRow]]:
    """How often trainers kept the model's level, per criterion and ISO week of the review.

    A criterion-turn counts as reviewed when its session is marked reviewed (at the session's review time) or
    when a trainer overrode it (at the override's time, even in a session not yet marked reviewed)."""
    sessions = list(sessions)
    criteria = criteria_of(sessions)
    buckets: dict[str, AgreementRow] = {}
    total = AgreementRow("all", defaultdict(int), defaultdict(int))
    for s in sessions:
        for t in s.turns:
            for cid in t.levels:
                o = t.overrides.get(cid)
                when = o.created_at if o else (s.reviewed_at if s.reviewed else None)
                if when is None:
                    continue
                year, week, _ = when.astimezone().isocalendar()
                period = f"{year}-W{week:02d}"
                row = buckets.setdefault(period, AgreementRow(period, defaultdict(int), defaultdict(int)))
                kept = t.level(cid) == t.levels[cid]
                for target in (row, total):
                    target.counts[cid] += 1
                    target.kept[cid] += int(kept)
                    target.turns.add(t.id)
    rows = [buckets[p] for p in sorted(buckets)]
    return criteria, (rows + [total] if rows else [])


def agreement_table(sessions: Iterable[StoredSession]) -> str:
    criteria, rows = agreement(sessions)
    if not rows:
        return "No reviewed turns yet: agreement between the model and trainers shows once sessions are reviewed.\n"
    head = ["week", "turns"] + [clean(c, one_line=True) for c in criteria] + ["all"]
    body = []
    for row in rows:
        cells = [row.period, str(len(row.turns))]
        for cid in criteria:
            rate = row.rate(cid)
            cells.append("-" if rate is None else f"{rate:.0%}")
        total = row.total_rate
        cells.append("-" if total is None else f"{total:.0%}")
        body.append(cells)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    lines = ["Agreement: share of reviewed criterion-turns where the trainer kept the model's level", ""]
    lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for cells in body:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    if len(rows) > 2:
        first, last = rows[0], rows[-2]
        moves = []
        for cid in criteria:
            a, b = first.rate(cid), last.rate(cid)
            if a is not None and b is not None:
                moves.append(f"{clean(cid, one_line=True)} {a:.0%} → {b:.0%}")
        if moves:
            lines += ["", f"From {first.period} to {last.period}: " + ", ".join(moves)]
    return "\n".join(lines) + "\n"


# -- `frontline agreement`: the model against the trainers, per criterion, trainer and scorer version -----------------


@dataclass
class Judged:
    """One criterion of one turn a trainer judged: overrode it, or kept the model's level in a reviewed session."""

    criterion: str
    trainer: str
    scorer: str
    model_level: int
    level: int


def judged(sessions: Iterable[StoredSession]) -> list[Judged]:
    out: list[Judged] = []
    for s in sessions:
        for t in s.turns:
            for cid in t.levels:
                o = t.overrides.get(cid)
                if o is not None:
                    out.append(Judged(cid, o.reviewer, t.model_version or s.model_version or "unknown",
                                      t.levels[cid], o.level))
                elif s.reviewed:
                    out.append(Judged(cid, s.reviewed_by or "unknown", t.model_version or s.model_version or "unknown",
                                      t.levels[cid], t.levels[cid]))
    return out


def agreement_stats(items: Sequence[Judged]) -> dict[str, float | int]:
    """n, exact (share where the trainer kept the model's level), off_by (mean |trainer − model|), and QWK."""
    from simulator.scoring.metrics import quadratic_weighted_kappa

    n = len(items)
    if not n:
        return {"n": 0}
    truth = [j.level for j in items]
    model = [j.model_level for j in items]
    top = max(truth + model)
    return {"n": n, "exact": sum(a == b for a, b in zip(truth, model)) / n,
            "off_by": sum(abs(a - b) for a, b in zip(truth, model)) / n,
            "qwk": quadratic_weighted_kappa(truth, model, top + 1)}


def agreement_report(sessions: Iterable[StoredSession]) -> dict:
    items = judged(sessions)
    groups: dict[str, dict[str, list[Judged]]] = {"criterion": {}, "trainer": {}, "scorer": {}}
    for j in items:
        groups["criterion"].setdefault(j.criterion, []).append(j)
        groups["trainer"].setdefault(j.trainer, []).append(j)
        groups["scorer"].setdefault(j.scorer, []).append(j)
    by_scorer_criterion: dict[str, dict[str, list[Judged]]] = {}
    for j in items:
        by_scorer_criterion.setdefault(j.scorer, {}).setdefault(j.criterion, []).append(j)
    return {
        "all": agreement_stats(items),
        **{f"by_{kind}": {key: agreement_stats(v) for key, v in sorted(found.items())} for kind, found in groups.items()},
        "by_scorer_and_criterion": {sc: {c: agreement_stats(v) for c, v in sorted(per.items())}
                                    for sc, per in sorted(by_scorer_criterion.items())},
    }


def agreement_text(report: dict) -> str:
    if not report["all"].get("n"):
        return ("No judged turns yet: agreement shows once trainers override levels or mark sessions reviewed "
                "(`frontline review`).\n")

    def table(title: str, rows: dict[str, dict]) -> list[str]:
        head = [title, "judged", "kept", "off by", "QWK"]
        body = [[clean(k, one_line=True), str(v["n"]), f"{v['exact']:.0%}", f"{v['off_by']:.2f}", f"{v['qwk']:.2f}"]
                for k, v in rows.items()]
        widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                      for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
        return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body] + [""]

    a = report["all"]
    out = [f"Model against trainers: {a['n']} judged criterion-turn(s); the trainer kept the model's level in "
           f"{a['exact']:.0%} (QWK {a['qwk']:.2f}, off by {a['off_by']:.2f} levels on average)", ""]
    out += table("criterion", report["by_criterion"])
    out += table("trainer", report["by_trainer"])
    out += table("scorer version", report["by_scorer"])
    if len(report["by_scorer"]) > 1:
        out.append("Per scorer version and criterion (did calibration help? compare the kept share):")
        out.append("")
        for scorer, per in report["by_scorer_and_criterion"].items():
            out += table(clean(scorer, one_line=True)[-60:], per)
    out.append("judged: overridden, or kept in a session marked reviewed; kept: trainer's level = model's; "
               "off by: mean |trainer − model| in levels.")
    return "\n".join(out) + "\n"
