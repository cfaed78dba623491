"""`frontline export --format xapi`: xAPI 1.0.3 statements for a learning record store.

One statement per scored turn ("responded") and one per session ("completed"; "passed"/"failed" are left to the
result's `success`, so a finished session is one statement whatever its result). Each statement:

- actor: the trainee, as an account on this Frontline (homePage `https://frontline.invalid`, name the trainee's);
- verb: ADL's `responded` (a turn) or `completed` (a session);
- object: the scenario, an Activity `https://frontline.invalid/scenarios/<id>` of type `simulation`;
- result: `score.scaled` 0–1 (the score in force: the trainer's levels where overridden), `success` (turn: its
  overall reached the pass mark; session: passed), `completion`, `response` (the reply) and extensions with the
  per-criterion scores and levels (model and trainer), the evidence and the feedback;
- context: the session as a `registration` UUID (stable: derived from the database and session ids), the
  rubric, difficulty, mode and scorer version as extensions; timestamp: when the turn was scored / the
  session ended. Statement ids are stable UUIDs too, so re-sending an export does not duplicate statements.

The output is a JSON array of statements, as `POST /statements` accepts.
"""

from __future__ import annotations

import json
import uuid
from typing import Sequence

from simulator.store import StoredSession, StoredTurn

HOME = "https://frontline.invalid"
EXT = f"{HOME}/xapi/extensions"
VERBS = {
    "responded": {"id": "http://adlnet.gov/expapi/verbs/responded", "display": {"en-US": "responded"}},
    "completed": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
}
SIMULATION = "http://adlnet.gov/expapi/activities/simulation"
_NAMESPACE = uuid.UUID("6f1c2f5e-8a43-4c1b-9c55-3f0f2a6e0b7d")


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _actor(s: StoredSession) -> dict:
    return {"objectType": "Agent", "name": s.trainee, "account": {"homePage": HOME, "name": s.trainee}}


def _object(s: StoredSession) -> dict:
    return {
        "objectType": "Activity",
        "id": f"{HOME}/scenarios/{uuid.uuid5(_NAMESPACE, s.scenario_id)}",
        "definition": {"type": SIMULATION, "name": {"en-US": s.scenario_title or s.scenario_id},
                       "extensions": {f"{EXT}/scenario-id": s.scenario_id, f"{EXT}/setting": s.setting}},
    }


def _context(s: StoredSession, registration: str) -> dict:
    return {"registration": registration, "platform": "Frontline", "language": "en",
            "extensions": {f"{EXT}/session-id": s.id, f"{EXT}/rubric": s.rubric_id, f"{EXT}/difficulty": s.difficulty,
                           f"{EXT}/mode": s.mode, f"{EXT}/scorer": s.model_version}}


def _turn_scores(s: StoredSession, t: StoredTurn) -> dict[str, float]:
    from simulator.store.results import turn_scores

    if s.result_rule and t.overrides:
        return turn_scores(s.result_rule, t.scores, {c: o.level for c, o in t.overrides.items()})
    return dict(t.scores)


def _weighted(s: StoredSession, scores: dict[str, float], fallback: float) -> float:
    rule = s.result_rule
    if not rule:
        return fallback
    weights = rule["weights"]
    total = sum(weights.values())
    return sum(w * scores.get(c, 0.0) for c, w in weights.items()) / total if total else fallback


def turn_statement(s: StoredSession, t: StoredTurn, registration: str) -> dict:
    from simulator.reports.feedback import level_feedback

    scores = _turn_scores(s, t)
    overall = _weighted(s, scores, t.overall) if t.overrides else t.overall
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f"{registration}/turn/{t.number}")),
        "actor": _actor(s),
        "verb": VERBS["responded"],
        "object": _object(s),
        "result": {
            "score": {"scaled": round(min(1.0, max(0.0, overall)), 4), "raw": round(overall, 4), "min": 0, "max": 1},
            "success": bool(overall >= (s.pass_mark or 0.0)) and not t.red_flags,
            "completion": True,
            "response": t.reply,
            "extensions": {
                f"{EXT}/turn": t.number,
                f"{EXT}/customer-line": t.customer_line,
                f"{EXT}/scores": {c: round(v, 4) for c, v in scores.items()},
                f"{EXT}/model-scores": {c: round(v, 4) for c, v in t.scores.items()},
                f"{EXT}/levels": t.effective_levels,
                f"{EXT}/model-levels": dict(t.levels),
                f"{EXT}/trainer-levels": {c: {"level": o.level, "reviewer": o.reviewer, "comment": o.comment}
                                          for c, o in t.overrides.items()},
                f"{EXT}/evidence": {c: list(v) for c, v in t.evidence.items()},
                f"{EXT}/feedback": {c: level_feedback(s, t, c) for c in t.levels},
                f"{EXT}/red-flags": list(t.red_flags),
                f"{EXT}/goals-met": list(t.goals_met),
            },
        },
        "context": _context(s, registration),
        "timestamp": _iso(t.created_at or s.started_at),
    }


def session_statement(s: StoredSession, registration: str) -> dict:
    result: dict = {"completion": s.finished}
    if s.finished:
        overall = s.final_overall or 0.0
        result["score"] = {"scaled": round(min(1.0, max(0.0, overall)), 4), "raw": round(overall, 4), "min": 0,
                           "max": 1}
        result["success"] = bool(s.final_passed)
    result["extensions"] = {
        f"{EXT}/averages": {c: round(v, 4) for c, v in s.criterion_averages().items()},
        f"{EXT}/model-averages": {c: round(v, 4) for c, v in s.model_averages().items()},
        f"{EXT}/model-passed": s.passed,
        f"{EXT}/ending": s.ending,
        f"{EXT}/ending-kind": s.ending_kind,
        f"{EXT}/pass-mark": s.pass_mark,
        f"{EXT}/turns": len(s.turns),
        f"{EXT}/trainer-comment": s.comment,
    }
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f"{registration}/session")),
        "actor": _actor(s),
        "verb": VERBS["completed"],
        "object": _object(s),
        "result": result,
        "context": _context(s, registration),
        "timestamp": _iso(s.ended_at or s.started_at),
    }


def statements(sessions: Sequence[StoredSession]) -> list[dict]:
    out: list[dict] = []
    for s in sessions:
        registration = str(uuid.uuid5(_NAMESPACE, f"session/{s.id}/{_iso(s.started_at)}/{s.trainee}"))
        out += [turn_statement(s, t, registration) for t in s.turns]
        if s.finished:
            out.append(session_statement(s, registration))
    return out


def to_xapi(sessions: Sequence[StoredSession]) -> str:
    return json.dumps(statements(sessions), indent=2, ensure_ascii=False) + "\n"
