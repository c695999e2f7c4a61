"""The App Home tab and progress messages of slow changes."""

from __future__ import annotations

import json

from tests.support.slack import BOB, click, plan, thread
from tests.support.stack import OPS_CHANNEL, Stack, eventually


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
    assert home.count("Scale fluxori-frontend") == 1  # pending: not repeated under Recent
    assert "succeeded" in home
    for env in ("dev", "staging", "prod"):
        assert f"*{env}* · fluxori-backend" in home
    slack = stack.bot.deps.slack
    card_link = slack.chat_getPermalink(channel=OPS_CHANNEL, message_ts=done["ts"])["permalink"]
    assert f"<{card_link}|thread>" in home  # the workspace's own address, as Slack links it


def test_slow_rollout_reports_progress_in_the_thread(stack: Stack) -> None:
    """While Cloud Run rolls out, the thread shows progress before the result."""
    stack.gcp.run.operation_delay = 0.3
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    text = thread(stack, card)
    assert "Moving traffic" in text
    assert text.index("Moving traffic") < text.index("now:")
