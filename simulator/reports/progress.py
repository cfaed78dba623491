"""`frontline progress`: how a trainee's scores move over their sessions, or how the team is doing.

Plain text only (a plotext chart and tables), so it works in any terminal, in a pipe and in a test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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


def trainee_report(store: Store, trainee: str, *, width: int = 78) -> str:
    sessions = store.sessions(trainee=trainee, finished=True, newest_first=False)
    if not sessions:
        if trainee not in store.trainees():
            known = ", ".join(store.trainees()) or "none yet"
            raise StoreError(f"no trainee called {trainee!r}; trainees with sessions: {known}")
        return f"{_shown(trainee)} has no finished sessions yet.\n"
    criteria = criteria_of(sessions)
    passed = sum(1 for s in sessions if s.passed)
    out = [f"Progress of {_shown(trainee)}: {len(sessions)} finished session(s), {passed} passed "
           f"({passed / len(sessions):.0%})", ""]
    out.append(chart(sessions, criteria, title=f"{trainee}: average score per criterion, by session", width=width))
    head = ["#", "date", "scenario", "mode", "ending"] + [_shown(c) for c in criteria] + ["overall", "result"]
    rows = []
    for n, s in enumerate(sessions, 1):
        averages = s.criterion_averages()
        rows.append([str(n), local_time(s.started_at), _shown(s.scenario_id), _shown(s.mode), _shown(s.ending)]
                    + [f"{averages[c]:.2f}" if c in averages else "-" for c in criteria]
                    + [f"{s.overall:.2f}" if s.overall is not None else "-", "PASS" if s.passed else "FAIL"])
    out += _table(head, rows, left=5)
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


def team_report(store: Store, *, now: datetime | None = None) -> str:
    now = now or datetime.now().astimezone()
    monday = week_start(now)
    everything = store.sessions(newest_first=False)
    finished = [s for s in everything if s.finished]
    if not everything:
        return "No sessions stored yet: play one with `frontline play SCENARIO`.\n"
    criteria = criteria_of(finished)
    names = sorted({s.trainee for s in everything})
    this_week = [s for s in everything if s.started_at >= monday]
    out = [f"Team progress: {len(names)} trainee(s), {len(finished)} finished session(s), "
           f"{len(this_week)} started this week (since {monday:%a %Y-%m-%d})", ""]
    head = ["trainee", "sessions", "this week", "pass rate"] + [_shown(c) for c in criteria] + ["overall", "last session"]
    rows = []

    def row_for(label: str, mine: list[StoredSession], all_mine: list[StoredSession]) -> list[str]:
        week = sum(1 for s in all_mine if s.started_at >= monday)
        rate = f"{sum(1 for s in mine if s.passed) / len(mine):.0%}" if mine else "-"
        cells = [_shown(label), str(len(mine)), str(week), rate]
        for c in criteria:
            cells.append(_avg([s.criterion_averages()[c] for s in mine if c in s.criterion_averages()]))
        cells.append(_avg([s.overall for s in mine if s.overall is not None]))
        cells.append(local_time(max(s.started_at for s in all_mine))[:10] if all_mine else "-")
        return cells

    for name in names:
        rows.append(row_for(name, [s for s in finished if s.trainee == name],
                            [s for s in everything if s.trainee == name]))
    rows.append(row_for("team", finished, everything))
    table = _table(head, rows)
    out += table[:-1] + [table[1], table[-1]]
    out += ["", "sessions, pass rate and averages count finished sessions; `frontline progress --trainee NAME` "
            "shows one trainee's trend."]
    return "\n".join(out) + "\n"
