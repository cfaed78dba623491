"""`frontline progress`: how a trainee's scores move over their sessions, or how the team is doing.

Text (a plotext chart and tables) works in any terminal, in a pipe and in a test; the team report is also HTML
(printable: print styles, one page per section where it fits) and CSV. Every figure counts the result in force:
the trainer's levels where they overrode the model (`StoredSession.final_passed`, `criterion_averages`).
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Sequence

from simulator.reports.exports import criteria_of, local_time
from simulator.store import Store, StoredSession, StoreError
from simulator.terminal import clean

CHART_HEIGHT = 16


def _shown(text: object) -> str:
    """Stored or typed text (names, scenario ids, criteria) as one inert line for the report."""
    return clean("" if text is None else text, one_line=True)


def _markers(criteria: Sequence[str]) -> dict[str, str]:
    """One letter per criterion for the chart (its initial, else the next free letter of its name, else a digit)."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for k, cid in enumerate(criteria):
        choice = next((ch.upper() for ch in cid if ch.isalpha() and ch.upper() not in used), str(k + 1))
        used.add(choice)
        out[cid] = choice
    return out


def chart(sessions: Sequence[StoredSession], criteria: Sequence[str], *, title: str, width: int = 78,
          height: int = CHART_HEIGHT) -> str:
    """Per-criterion average of each session (x: session 1..n, y: 0–1), built with plotext, without colour."""
    import plotext

    figure = plotext.figure
    figure.clear.all()
    figure.plot_size(width, height)
    figure.theme("colorless")
    markers = _markers(criteria)
    xs = list(range(1, len(sessions) + 1))
    for cid in criteria:
        points = [(x, s.criterion_averages()[cid]) for x, s in zip(xs, sessions) if cid in s.criterion_averages()]
        if not points:
            continue
        signal = figure.signal([p[0] for p in points], [p[1] for p in points], marker=markers[cid])
        if len(points) > 1:
            signal.lines()
        figure.draw(signal)
    figure.ruler("y").lim(0, 1)
    if len(xs) == 1:
        figure.ruler("x").lim(0.5, 1.5)
    step = max(1, (len(xs) + 11) // 12)  # at most about a dozen labelled ticks
    figure.ruler("x").ticks(xs[::step])
    figure.legend(active=False)
    figure.title(_shown(title))
    text = figure.build().string(colorless=True)
    figure.clear.all()
    key = "   ".join(f"{markers[c]} {_shown(c)}" for c in criteria)
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines + [" " * 4 + key]) + "\n"


def _table(head: list[str], rows: list[list[str]], *, left: int = 1) -> list[str]:
    """A plain table: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _avg(values: list[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "-"


def _passed(s: StoredSession) -> bool:
    return bool(s.final_passed)


def _floors(s: StoredSession) -> dict[str, float]:
    """Each criterion's floor for this session: kept with it (schema 4), else from its rubric, else 0.4."""
    if s.result_rule and isinstance(s.result_rule.get("floors"), dict):
        return dict(s.result_rule["floors"])
    from simulator.reports.feedback import rubric_of as _rubric

    rubric = _rubric(s.rubric_id)
    if rubric is not None:
        return {c.id: c.floor for c in rubric.criteria}
    return {c: 0.4 for c in s.criterion_averages()}


def _names(s: StoredSession) -> dict[str, str]:
    from simulator.reports.feedback import rubric_of as _rubric

    rubric = _rubric(s.rubric_id)
    return {c.id: c.name for c in rubric.criteria} if rubric is not None else {}


@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    scenario: str | None = None
    difficulty: str | None = None
    trainee: str | None = None

    def words(self) -> str:
        parts = [f"{k} {_shown(v)}" for k, v in (("from", self.since), ("to", self.until),
                 ("scenario", self.scenario), ("difficulty", self.difficulty), ("trainee", self.trainee)) if v]
        return "; ".join(parts)


def select(store: Store, filters: Filters) -> list[StoredSession]:
    found = store.sessions(trainee=filters.trainee, scenario=filters.scenario, since=filters.since,
                           until=filters.until, newest_first=False)
    if filters.difficulty:
        found = [s for s in found if s.difficulty == filters.difficulty]
    return found


def trainee_report(store: Store, trainee: str, *, width: int = 78, filters: Filters | None = None) -> str:
    filters = Filters(**{**(filters.__dict__ if filters else {}), "trainee": trainee})
    sessions = [s for s in select(store, filters) if s.finished]
    if not sessions:
        if trainee not in store.trainees():
            known = ", ".join(store.trainees()) or "none yet"
            raise StoreError(f"no trainee called {trainee!r}; trainees with sessions: {known}")
        return f"{_shown(trainee)} has no finished sessions yet" + (
            f" ({filters.words()})" if filters.words() != f"trainee {_shown(trainee)}" else "") + ".\n"
    criteria = criteria_of(sessions)
    passed = sum(1 for s in sessions if _passed(s))
    out = [f"Progress of {_shown(trainee)}: {len(sessions)} finished session(s), {passed} passed "
           f"({passed / len(sessions):.0%})", ""]
    out.append(chart(sessions, criteria, title=f"{trainee}: average score per criterion, by session", width=width))
    head = ["#", "date", "scenario", "mode", "ending"] + [_shown(c) for c in criteria] + ["overall", "result"]
    rows = []
    for n, s in enumerate(sessions, 1):
        averages = s.criterion_averages()
        rows.append([str(n), local_time(s.started_at), _shown(s.scenario_id), _shown(s.mode), _shown(s.ending)]
                    + [f"{averages[c]:.2f}" if c in averages else "-" for c in criteria]
                    + [f"{s.final_overall:.2f}" if s.final_overall is not None else "-",
                       ("PASS" if _passed(s) else "FAIL") + ("*" if s.overridden else "")])
    out += _table(head, rows, left=5)
    if any(s.overridden for s in sessions):
        out.append("* with the trainer's levels (a trainer overrode the model)")
    if len(sessions) > 1:
        first, last = sessions[0].criterion_averages(), sessions[-1].criterion_averages()
        moves = [f"{_shown(c)} {first[c]:.2f} → {last[c]:.2f} ({last[c] - first[c]:+.2f})"
                 for c in criteria if c in first and c in last]
        out += ["", "First to last session: " + ", ".join(moves)]
    return "\n".join(out) + "\n"


def week_start(now: datetime) -> datetime:
    """Monday 00:00 (local time) of the week `now` is in."""
    local = now.astimezone()
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Rate:
    label: str
    finished: int = 0
    failed: int = 0
    started: int = 0
    overall: list[float] = field(default_factory=list)

    @property
    def fail_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None


@dataclass
class TeamFigures:
    filters: Filters
    started: int
    finished: int
    passed: int
    this_week: int
    monday: datetime
    criteria: list[str]
    names: dict[str, str]
    trainees: list[list[str]]
    trainee_head: list[str]
    scenarios: list[Rate]
    criterion_rows: list[tuple[str, float, float, int, int]]
    """(criterion, team average, floor, sessions under the floor, finished sessions)"""
    trends: list[tuple[str, str, int, float, float]]
    """(scenario, difficulty, sessions, first-half average, second-half average)"""
    weakest_criterion: str | None
    weakest_scenario: Rate | None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def team_figures(store: Store, *, now: datetime | None = None, filters: Filters | None = None) -> TeamFigures | None:
    filters = filters or Filters()
    now = now or datetime.now().astimezone()
    monday = week_start(now)
    everything = select(store, filters)
    if not everything:
        return None
    finished = [s for s in everything if s.finished]
    criteria = criteria_of(finished)
    names: dict[str, str] = {}
    for s in finished[:1]:
        names = _names(s)
    people = sorted({s.trainee for s in everything})
    trainee_head = (["trainee", "started", "finished", "this week", "fail rate"] + [_shown(c) for c in criteria]
                    + ["overall", "last session"])
    trainee_rows = []

    def row_for(label: str, mine: list[StoredSession], all_mine: list[StoredSession]) -> list[str]:
        week = sum(1 for s in all_mine if s.started_at >= monday)
        failed = sum(1 for s in mine if not _passed(s))
        cells = [_shown(label), str(len(all_mine)), str(len(mine)), str(week),
                 _pct(failed / len(mine) if mine else None)]
        for c in criteria:
            cells.append(_avg([s.criterion_averages()[c] for s in mine if c in s.criterion_averages()]))
        cells.append(_avg([s.final_overall for s in mine if s.final_overall is not None]))
        cells.append(local_time(max(s.started_at for s in all_mine))[:10] if all_mine else "-")
        return cells

    for name in people:
        trainee_rows.append(row_for(name, [s for s in finished if s.trainee == name],
                                    [s for s in everything if s.trainee == name]))
    trainee_rows.append(row_for("team", finished, everything))

    scenarios: dict[str, Rate] = {}
    for s in everything:
        rate = scenarios.setdefault(s.scenario_id, Rate(s.scenario_id))
        rate.started += 1
        if s.finished:
            rate.finished += 1
            rate.failed += int(not _passed(s))
            if s.final_overall is not None:
                rate.overall.append(s.final_overall)

    criterion_rows = []
    for c in criteria:
        values, under, counted = [], 0, 0
        for s in finished:
            averages = s.criterion_averages()
            if c not in averages:
                continue
            counted += 1
            values.append(averages[c])
            under += int(averages[c] < _floors(s).get(c, 0.4))
        floor = next((_floors(s).get(c) for s in finished if c in _floors(s)), 0.4)
        criterion_rows.append((c, sum(values) / len(values) if values else 0.0, floor or 0.4, under, counted))

    trends = []
    groups: dict[tuple[str, str], list[StoredSession]] = {}
    for s in finished:
        groups.setdefault((s.scenario_id, s.difficulty), []).append(s)
    for (scenario, difficulty), mine in sorted(groups.items()):
        if len(mine) < 2:
            continue
        half = len(mine) // 2
        first = [s.final_overall or 0.0 for s in mine[:half]]
        last = [s.final_overall or 0.0 for s in mine[len(mine) - half:]]
        trends.append((scenario, difficulty, len(mine), sum(first) / len(first), sum(last) / len(last)))

    weakest_criterion = None
    if criterion_rows:
        # most sessions under the floor first, then the lowest average
        weakest_criterion = min(criterion_rows, key=lambda r: (-(r[3] / r[4] if r[4] else 0), r[1]))[0]
    judged = [r for r in scenarios.values() if r.finished]
    weakest_scenario = min(judged, key=lambda r: (-(r.fail_rate or 0), sum(r.overall) / len(r.overall)
                                                  if r.overall else 0)) if judged else None
    return TeamFigures(filters, len(everything), len(finished), sum(1 for s in finished if _passed(s)),
                       sum(1 for s in everything if s.started_at >= monday), monday, criteria, names, trainee_rows,
                       trainee_head, sorted(scenarios.values(), key=lambda r: r.label), criterion_rows, trends,
                       weakest_criterion, weakest_scenario)


def _headline(f: TeamFigures) -> list[str]:
    unfinished = f.started - f.finished
    lines = [f"Team progress: {len(f.trainees) - 1} trainee(s); {f.started} session(s) started, {f.finished} "
             f"finished ({f.passed} passed, {f.finished - f.passed} failed)"
             + (f", {unfinished} not finished" if unfinished else "")
             + f"; {f.this_week} started this week (since {f.monday:%a %Y-%m-%d})"]
    if f.filters.words():
        lines.append(f"Only sessions with {f.filters.words()}.")
    if f.weakest_criterion is not None:
        row = next(r for r in f.criterion_rows if r[0] == f.weakest_criterion)
        name = _shown(f.names.get(row[0], row[0]))
        lines.append(f"Weakest criterion: {name} — team average {row[1]:.2f}; under its floor of {row[2]:.2f} in "
                     f"{row[3]} of {row[4]} finished session(s) ({_pct(row[3] / row[4] if row[4] else None)}), "
                     "each of which fails.")
    if f.weakest_scenario is not None:
        r = f.weakest_scenario
        lines.append(f"Weakest scenario: {_shown(r.label)} — {r.failed} of {r.finished} finished session(s) failed "
                     f"({_pct(r.fail_rate)}), average {_avg(r.overall)}.")
    return lines


def _scenario_rows(f: TeamFigures) -> tuple[list[str], list[list[str]]]:
    return (["scenario", "started", "finished", "failed", "fail rate", "overall"],
            [[_shown(r.label), str(r.started), str(r.finished), str(r.failed), _pct(r.fail_rate), _avg(r.overall)]
             for r in f.scenarios])


def _criterion_rows(f: TeamFigures) -> tuple[list[str], list[list[str]]]:
    return (["criterion", "average", "floor", "under floor", "fail rate"],
            [[_shown(c), f"{avg:.2f}", f"{floor:.2f}", f"{under} of {n}", _pct(under / n if n else None)]
             for c, avg, floor, under, n in f.criterion_rows])


def _trend_rows(f: TeamFigures) -> tuple[list[str], list[list[str]]]:
    return (["scenario", "difficulty", "sessions", "earlier", "later", "change"],
            [[_shown(sc), _shown(d), str(n), f"{a:.2f}", f"{b:.2f}", f"{b - a:+.2f}"] for sc, d, n, a, b in f.trends])


def team_report(store: Store, *, now: datetime | None = None, filters: Filters | None = None) -> str:
    f = team_figures(store, now=now, filters=filters)
    if f is None:
        if filters and filters.words():
            return f"No sessions with {filters.words()}.\n"
        return "No sessions stored yet: play one with `frontline play SCENARIO`.\n"
    out = _headline(f) + [""]
    table = _table(f.trainee_head, f.trainees)
    out += table[:-1] + [table[1], table[-1]] + [""]
    out += ["Fail rate per scenario:"] + _table(*_scenario_rows(f)) + [""]
    out += ["Fail rate per criterion (a criterion fails a session when its average is under its floor):"]
    out += _table(*_criterion_rows(f)) + [""]
    if f.trends:
        out += ["Trend within each scenario and difficulty (average overall, earlier half → later half):"]
        out += _table(*_trend_rows(f), left=2) + [""]
    out += ["started counts every session; finished, fail rate and averages count finished sessions, with the "
            "trainer's levels where they overrode the model. `frontline progress --trainee NAME` shows one "
            "trainee's trend."]
    return "\n".join(out) + "\n"


def team_csv(store: Store, *, now: datetime | None = None, filters: Filters | None = None) -> str:
    f = team_figures(store, now=now, filters=filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["table", "name"] + ["value"] * 0 + ["started", "finished", "failed", "fail_rate", "overall"]
                    + [f"{c}_average" for c in (f.criteria if f else [])])
    if f is None:
        return buffer.getvalue()

    def cell(text: str) -> str:
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text

    for row in f.trainees:
        started, finished, _week, rate = row[1], row[2], row[3], row[4]
        failed = round(float(rate.rstrip("%")) / 100 * int(finished)) if rate != "-" else 0
        writer.writerow(["trainee", cell(row[0]), started, finished, failed, rate, row[-2]]
                        + row[5:5 + len(f.criteria)])
    for r in f.scenarios:
        writer.writerow(["scenario", cell(r.label), r.started, r.finished, r.failed, _pct(r.fail_rate),
                         _avg(r.overall)] + [""] * len(f.criteria))
    for c, avg, floor, under, n in f.criterion_rows:
        writer.writerow(["criterion", cell(c), "", n, under, _pct(under / n if n else None), ""]
                        + [f"{avg:.2f}" if cid == c else "" for cid in f.criteria])
    return buffer.getvalue()


_PRINT = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d1d1f; margin: 24px auto; max-width: 980px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.headline { font-size: 15px; background: #f4f4f0; padding: 10px 14px; border-left: 4px solid #d55e00; }
@media print {
  @page { margin: 14mm; }
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  table, .headline { break-inside: avoid; }
  h2 { break-after: avoid; }
  .headline { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def team_html(store: Store, *, now: datetime | None = None, filters: Filters | None = None) -> str:
    f = team_figures(store, now=now, filters=filters)
    e = lambda t: html.escape(_shown(t))  # noqa: E731

    def table(head: list[str], rows: list[list[str]]) -> str:
        return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")

    parts = ["<h1>Frontline: team report</h1>"]
    if f is None:
        parts.append("<p>No sessions" + (f" with {e(filters.words())}" if filters and filters.words() else "")
                     + ".</p>")
    else:
        parts.append('<div class="headline">' + "<br>".join(e(line) for line in _headline(f)) + "</div>")
        parts += ["<h2>Trainees</h2>", table(f.trainee_head, f.trainees)]
        parts += ["<h2>Fail rate per scenario</h2>", table(*_scenario_rows(f))]
        parts += ["<h2>Fail rate per criterion</h2>", "<p>A criterion fails a session when its average is under "
                  "its floor.</p>", table(*_criterion_rows(f))]
        if f.trends:
            parts += ["<h2>Trend within each scenario and difficulty</h2>", table(*_trend_rows(f))]
        parts.append("<p>Started counts every session; finished, fail rate and averages count finished sessions, "
                     "with the trainer's levels where they overrode the model.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            f"<title>Frontline team report</title>\n<style>{_PRINT}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")
