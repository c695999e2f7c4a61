"""Alert cards say what change, if any, explains the incident, and Roll back proposes the way back."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from gcp.emulator.audit import SEEDED_DEPLOYER
from gcp.emulator.core import RevisionHealth
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    cards,
    confirmed_by_bob,
    plan_from_button,
    previous_revision,
    push,
    text_of,
)
from tests.support.stack import OPS_CHANNEL, Stack, every_revision_behaves

ALERTS = Path(__file__).resolve().parent.parent / "bot" / "dev" / "sandbox_alerts"
PROD_FRONTEND = PROD_BACKEND.name.replace("fluxori-backend", "fluxori-frontend")
SLOW = RevisionHealth(error_rate=0.002, latency_ms=1800.0)


def push_sample(stack: Stack, name: str, service: str = "fluxori-backend") -> dict[str, Any]:
    """Push a sandbox sample alert for `service`; its card once posted."""
    body = json.loads((ALERTS / f"{name}.json").read_text())
    incident = body["incident"]
    incident["resource"]["labels"]["service_name"] = service
    incident["policy_user_labels"]["service"] = service
    data = base64.b64encode(json.dumps(body).encode()).decode()
    reply = push(stack, {"message": {"data": data, "messageId": name}, "subscription": "s"})
    assert reply.status_code == 200
    return cards(stack)[-1]


def test_error_alert_names_the_deploy_the_deployer_and_the_last_healthy_revision(
    stack: Stack,
) -> None:
    """The seeded prod incident's card traces the 5xx to the deploy and offers the way back."""
    newest, previous = previous_revision(stack, 0), previous_revision(stack, 1)
    card = text_of(push_sample(stack, "high-error-rate-open"))
    assert f"5xx began as soon as `{newest}` took traffic" in card
    assert f"`UpdateService` of {SEEDED_DEPLOYER}" in card
    assert f"`{previous}` (image `" in card
    assert "served the previous 1d" in card
    assert "at 0.2% 5xx" in card
    assert f"Roll back to {previous}" in card


def test_roll_back_from_the_card_proposes_the_last_healthy_revision(stack: Stack) -> None:
    """Roll back plans 100% to the revision the evidence named; Bob's confirm moves traffic."""
    previous = previous_revision(stack, 1)
    card = push_sample(stack, "high-error-rate-open")
    plan = plan_from_button(stack, card, "alert.rollback", card["ts"])
    assert previous in text_of(plan)
    assert confirmed_by_bob(stack, plan) == {previous: 100}


def test_latency_alert_without_a_change_says_so_and_offers_scaling(stack: Stack) -> None:
    """Every frontend revision is slow: no change to blame, so logs and Scale up, no Roll back."""
    every_revision_behaves(stack, PROD_FRONTEND, SLOW)
    card = text_of(push_sample(stack, "high-latency-open", "fluxori-frontend"))
    assert "No change explains it" in card
    assert "Look at the logs and scaling." in card
    assert "alert.scale_up" in card
    assert "alert.slow_requests" in card
    assert "alert.rollback" not in card


def test_acknowledge_keeps_the_evidence(stack: Stack) -> None:
    """The card redrawn for Acknowledge still says what changed and whom Roll back proposes."""
    previous = previous_revision(stack, 1)
    card = push_sample(stack, "high-error-rate-open")
    stack.slack.click("U_ALICE", OPS_CHANNEL, card["ts"], "alert.ack")
    stack.idle()
    redrawn = next(m for m in stack.slack.messages(OPS_CHANNEL) if "is on it" in text_of(m))
    assert f"Roll back to {previous}" in text_of(redrawn)
    assert "5xx began" in text_of(redrawn)
