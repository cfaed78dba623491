"""Scoring replies against a rubric. Importing this package imports neither torch nor transformers."""

from simulator.scoring.base import (
    CriterionScore,
    ReplyScore,
    Scorer,
    ScorerError,
    ScoreRequest,
    build_reply_score,
)

__all__ = ["CriterionScore", "ReplyScore", "Scorer", "ScorerError", "ScoreRequest", "build_reply_score"]
