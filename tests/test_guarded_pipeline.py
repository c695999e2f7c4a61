"""One change pipeline: every origin of a change passes the same request checks, every click on a
plan the same click checks, and jobs carry ids, never authority."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot import registry
from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.dev.local_google import LocalGoogleCerts
from bot.store import Filters, State
from gcp.emulator import Emulator
from gcp.lazy import later
from handlers.plans import Refusal
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    BOB,
    CAROL,
    action_id_of,
    cards,
    click,
    click_payload,
    envelope,
    plan,
    push,
    send_interaction,
    serving,
    text_of,
    thread_messages,
)
from tests.support.stack import (
    BOT_CONFIG_BASE,
    OPS_CHANNEL,
    Stack,
    change_out_of_band,
    start_stack,
)

CONFIG = (
    BOT_CONFIG_BASE
    + """
[policy]
rate_limit = {rate_limit}
cooldown_minutes = {cooldown}
[policy.prod]
requesters = ["U_ALICE", "U_BOB"]
approvers = ["S_SRE"]
readers = {readers}
two_person = true
"""
)
NOT_A_REQUESTER = "Only <@U_ALICE> or <@U_BOB> may request"


GuardedStack = Callable[..., Stack]


@pytest.fixture
def guarded_stack(
    emulator: Emulator, tmp_path: Path, google: LocalGoogleCerts
) -> Iterator[GuardedStack]:
    """Start the bot with CONFIG's policy (rate_limit, cooldown, readers may be given)."""
    started: list[Stack] = []

    def start(rate_limit: int = 10, cooldown: int = 0, readers: str = "[]") -> Stack:
        path = tmp_path / "bot.toml"
        path.write_text(CONFIG.format(rate_limit=rate_limit, cooldown=cooldown, readers=readers))
        started.append(start_stack(emulator, tmp_path, google, config_path=str(path)))
        return started[-1]

    yield start
    for stack in started:
        stack.stop()


@pytest.fixture
def guarded(guarded_stack: GuardedStack) -> Stack:
    """Prod: Alice and Bob may request, the SRE group (Alice, Bob) approves; Carol may not."""
    return guarded_stack()


def private(stack: Stack, user: str) -> str:
    return "\n".join(text_of(m) for m in stack.slack.ephemerals(user, OPS_CHANNEL))


def refusals_of(stack: Stack, user: str) -> list[dict[str, Any]]:
    return [r for r in stack.bot.deps.store.refusals(200) if r["by"] == user]


def actions(stack: Stack) -> list[Any]:
    return stack.bot.deps.store.search(Filters(limit=100))


def applied_rollback(stack: Stack) -> dict[str, Any]:
    """Alice plans a rollback, Bob confirms it; the plan card."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    return card


def alert_card(stack: Stack, runbook: str = "high-error-rate") -> dict[str, Any]:
    doc = envelope("alert-open.json")
    incident = json.loads(base64.b64decode(doc["message"]["data"]))
    incident["incident"]["policy_user_labels"]["runbook"] = runbook
    doc["message"]["data"] = base64.b64encode(json.dumps(incident).encode()).decode()
    assert push(stack, doc).status_code == 200
    return cards(stack)[-1]


# -- every origin of a change is refused exactly as the slash command is


def by_command(stack: Stack, user: str) -> None:
    stack.slack.slash_command(user, OPS_CHANNEL, text="rollback fluxori-backend")


def by_alert_rollback(stack: Stack, user: str) -> None:
    stack.slack.click(user, OPS_CHANNEL, alert_card(stack)["ts"], "alert.rollback")


def by_alert_scale_form(stack: Stack, user: str) -> None:
    stack.slack.click(user, OPS_CHANNEL, alert_card(stack, "high-latency")["ts"], "alert.scale_up")
    stack.idle()
    view = stack.slack.open_views(user)[-1]
    stack.slack.submit_view(user, view["id"], {"max": "30"})


def by_undo(stack: Stack, user: str) -> None:
    card = applied_rollback(stack)
    result = thread_messages(stack, card, "action.undo")[-1]
    stack.slack.click(user, OPS_CHANNEL, result["ts"], "action.undo")


def by_plan_again(stack: Stack, user: str) -> None:
    card = plan(stack, "rollback fluxori-backend")
    change_out_of_band(stack, PROD_BACKEND, 3)  # changed under the plan: stale
    click(stack, card, "action.confirm", BOB)
    again = thread_messages(stack, card, "action.replan")[-1]
    stack.slack.click(user, OPS_CHANNEL, again["ts"], "action.replan")


ORIGINS: dict[str, Callable[[Stack, str], None]] = {
    "slash command": by_command,
    "alert Roll back": by_alert_rollback,
    "alert Scale up form": by_alert_scale_form,
    "Undo": by_undo,
    "Plan again": by_plan_again,
}


@pytest.mark.parametrize("origin", sorted(ORIGINS))
def test_a_non_requester_is_refused_from_every_origin(guarded: Stack, origin: str) -> None:
    """Carol may not request prod changes: whichever button she uses, no plan, a recorded
    refusal naming who may, told to her alone."""
    ORIGINS[origin](guarded, CAROL)
    guarded.idle()
    assert [a for a in actions(guarded) if a.requested_by == CAROL] == []
    assert NOT_A_REQUESTER in private(guarded, CAROL)
    assert any(NOT_A_REQUESTER in r["detail"] for r in refusals_of(guarded, CAROL))
    everyone_sees = json.dumps(guarded.slack.messages(OPS_CHANNEL))
    assert NOT_A_REQUESTER not in everyone_sees


def test_repeated_button_requests_count_against_the_rate_limit(guarded_stack: GuardedStack) -> None:
    """Six Undo clicks with a limit of three make plans only up to the limit."""
    stack = guarded_stack(rate_limit=3)
    card = applied_rollback(stack)
    result = thread_messages(stack, card, "action.undo")[-1]
    for _ in range(6):
        stack.slack.click(ALICE, OPS_CHANNEL, result["ts"], "action.undo")
        stack.idle()
    assert len([a for a in actions(stack) if a.requested_by == ALICE]) == 3
    assert sum("change requests in 10 min" in r["detail"] for r in refusals_of(stack, ALICE)) == 4


def test_cooldown_holds_for_undo_and_an_alerts_roll_back(guarded_stack: GuardedStack) -> None:
    """After an applied change the service cools down for every origin, not just the command."""
    stack = guarded_stack(cooldown=10)
    card = applied_rollback(stack)
    result = thread_messages(stack, card, "action.undo")[-1]
    stack.slack.click(ALICE, OPS_CHANNEL, result["ts"], "action.undo")
    stack.slack.click(BOB, OPS_CHANNEL, alert_card(stack)["ts"], "alert.rollback")
    stack.idle()
    assert len(actions(stack)) == 1
    assert "cooldown until" in private(stack, ALICE)
    assert any("cooldown until" in r["detail"] for r in refusals_of(stack, BOB))


def test_a_stale_plan_starts_no_cooldown(guarded_stack: GuardedStack) -> None:
    """A plan that changed nothing (the service moved under it) does not cool the service."""
    stack = guarded_stack(cooldown=10)
    card = plan(stack, "rollback fluxori-backend")
    change_out_of_band(stack, PROD_BACKEND, 3)
    click(stack, card, "action.confirm", BOB)
    stale = stack.bot.deps.store.get(action_id_of(card))
    assert stale is not None
    assert stale.state is State.FAILED
    assert stale.applied is False
    again = plan(stack, "rollback fluxori-backend", user=BOB)
    assert "Plan: Roll back" in text_of(again)


# -- every click on a plan passes the same click checks


def test_cancel_by_someone_who_may_not_cancel_is_refused(guarded: Stack) -> None:
    """Carol neither requested nor may approve: her Cancel is refused and recorded; Bob's works."""
    card = plan(guarded, "rollback fluxori-backend")
    click(guarded, card, "action.cancel", CAROL)
    record = guarded.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.PENDING
    assert "may cancel this plan" in private(guarded, CAROL)
    assert refusals_of(guarded, CAROL)[0]["context"]["button"] == "action.cancel"
    click(guarded, card, "action.cancel", BOB)
    cancelled = guarded.bot.deps.store.get(action_id_of(card))
    assert cancelled is not None
    assert cancelled.state is State.CANCELLED


@pytest.mark.parametrize("where", ["another channel", "another message"])
def test_confirm_not_on_the_plans_card_is_refused(guarded: Stack, where: str) -> None:
    """A Confirm that Slack reports from another channel or message approves nothing."""
    before = serving(guarded)
    guarded.slack.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend")
    guarded.idle()
    other = guarded.slack.messages(OPS_CHANNEL)[-1]["ts"]
    card = plan(guarded, "rollback fluxori-backend")
    payload = click_payload(guarded, BOB, card, "action.confirm")
    if where == "another channel":
        payload["channel"] = {"id": "C_GENERAL"}
        payload["container"]["channel_id"] = "C_GENERAL"
    else:
        payload["container"]["message_ts"] = other
    assert send_interaction(guarded, payload) == 200
    guarded.idle()
    record = guarded.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.PENDING
    assert record.approved_by == ""
    assert serving(guarded) == before
    assert refusals_of(guarded, BOB)


def test_readers_policy_holds_for_app_home_and_alert_buttons(guarded_stack: GuardedStack) -> None:
    """Carol is not a prod reader: App Home shows her no prod, an alert's Show errors refuses."""
    stack = guarded_stack(readers='["U_ALICE", "U_BOB"]')
    applied_rollback(stack)
    stack.slack.open_home(CAROL)
    stack.idle()
    home = json.dumps(stack.slack.home(CAROL))
    assert "*dev*" in home
    assert "*prod*" not in home
    assert "Roll back fluxori-backend" not in home
    stack.slack.open_home(BOB)
    stack.idle()
    assert "Roll back fluxori-backend" in json.dumps(stack.slack.home(BOB))
    card = alert_card(stack)
    stack.slack.click(CAROL, OPS_CHANNEL, card["ts"], "alert.errors")
    stack.idle()
    assert stack.slack.replies(OPS_CHANNEL, card["ts"])[1:] == []
    assert "read prod" in private(stack, CAROL)


# -- jobs carry ids, never authority


def forged_payloads(pending: str) -> list[dict[str, Any]]:
    """What an attacker able to publish jobs might send: authority in the payload."""
    claims = {"user_id": BOB, "user": {"id": BOB}, "channel_id": OPS_CHANNEL}
    return [
        {"action": pending},
        {"action_id": "action.confirm", "value": pending, **claims},
        {
            "verb": "scale",
            "env": "prod",
            "target": "fluxori-frontend",
            **claims,
            "params": {"settings": {"max": "1"}},
            "text": "scale fluxori-frontend max=1",
        },
        {"input": "0badc0de-20261129"},
        {"input": pending, "request": pending},
    ]


def post_task(stack: Stack, kind: str, payload: dict[str, Any], n: int) -> int:
    data = json.dumps({"kind": kind, "payload": payload}).encode()
    envelope_ = {
        "message": {"data": base64.b64encode(data).decode(), "messageId": f"forged-{kind}-{n}"},
        "subscription": "projects/p/subscriptions/jobs",
    }
    token = stack.google.mint_tasks()  # a valid token: the forgery is in the job
    reply = requests.post(
        f"{stack.url}/tasks",
        json=envelope_,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return reply.status_code


def test_forged_jobs_of_every_kind_change_nothing(guarded: Stack) -> None:
    """Every job kind the bot runs, sent with authority in its payload (a user who never
    clicked, a plan to make): no approval, no plan, no change, nothing posted."""
    frontend = PROD_BACKEND.name.replace("backend", "frontend")
    before = (serving(guarded), guarded.gcp.run.get(frontend).scaling.max_instance_count)
    card = plan(guarded, "rollback fluxori-backend")
    pending = action_id_of(card)
    messages = len(guarded.slack.messages(OPS_CHANNEL))
    kinds = sorted(guarded.bot.deps.runners)
    assert {"plan", "run", "command", "alert_click"} <= set(kinds)
    for n, (kind, payload) in enumerate((k, p) for k in kinds for p in forged_payloads(pending)):
        assert post_task(guarded, kind, payload, n) in (200, 400)
    guarded.idle()
    record = guarded.bot.deps.store.get(pending)
    assert record is not None
    assert record.state is State.PENDING
    assert record.approved_by == ""
    assert [e.kind for e in record.events if e.kind == "approved"] == []
    assert len(actions(guarded)) == 1
    assert (serving(guarded), guarded.gcp.run.get(frontend).scaling.max_instance_count) == before
    assert len(guarded.slack.messages(OPS_CHANNEL)) == messages
    assert guarded.slack.ephemerals(BOB, OPS_CHANNEL) == []


# -- one registry


def test_an_unregistered_or_read_verb_is_never_planned(guarded: Stack) -> None:
    """A change request naming a read verb or an unknown one is refused, recorded, not planned."""
    for verb in ("status", "delete-service", ""):
        request = ChangeRequest(verb, "prod", "fluxori-backend", ALICE, OPS_CHANNEL, "command")
        admission.handle(request, guarded.bot.deps)
    guarded.idle()
    assert actions(guarded) == []
    assert len(refusals_of(guarded, ALICE)) == 3
    with pytest.raises(Refusal):
        registry.steps("status")


def test_every_grammar_verb_is_registered_with_what_it_does() -> None:
    """The grammar comes from the registry: each verb reads or changes, never neither."""
    for name, verb in registry.VERBS.items():
        action = registry.ACTIONS[name]
        if name != "help":
            assert (action.answer is None) != (not action.change), name
        assert verb.mutating == bool(action.change)
    for name, action in registry.ACTIONS.items():  # what each names is there to load
        if action.change:
            assert callable(registry.steps(name).plan), name
        if isinstance(action.answer, registry.Read):
            assert callable(later(action.answer.path)), name
