"""The App Home tab and progress messages of slow changes."""

from __future__ import annotations

import json

from tests.stack import Stack, eventually
from tests.test_changes import BOB, click, plan, thread


def test_home_shows_pending_recent_and_serving(stack: Stack) -> None:
    """Opening Home publishes pending plans, recent actions and each environment's revisions."""
    plan(stack, "scale fluxori-frontend max=12")
    done = plan(stack, "rollback fluxori-backend")
    click(stack, done, "action.confirm", BOB)
    assert stack.slack.open_home("U_CAROL").status == 200
    stack.idle()
    home = json.dumps(
        eventually(lambda: stack.slack.home("U_CAROL"), what="home view"), ensure_ascii=False
    )
    assert "Plans awaiting approval" in home
    assert "Scale fluxori-frontend" in home
    assert "succeeded" in home
    for env in ("dev", "staging", "prod"):
        assert f"*{env}* · fluxori-backend" in home


def test_slow_rollout_reports_progress_in_the_thread(stack: Stack) -> None:
    """While Cloud Run rolls out, the thread shows progress before the result."""
    stack.gcp.run.operation_delay = 0.3
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    text = thread(stack, card)
    assert "Moving traffic" in text
    assert text.index("Moving traffic") < text.index("now:")
