"""The buttons of a `/ops why` answer: Roll back to the last healthy revision, Show errors."""

from __future__ import annotations

from typing import Any

from gcp.emulator.core import RevisionHealth
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    BOB,
    click,
    click_payload,
    previous_revision,
    send_interaction,
    serving,
    text_of,
)
from tests.support.stack import OPS_CHANNEL, Stack, eventually

PROD_FRONTEND = PROD_BACKEND.name.replace("fluxori-backend", "fluxori-frontend")
FAILING = RevisionHealth(error_rate=0.12, latency_ms=120.0)


def why_answer(stack: Stack, service: str) -> dict[str, Any]:
    """Ask `/ops why SERVICE` as Alice; the answer in the thread."""
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text=f"why {service}")
    stack.idle()
    root = stack.slack.messages(OPS_CHANNEL)[-1]
    return stack.slack.replies(OPS_CHANNEL, root["ts"])[0]


def in_thread(stack: Stack, answer: dict[str, Any], containing: str) -> dict[str, Any]:
    thread_ts = answer.get("thread_ts") or answer["ts"]
    return eventually(
        lambda: next(
            (m for m in stack.slack.replies(OPS_CHANNEL, thread_ts) if containing in text_of(m)),
            None,
        ),
        what=f"a message with {containing!r} in the thread",
    )


def test_roll_back_plans_the_last_healthy_revision_and_a_second_person_confirms(
    stack: Stack,
) -> None:
    """Roll back on the answer plans 100% to the revision it named; Bob's confirm moves it."""
    previous = previous_revision(stack, 1)
    answer = why_answer(stack, "fluxori-backend")
    stack.slack.click(ALICE, OPS_CHANNEL, answer["ts"], "why.rollback")
    stack.idle()
    plan = in_thread(stack, answer, "action.confirm")
    assert previous in text_of(plan)
    click(stack, plan, "action.confirm", BOB)
    assert serving(stack) == {previous: 100}


def test_errors_and_scaling_when_no_healthy_revision_to_go_back_to(stack: Stack) -> None:
    """Every frontend revision fails: no Roll back; Show errors answers in the thread."""
    for revision in stack.gcp.run.revisions(PROD_FRONTEND):
        stack.gcp.run.set_health(PROD_FRONTEND, revision.name.rsplit("/", 1)[-1], FAILING)
    answer = why_answer(stack, "fluxori-frontend")
    assert "why.rollback" not in text_of(answer)
    assert "why.scale_up" in text_of(answer)
    stack.slack.click(ALICE, OPS_CHANNEL, answer["ts"], "why.errors")
    stack.idle()
    assert "Errors in fluxori-frontend · prod" in text_of(
        in_thread(stack, answer, "asked: Show errors")
    )


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
