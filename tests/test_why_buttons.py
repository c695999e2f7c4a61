"""The buttons of a `/ops why` answer: Roll back to the last healthy revision, Show errors."""

from __future__ import annotations

from typing import Any

from gcp.emulator.core import RevisionHealth
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    click_payload,
    confirmed_by_bob,
    plan_from_button,
    previous_revision,
    reply_containing,
    send_interaction,
    serving,
    text_of,
)
from tests.support.stack import OPS_CHANNEL, Stack, every_revision_behaves

PROD_FRONTEND = PROD_BACKEND.name.replace("fluxori-backend", "fluxori-frontend")
FAILING = RevisionHealth(error_rate=0.12, latency_ms=120.0)


def why_answer(stack: Stack, service: str) -> dict[str, Any]:
    """Ask `/ops why SERVICE` as Alice; the answer (its buttons act in its thread)."""
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text=f"why {service}")
    stack.idle()
    return stack.slack.messages(OPS_CHANNEL)[-1]


def test_roll_back_plans_the_last_healthy_revision_and_a_second_person_confirms(
    stack: Stack,
) -> None:
    """Roll back on the answer plans 100% to the revision it named; Bob's confirm moves it."""
    previous = previous_revision(stack, 1)
    answer = why_answer(stack, "fluxori-backend")
    plan = plan_from_button(stack, answer, "why.rollback", answer["ts"])
    assert previous in text_of(plan)
    assert confirmed_by_bob(stack, plan) == {previous: 100}


def test_errors_and_scaling_when_no_healthy_revision_to_go_back_to(stack: Stack) -> None:
    """Every frontend revision fails: no Roll back; Show errors answers in the thread."""
    every_revision_behaves(stack, PROD_FRONTEND, FAILING)
    answer = why_answer(stack, "fluxori-frontend")
    assert "why.rollback" not in text_of(answer)
    assert "why.scale_up" in text_of(answer)
    stack.slack.click(ALICE, OPS_CHANNEL, answer["ts"], "why.errors")
    stack.idle()
    errors = reply_containing(stack, answer["ts"], "asked: Show errors")
    assert "Errors in fluxori-frontend · prod" in text_of(errors)


def test_a_forged_value_naming_an_unknown_service_is_refused(stack: Stack) -> None:
    """A button value naming a service the bot does not manage changes nothing, on record."""
    answer = why_answer(stack, "fluxori-backend")
    payload = click_payload(stack, ALICE, answer, "why.rollback")
    payload["actions"][0]["value"] = "prod|payments|payments-00001-abc"
    before = serving(stack)
    assert send_interaction(stack, payload) == 200
    stack.idle()
    assert serving(stack) == before
    refusals = stack.bot.deps.store.refusals()
    assert any(r["context"].get("target") == "payments" for r in refusals)
