"""A fake scorer for engine and UI tests only: the real model is tested in tests/test_scorer_model.py.

A reply can carry a directive that fixes its scores, so a test can steer a conversation exactly:
    "I'll ring them now #e=0.9 o=0.9 s=0.8 goals=solve_it"      (and `flag` raises a red flag)
Without a directive every criterion gets `default` (0.5 unless set).
"""

from __future__ import annotations

import re
import threading
from typing import Sequence

from simulator.scoring.base import ReplyScore, ScoreRequest, build_reply_score

_DIRECTIVE = re.compile(r"#(?P<body>(?:\s*(?:[a-z_]+=[\w.,]+|flag))+)\s*$")
_SHORT = {"e": "empathy", "o": "ownership", "s": "script_avoidance"}


class FakeScorer:
    version = "fake-1"

    def __init__(self, default: float = 0.5, fail_on: str | None = None):
        self.default = default
        self.fail_on = fail_on
        self.calls: list[ScoreRequest] = []
        self.release = threading.Event()
        self.release.set()

    def score(self, request: ScoreRequest) -> ReplyScore:
        self.release.wait(10)
        self.calls.append(request)
        if self.fail_on and self.fail_on in request.reply:
            raise RuntimeError("fake scorer failure")
        scores = {c: self.default for c in request.rubric.criterion_ids}
        goals: list[str] = []
        flags: list[str] = []
        match = _DIRECTIVE.search(request.reply)
        if match:
            for token in match.group("body").split():
                if token == "flag":
                    flags.append(request.rubric.red_flags[0].id if request.rubric.red_flags else "flag")
                    continue
                key, value = token.split("=", 1)
                if key == "goals":
                    goals.extend(g for g in value.split(",") if g)
                elif key == "all":
                    scores = {c: float(value) for c in scores}
                else:
                    scores[_SHORT.get(key, key)] = float(value)
        wanted = {g.id for g in request.goals}
        clean = _DIRECTIVE.sub("", request.reply).strip()
        evidence = {c: [clean[:40]] if clean else [] for c in scores}
        nearest = request.model_replies[0] if request.model_replies else None
        return build_reply_score(
            request.rubric, scores, evidence,
            red_flags=flags, goals_met=[g for g in goals if g in wanted],
            nearest_model_reply=nearest, model_version=self.version,
        )

    def score_many(self, requests: Sequence[ScoreRequest]) -> list[ReplyScore]:
        return [self.score(r) for r in requests]
