"""JWT secret rotation end to end, and the secret value kept out of Slack, logs and the store."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.store import State
from tests.support.models import PROD_BACKEND
from tests.support.slack import BOB, action_id_of, click, plan, text_of, thread
from tests.support.stack import OPS_CHANNEL, Stack

PROJECT = "fluxori-prod"


def backend_secret_version(stack: Stack) -> str:
    serving = max(stack.gcp.run.serving_split(PROD_BACKEND.name).items(), key=lambda kv: kv[1])[0]
    revision = next(
        r for r in stack.gcp.run.revisions(PROD_BACKEND.name) if r.name.endswith(serving)
    )
    env = {e.name: e for e in revision.containers[0].env}
    return str(env["JWT_SECRET"].value_source.secret_key_ref.version)


def test_rotation_adds_a_version_and_moves_the_backend_to_it(
    stack: Stack, log_lines: io.StringIO, tmp_path: Path
) -> None:
    """New version 4, a new backend revision pinned to it serving 100%, old versions enabled."""
    assert backend_secret_version(stack) == "3"
    card = plan(stack, "rotate-secret jwt-secret --env prod")
    assert "env `JWT_SECRET` pinned to version 3" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert stack.gcp.secrets.versions(PROJECT, "jwt-secret")[0] == ("4", "ENABLED")
    assert ("3", "ENABLED") in stack.gcp.secrets.versions(PROJECT, "jwt-secret")
    assert backend_secret_version(stack) == "4"
    assert stack.gcp.run.serving_split(PROD_BACKEND.name) == {"fluxori-backend-jwt-secret-v4": 100}
    assert "Disable old version 3" in thread(stack, card)

    value = stack.gcp.secrets.payload(PROJECT, "jwt-secret", "4").decode()
    everything_slack_saw = json.dumps([c.__dict__ for c in stack.slack.calls()], default=str)
    assert value not in everything_slack_saw
    assert value not in log_lines.getvalue()
    assert value.encode() not in (tmp_path / "actions.sqlite").read_bytes()
    assert "command_accepted" in log_lines.getvalue() or "change_planned" in log_lines.getvalue()


def test_disable_old_version_is_itself_a_confirmed_change(stack: Stack) -> None:
    """After rotating, 'Disable old version 3' plans, and Bob's confirmation disables it."""
    card = plan(stack, "rotate-secret")
    click(stack, card, "action.confirm", BOB)
    result = next(
        m
        for m in stack.slack.replies(OPS_CHANNEL, card["ts"])
        if "action.disable_old_version" in text_of(m)
    )
    stack.slack.click("U_ALICE", OPS_CHANNEL, result["ts"], "action.disable_old_version")
    stack.idle()
    disable_card = next(
        m
        for m in stack.slack.replies(OPS_CHANNEL, card["ts"])
        if "Disable jwt-secret version 3" in text_of(m)
    )
    stack.slack.click(BOB, OPS_CHANNEL, disable_card["ts"], "action.confirm")
    stack.idle()
    assert ("3", "DISABLED") in stack.gcp.secrets.versions(PROJECT, "jwt-secret")


def test_failure_midway_leaves_traffic_where_it_was(stack: Stack) -> None:
    """The new revision never becomes Ready: traffic unchanged, the thread lists done steps."""
    before = stack.gcp.run.serving_split(PROD_BACKEND.name)
    stack.gcp.run.fail_next_revision("Container failed to start: JWT_SECRET rejected")
    card = plan(stack, "rotate-secret")
    click(stack, card, "action.confirm", BOB)
    assert stack.gcp.run.serving_split(PROD_BACKEND.name) == before
    text = thread(stack, card)
    assert "added `jwt-secret` version 4" in text
    assert "Next:" in text
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.FAILED
