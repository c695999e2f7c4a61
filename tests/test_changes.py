"""Confirmed changes end to end: plan card -> Confirm -> Google Cloud changed once -> thread."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc

from bot.dev.slack_emulator.transport import BotResponse
from bot.store import Filters, State
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    BOB,
    CAROL,
    action_id_of,
    click,
    plan,
    previous_revision,
    serving,
    text_of,
    thread,
)
from tests.support.stack import OPS_CHANNEL, Stack, eventually
from tests.test_never_worse import run_check


def test_rollback_confirmed_by_a_second_person_moves_traffic_once(stack: Stack) -> None:
    """Alice plans, Bob confirms: 100% moves to the previous revision and the thread says so."""
    target = previous_revision(stack)
    card = plan(stack, "rollback fluxori-backend --env prod")
    assert target in text_of(card)
    assert "PRODUCTION" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == {target: 100}
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "Done: approved by <@U_BOB>" in text_of(updated)
    assert "action.confirm" not in text_of(updated)
    assert f"`{target}` 100%" in thread(stack, card)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert (record.state, record.approved_by, record.requested_by) == (State.SUCCEEDED, BOB, ALICE)


def test_confirm_clicked_before_the_bot_hears_its_card_was_posted_is_honoured(
    stack: Stack,
) -> None:
    """Slack shows the plan card before chat.postMessage's answer reaches the bot; Bob's
    Confirm in that moment waits for the card's record instead of being turned away."""
    target = previous_revision(stack)
    stack.slack.answer_late_next("chat.postMessage", 1.0)
    assert (
        stack.slack.slash_command(ALICE, OPS_CHANNEL, text="rollback fluxori-backend").status == 200
    )
    card = eventually(
        lambda: [m for m in stack.slack.messages(OPS_CHANNEL) if "action.confirm" in text_of(m)],
        what="the plan card in the channel",
    )[0]
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.card_ts == ""  # the post's answer is still on its way
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == {target: 100}
    assert stack.slack.ephemerals(BOB, OPS_CHANNEL) == []


def test_requester_cannot_approve_in_prod(stack: Stack) -> None:
    """The two-person rule: Alice's own click is refused, recorded, and changes nothing."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", ALICE)
    assert serving(stack) == before
    private = stack.slack.ephemerals(ALICE, OPS_CHANNEL)
    assert "second person" in text_of(private[-1])
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.PENDING
    assert record.events[-1].kind == "approval_refused"


def test_requester_may_approve_outside_prod(stack: Stack) -> None:
    """In staging one person is enough."""
    card = plan(stack, "rollback fluxori-frontend --env staging")
    click(stack, card, "action.confirm", ALICE)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.SUCCEEDED


def test_cancel_leaves_production_alone(stack: Stack) -> None:
    """Cancel closes the plan and removes its buttons; nothing changes."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.cancel", BOB)
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "Cancelled by <@U_BOB>" in text_of(updated)
    assert "action.confirm" not in text_of(updated)
    assert serving(stack) == before


def test_concurrent_confirms_execute_once(stack: Stack) -> None:
    """Ten concurrent clicks by two people: one execution, the rest told who got there first."""
    target = previous_revision(stack)
    card = plan(stack, "rollback fluxori-backend")

    def confirm(i: int) -> BotResponse | None:
        try:
            return stack.slack.click((BOB, CAROL)[i % 2], OPS_CHANNEL, card["ts"], "action.confirm")
        except LookupError:  # the card lost its buttons first: Slack shows nothing to click
            return None

    with ThreadPoolExecutor(10) as pool:
        replies = [r for r in pool.map(confirm, range(10)) if r is not None]
    assert replies
    assert all(r.status == 200 for r in replies)
    stack.idle()
    assert serving(stack) == {target: 100}
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert [e.kind for e in record.events].count("started") == 1
    too_late = [m for user in (BOB, CAROL) for m in stack.slack.ephemerals(user, OPS_CHANNEL)]
    assert len(too_late) == len(replies) - 1
    assert all("Too late" in text_of(m) or "in progress" in text_of(m) for m in too_late)


def test_expired_plan_cannot_be_confirmed(stack: Stack) -> None:
    """A plan older than its time to live is expired on click and nothing runs."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    deps = stack.bot.deps
    real_now = deps.now
    deps.now = lambda: real_now() + timedelta(minutes=16)
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == before
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "Expired" in text_of(updated)


def test_service_changed_since_the_plan_is_not_touched(stack: Stack) -> None:
    """Etag drift: someone scaled the service after the preview; the rollback changes nothing."""
    card = plan(stack, "rollback fluxori-backend")
    other = plan(stack, "scale fluxori-backend max=12", user=CAROL)
    click(stack, other, "action.confirm", BOB)
    before = serving(stack)
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == before
    text = thread(stack, card)
    assert "modified after this plan was made" in text
    assert "instances" in text
    assert "action.replan" in text


def test_rollback_refusals(stack: Stack) -> None:
    """Unknown or already-serving targets: the requester alone is told why; both recorded."""
    serving_now = next(iter(serving(stack)))
    for text, reason in (
        ("rollback fluxori-backend --to fluxori-backend-09999-zzz", "does not exist"),
        (f"rollback fluxori-backend --to {serving_now}", "already serves 100%"),
    ):
        stack.slack.slash_command(ALICE, OPS_CHANNEL, text=text)
        stack.idle()
        assert reason in text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert stack.slack.messages(OPS_CHANNEL) == []  # nothing for the whole channel to read
    assert len(stack.bot.deps.store.refusals()) == 2

    stack.slack.slash_command(CAROL, OPS_CHANNEL, text="history fluxori-backend --outcome refused")
    stack.idle()
    answer = text_of(stack.slack.messages(OPS_CHANNEL)[-1])
    assert "Refused requests · fluxori-backend" in answer
    assert answer.count("by <@U_ALICE>") == 2
    assert "does not exist" in answer
    assert "already serves 100%" in answer
    stack.slack.slash_command(
        CAROL, OPS_CHANNEL, text="history --outcome refused --user <@U_BOB|bob>"
    )
    stack.idle()
    assert "No refused requests" in text_of(stack.slack.messages(OPS_CHANNEL)[-1])


def test_invalid_scale_values_are_refused_before_any_call(stack: Stack) -> None:
    """Cloud Run's rules are applied before Google is asked."""
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend cpu=3 memory=64Gi")
    stack.idle()
    text = text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert "CPU" in text
    assert "emory" in text


def test_scale_min_max_without_a_new_revision(stack: Stack) -> None:
    """min/max change the service's scaling; no revision is created."""
    revisions = len(stack.gcp.run.revisions(PROD_BACKEND.name))
    card = plan(stack, "scale fluxori-backend min=3 max=20")
    click(stack, card, "action.confirm", BOB)
    service = stack.gcp.run.get(PROD_BACKEND.name)
    assert (service.scaling.min_instance_count, service.scaling.max_instance_count) == (3, 20)
    assert len(stack.gcp.run.revisions(PROD_BACKEND.name)) == revisions


def test_scale_memory_creates_one_revision(stack: Stack) -> None:
    """memory/cpu create exactly one new revision, which serves."""
    revisions = len(stack.gcp.run.revisions(PROD_BACKEND.name))
    card = plan(stack, "scale fluxori-backend memory=2Gi cpu=2")
    assert "new revision" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert len(stack.gcp.run.revisions(PROD_BACKEND.name)) == revisions + 1
    limits = stack.gcp.run.get(PROD_BACKEND.name).template.containers[0].resources.limits
    assert (limits["memory"], limits["cpu"]) == ("2Gi", "2")
    assert serving(stack) == {previous_revision(stack, back=0): 100}  # the new one takes traffic


def test_scale_form_with_field_errors(stack: Stack) -> None:
    """`/ops scale SERVICE` opens a form; bad values come back beside the field; good ones plan."""
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend")
    stack.idle()
    view = eventually(lambda: stack.slack.open_views(ALICE), what="scale form")[-1]
    assert "Max instances" in json.dumps(view)
    reply = stack.slack.submit_view(ALICE, view["id"], {"memory": "64Gi"})
    assert reply.json()["response_action"] == "errors"
    assert "memory" in reply.json()["errors"]
    stack.slack.submit_view(ALICE, view["id"], {"memory": "2Gi"})
    stack.idle()
    assert "Plan: Scale fluxori-backend" in text_of(stack.slack.messages(OPS_CHANNEL)[-1])


def test_scale_form_after_a_rollback_builds_on_the_serving_revision(stack: Stack) -> None:
    """Traffic pinned to an older revision: the form says so and shows its values; memory
    2Gi builds a new revision from it, with its image, which then serves 100%."""
    click(stack, plan(stack, "rollback fluxori-backend"), "action.confirm", BOB)
    pinned = next(iter(serving(stack)))
    image = revision_image(stack, pinned)
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend")
    stack.idle()
    view = eventually(lambda: stack.slack.open_views(ALICE), what="scale form")[-1]
    assert f"Traffic is pinned to `{pinned}`" in json.dumps(view)
    stack.slack.submit_view(ALICE, view["id"], {"memory": "2Gi"})
    stack.idle()
    card = stack.slack.messages(OPS_CHANNEL)[-1]
    assert f"Builds a new revision from `{pinned}`" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    (now_serving,) = serving(stack)
    assert now_serving != pinned
    assert revision_image(stack, now_serving) == image
    resized = next(
        r for r in stack.gcp.run.revisions(PROD_BACKEND.name) if r.name.endswith(now_serving)
    )
    assert resized.containers[0].resources.limits["memory"] == "2Gi"


def revision_image(stack: Stack, name: str) -> str:
    revision = next(r for r in stack.gcp.run.revisions(PROD_BACKEND.name) if r.name.endswith(name))
    return str(revision.containers[0].image)


def test_history_lists_actions_with_outcome(stack: Stack) -> None:
    """`/ops history` shows who did what and how it ended, filterable by outcome and user."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    stack.slack.slash_command(
        CAROL, OPS_CHANNEL, text="history fluxori-backend --outcome succeeded --user <@U_BOB|bob>"
    )
    stack.idle()
    answer = text_of(stack.slack.messages(OPS_CHANNEL)[-1])
    assert "rollback" in answer
    assert "approved by <@U_BOB>" in answer
    assert "succeeded" in answer


def test_undo_restores_the_previous_split(stack: Stack) -> None:
    """The result's Undo button plans the way back; confirmed, traffic returns."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    result = [
        m for m in stack.slack.replies(OPS_CHANNEL, card["ts"]) if "action.undo" in text_of(m)
    ][-1]
    stack.slack.click(ALICE, OPS_CHANNEL, result["ts"], "action.undo")
    stack.idle()
    undo_card = [
        m for m in stack.slack.replies(OPS_CHANNEL, card["ts"]) if "Restore traffic" in text_of(m)
    ][-1]
    stack.slack.click(BOB, OPS_CHANNEL, undo_card["ts"], "action.confirm")
    stack.idle()
    assert serving(stack) == before


def test_rollback_check_reports_improvement(stack: Stack) -> None:
    """After the watch window the thread shows 5xx rate and latency before and after."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    run_check(stack, card)  # the watch window passes (in Google's and the bot's clocks)
    text = thread(stack, card)
    assert "rollback helped" in text
    assert "5xx rate" in text


def test_store_keeps_the_whole_audit_trail(stack: Stack) -> None:
    """Request, plan, refusal, approval, start and outcome are all on the record."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", ALICE)
    click(stack, card, "action.confirm", BOB)
    record = stack.bot.deps.store.search(Filters(limit=1))[0]
    kinds = [e.kind for e in record.events]
    assert kinds == [
        "requested",
        "planned",
        "approval_refused",
        "approved",
        "started",
        "succeeded",
        "check_scheduled",
    ]


def test_unavailable_update_fails_cleanly(stack: Stack) -> None:
    """UNAVAILABLE on the update: the record is failed, the thread says so, traffic unchanged."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    stack.gcp.faults.inject(
        "UpdateService", code=grpc.StatusCode.UNAVAILABLE, message="backend down"
    )
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == before
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.FAILED
    assert "did not answer in time" in thread(stack, card)
