"""A session's result with the trainer's levels in force, computed with the engine's rule.

An overridden level counts as the score `level / top level` of its criterion (level 2 of 0–2 is 1.0, level 1
is 0.5, level 0 is 0.0), the centre of the score range the model maps to that level (`Criterion.level_for`).
A criterion nobody overrode keeps the model's score. From those scores, exactly as `Conversation.result`:
a turn's overall is the rubric's weighted mean, the session's overall is the mean over turns, each criterion's
average is the mean over turns, and the session passes only if the overall reaches the pass mark, every
criterion's average reaches its floor and the conversation ended resolved.

The rule (weights, floors, top levels) is kept with the session when it starts (`result_rule`), so a result
can be recomputed later without the rubric file; sessions stored before schema 4 take it from their rubric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from simulator.content.rubric import Rubric
from simulator.engine import verdict


def rule_of(rubric: Rubric) -> dict:
    """The part of a rubric a result needs, as plain JSON."""
    return {
        "weights": {c.id: c.weight for c in rubric.criteria},
        "floors": {c.id: c.floor for c in rubric.criteria},
        "top": {c.id: c.max_level for c in rubric.criteria},
    }


def valid_rule(rule: object) -> bool:
    if not isinstance(rule, dict):
        return False
    parts = [rule.get(k) for k in ("weights", "floors", "top")]
    if not all(isinstance(p, dict) and p for p in parts):
        return False
    weights, floors, top = parts
    return set(weights) == set(floors) == set(top) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for p in parts for v in p.values()
    ) and all(v > 0 for v in top.values()) and sum(weights.values()) > 0


def level_score(level: int, top: int) -> float:
    """The score an overridden level counts as."""
    return min(1.0, max(0.0, level / top)) if top > 0 else 0.0


@dataclass(frozen=True)
class Result:
    averages: dict[str, float]
    overall: float
    passed: bool | None
    """None while the session is unfinished."""
    below_floor: list[str] = field(default_factory=list)


def turn_scores(rule: dict, scores: Mapping[str, float], overrides: Mapping[str, int]) -> dict[str, float]:
    """A turn's score per criterion with the overridden levels in force."""
    top = rule["top"]
    return {cid: (level_score(overrides[cid], int(top[cid])) if cid in overrides and cid in top else float(v))
            for cid, v in scores.items()}


def compute(rule: dict, turns: Sequence[tuple[Mapping[str, float], Mapping[str, int]]], *, pass_mark: float | None,
            ending_kind: str | None) -> Result:
    """The result of turns given as (model scores, overridden levels) pairs. `ending_kind` None: unfinished."""
    weights, floors = rule["weights"], rule["floors"]
    total = sum(weights.values())
    per_turn = [turn_scores(rule, scores, levels) for scores, levels in turns]
    n = len(per_turn)
    ids = list(weights)
    averages = {cid: (sum(t.get(cid, 0.0) for t in per_turn) / n if n else 0.0) for cid in ids}
    overall = (sum(sum(weights[c] * t.get(c, 0.0) for c in ids) / total for t in per_turn) / n) if n else 0.0
    below, passed = verdict(overall, averages, {cid: floors[cid] for cid in ids}, pass_mark, ending_kind or "")
    return Result(averages=averages, overall=overall, passed=passed if ending_kind is not None else None,
                  below_floor=below)
