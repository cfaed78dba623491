"""The feedback in force for a turn's criterion: the trainer's level's, where a trainer overrode it.

Shared by every report format (exports and xAPI), which is why it lives apart from both.
"""

from __future__ import annotations

import functools

from simulator.store import StoredSession, StoredTurn


@functools.lru_cache(maxsize=None)
def rubric_of(rubric_id: str):
    from simulator.content.library import Library

    try:
        return Library().rubric(rubric_id)
    except Exception:  # a rubric no longer around: the stored feedback is all there is
        return None


def level_feedback(session: StoredSession, turn: StoredTurn, criterion: str) -> str:
    """The feedback in force: the rubric's for the trainer's level where overridden, else the stored one."""
    override = turn.overrides.get(criterion)
    if override is not None:
        rubric = rubric_of(session.rubric_id)
        if rubric is not None and criterion in rubric.criterion_ids:
            levels = rubric.criterion(criterion).levels
            if 0 <= override.level < len(levels):
                return levels[override.level].feedback
    return turn.feedback.get(criterion, "")
