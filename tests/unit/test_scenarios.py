"""Every shipped scenario is a real conversation: enough beats, and every ending reachable by some replies."""

from __future__ import annotations

from collections import deque

import pytest

from helpers.fakes import FakeScorer
from simulator.engine import Conversation
from simulator.content.library import Library

pytestmark = pytest.mark.shipped  # the real shipped scenarios, not the frozen test copies

SHIPPED = [loaded for loaded in Library().scenarios()]
IDS = [loaded.path.stem for loaded in SHIPPED]

# Score profiles a trainee's reply might produce: (empathy, ownership, script_avoidance, red flag).
PROFILES = [
    (0.95, 0.95, 0.95, False),
    (0.9, 0.1, 0.5, False),
    (0.1, 0.9, 0.9, False),
    (0.55, 0.55, 0.55, False),
    (0.3, 0.3, 0.5, False),
    (0.05, 0.05, 0.1, False),
    (0.1, 0.1, 0.1, True),
]


def _directives(scenario, rubric):
    goal_sets = [[]] + [[g.id] for g in scenario.goals] + [[g.id for g in scenario.goals]]
    # criteria beyond the three service ones (clarity) are tried at both ends, with each profile
    extra = [c for c in rubric.criterion_ids if c not in ("empathy", "ownership", "script_avoidance")]
    for e, o, s, flag in PROFILES:
        for level in ((0.1, 0.9) if extra else (None,)):
            for goals in goal_sets if e >= 0.9 else [[]]:
                text = f"reply #e={e} o={o} s={s}" + "".join(f" {c}={level}" for c in extra if level is not None)
                if goals:
                    text += " goals=" + ",".join(goals)
                if flag:
                    text += " flag"
                yield text


def reachable_endings(scenario, rubric) -> set[str]:
    """Breadth-first over every profile at every turn (states deduplicated), collecting the endings reached;
    stops as soon as every ending has been seen."""
    wanted = {e.id for e in scenario.endings}
    scorer = FakeScorer()
    start = Conversation(scenario, rubric, scorer, seed=0)
    seen, endings = set(), set()
    queue = deque([start])
    replies = list(_directives(scenario, rubric))
    while queue and endings != wanted:
        conversation = queue.popleft()
        for reply in replies:
            branch = conversation.fork()
            branch.respond(reply)
            st = branch.state
            if branch.finished:
                endings.add(st.ending)
                continue
            # Mood in steps of 10 keeps the search small; no condition in a scenario is that fine-grained.
            key = (st.beat, round(st.mood / 10), st.patience, st.turn, tuple(sorted(st.goals.items())))
            if key not in seen:
                seen.add(key)
                queue.append(branch)
    return endings


def test_shipped_scenarios_exist():
    assert len(SHIPPED) >= 8, [p.path.name for p in SHIPPED]


@pytest.mark.parametrize("loaded", SHIPPED, ids=IDS)
def test_scenario_is_rich_enough(loaded):
    scenario = loaded.model
    assert scenario is not None, loaded.problems
    assert len(scenario.beats) >= 4
    assert len(scenario.goals) >= 1
    assert all(beat.model_replies for beat in scenario.beats)
    kinds = {e.kind.value for e in scenario.endings}
    # a good ending and at least one bad one; which bad kind depends on the customer (a colleague who takes the
    # work off you has escalated it, not walked out)
    assert "resolved" in kinds and kinds & {"walked_out", "escalated"}


@pytest.mark.parametrize("loaded", SHIPPED, ids=IDS)
def test_every_ending_can_be_reached(loaded, library):
    scenario = loaded.model
    rubric = library.rubric(scenario.rubric)
    reached = reachable_endings(scenario, rubric)
    assert reached == {e.id for e in scenario.endings}
