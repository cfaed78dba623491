"""One turn of the trainee's app scored by the real model (MiniLM from the installed package, a few seconds)."""

from __future__ import annotations

import pytest
from helpers.app import SIZE, log_text, screen_text, type_reply, wait_until

from simulator.services import Services
from simulator.tui.trainee.app import make_app
from simulator.tui.trainee.messages import TurnApplied
from simulator.tui.trainee.screens.play import PlayScreen


@pytest.mark.model
async def test_a_reply_scored_by_the_real_model(tmp_path):
    applied: list[TurnApplied] = []
    app = make_app(Services(db_url=f"sqlite:///{tmp_path / 'model.db'}"), scenario_id="tire-return", trainee="sam",
                   deterministic=True)
    async with app.run_test(size=SIZE, message_hook=lambda m: isinstance(m, TurnApplied) and applied.append(m)) \
            as pilot:
        await wait_until(pilot, lambda: app.scorer_state != "loading", timeout=180, what="the model to load")
        assert app.scorer_state == "ready", app.scorer_error
        reply = ("Oh no, you've driven all this way with a worn tyre, I'm really sorry. "
                 "Let me ring the car centre across the car park for you right now.")
        await type_reply(pilot, reply)
        play = app.screen
        assert isinstance(play, PlayScreen)
        [turn] = play.conversation.turns
        assert turn.model_version.startswith("frontline-scorer")
        assert set(turn.scores) == {"empathy", "ownership", "script_avoidance"}
        assert all(0.0 <= v <= 1.0 for v in turn.scores.values())
        assert any(turn.evidence.values())
        shown = log_text(app)
        assert "overall" in shown and "Empathy:" in shown and "Mood 35 →" in shown
        assert "Turn 2 of 8" in screen_text(app)
        assert applied and applied[0].session_id is not None
