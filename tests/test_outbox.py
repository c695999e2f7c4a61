"""Slack is a display: a Slack outage never wedges a service, never falsifies a change's
record and never loses its result; the outbox delivers once Slack answers, from any
instance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import container
from bot.changes import maintenance
from bot.store import Event, State
from bot.store.outbox import OutboxState, update_key
from gcp.clients import FAST_SETTINGS
from handlers import blocks as bk
from tests.support.slack import BOB, action_id_of, click, plan, run, serving, text_of, thread
from tests.support.stack import OPS_CHANNEL, Stack, eventually
from tests.test_never_worse import run_check

SLACK_DOWN = 1000  # failures queued: Slack answers 500 until the test clears them


def state_of(stack: Stack, card: dict[str, Any]) -> State:
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    return record.state


def card_text(stack: Stack, card: dict[str, Any]) -> str:
    message = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert message is not None
    return text_of(message)


def slack_is_back(stack: Stack) -> None:
    """Slack answers again and the backoffs have passed."""
    stack.slack.faults.clear()
    stack.advance(seconds=600)


def approve_without_starting(stack: Stack, card: dict[str, Any], ago: timedelta) -> str:
    """A worker claimed the plan `ago` and died before starting it."""
    deps, action_id = stack.bot.deps, action_id_of(card)
    approved_at = deps.now() - ago
    claim = deps.store.transition(
        action_id,
        (State.PENDING,),
        State.APPROVED,
        Event(approved_at, "approved", BOB),
        {"approved_by": BOB, "approved_at": approved_at},
        lock=True,
    )
    assert claim.won
    return action_id


def test_failed_card_update_at_confirm_does_not_wedge_the_service(stack: Stack) -> None:
    """chat.update failing right after the claim: the change runs, the next plan on the
    service is confirmable, and the cards catch up once Slack answers."""
    before = serving(stack)
    stack.slack.fail_next("chat.update", status=500, times=SLACK_DOWN)
    first = plan(stack, "rollback fluxori-backend")
    click(stack, first, "action.confirm", BOB)
    assert state_of(stack, first) is State.SUCCEEDED
    assert serving(stack) != before
    second = plan(stack, "rollback fluxori-backend")
    click(stack, second, "action.confirm", BOB)
    assert state_of(stack, second) is State.SUCCEEDED
    assert "action.confirm" in card_text(stack, first)

    slack_is_back(stack)
    maintenance.sweep(stack.bot.deps)
    stack.idle()
    # Each plan's card and its progress line (updated in place to "finished").
    assert stack.bot.deps.store.outbox_pending() == []
    assert all("Done" in card_text(stack, card) for card in (first, second))


def test_slack_down_mid_change_keeps_the_truth_and_delivers_later(stack: Stack) -> None:
    """Every post failing during a rollback: the record says succeeded and traffic moved;
    once Slack answers, progress, the result with Undo and the rollback check arrive in
    order, and history says succeeded."""
    deps = stack.bot.deps
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    stack.slack.fail_next("chat.postMessage", status=500, times=SLACK_DOWN)
    click(stack, card, "action.confirm", BOB)
    assert state_of(stack, card) is State.SUCCEEDED
    assert serving(stack) != before
    assert thread(stack, card) == ""

    slack_is_back(stack)
    run_check(stack, card)  # the watch window passes (in Google's and the bot's clocks)

    def delivered() -> str | None:
        maintenance.sweep(deps)
        text = thread(stack, card)
        return text if "rollback helped" in text else None

    text = eventually(delivered, timeout=10, what="the rollback check")
    assert "action.undo" in text
    assert (
        text.index("Moving traffic")
        < text.index("Traffic of `fluxori-backend` now")
        < text.index("rollback helped")
    )
    _, history = run(stack, "history fluxori-backend")
    assert "succeeded" in history


def test_another_instance_delivers_what_a_dead_one_left(stack: Stack) -> None:
    """The result recorded by an instance while Slack was down is delivered by a second
    instance on the same store once Slack answers."""
    card = plan(stack, "rollback fluxori-backend")
    stack.slack.fail_next("chat.postMessage", status=500, times=SLACK_DOWN)
    click(stack, card, "action.confirm", BOB)
    assert thread(stack, card) == ""
    stack.slack.faults.clear()

    other = container.build(stack.bot.deps.settings, FAST_SETTINGS)
    try:
        later = other.deps.now() + timedelta(minutes=10)
        other.deps.now = lambda: later
        assert other.deps.outbox.deliver_due() == 2  # progress, result
    finally:
        other.close()
    assert "action.undo" in thread(stack, card)


def test_approved_plan_never_started_is_released(stack: Stack) -> None:
    """Approved by a worker that died before starting: two minutes on, the sweep releases
    it (nothing changed, lock freed, said on the card, in the thread and in history)."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    approve_without_starting(stack, card, ago=timedelta(minutes=3))

    assert maintenance.sweep(stack.bot.deps).not_started == 1
    assert state_of(stack, card) is State.NOT_STARTED
    assert serving(stack) == before
    assert "never started" in card_text(stack, card)
    assert "nothing was changed" in thread(stack, card)
    _, history = run(stack, "history fluxori-backend")
    assert "not-started" in history

    second = plan(stack, "rollback fluxori-backend")
    click(stack, second, "action.confirm", BOB)
    assert state_of(stack, second) is State.SUCCEEDED


def test_approved_plan_that_stalled_is_started_once(stack: Stack) -> None:
    """Approved half a minute ago and not started: the sweep submits its run, which happens
    once however many sweeps follow."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    action_id = approve_without_starting(stack, card, ago=timedelta(seconds=30))

    maintenance.sweep(stack.bot.deps)
    stack.idle()
    maintenance.sweep(stack.bot.deps)
    stack.idle()
    record = stack.bot.deps.store.get(action_id)
    assert record is not None
    assert record.state is State.SUCCEEDED
    assert [e.kind for e in record.events].count("started") == 1
    assert serving(stack) != before
    assert "Done" in card_text(stack, card)


def test_updates_made_while_slack_is_down_collapse_into_the_latest(stack: Stack) -> None:
    """Three updates of one message during an outage: Slack gets the latest only."""
    outbox, store = stack.bot.deps.outbox, stack.bot.deps.store
    outbox.post(OPS_CHANNEL, [bk.section("v0")], key="test:collapse")
    posted = store.outbox_get("test:collapse")
    assert posted is not None
    assert posted.state is OutboxState.DELIVERED
    stack.slack.fail_next("chat.update", status=503, times=SLACK_DOWN)
    for text in ("v1", "v2", "v3"):
        outbox.update(OPS_CHANNEL, posted.ts, [bk.section(text)], text)
    slack_is_back(stack)
    updates_before = len(stack.slack.calls("chat.update"))
    assert outbox.deliver_due() == 1
    assert len(stack.slack.calls("chat.update")) == updates_before + 1
    message = stack.slack.message(OPS_CHANNEL, posted.ts)
    assert message is not None
    assert "v3" in text_of(message)
    entry = store.outbox_get(update_key(OPS_CHANNEL, posted.ts))
    assert entry is not None
    assert entry.state is OutboxState.DELIVERED


def test_a_message_slack_refuses_for_good_is_dropped(stack: Stack) -> None:
    """channel_not_found is not retried: the entry is dropped and nothing stays pending."""
    outbox, store = stack.bot.deps.outbox, stack.bot.deps.store
    outbox.post("C_NOWHERE", [bk.section("lost")], key="test:nowhere")
    dropped = store.outbox_get("test:nowhere")
    assert dropped is not None
    assert (dropped.state, dropped.error) == (OutboxState.DROPPED, "channel_not_found")
    assert store.outbox_pending() == []


def test_a_change_reported_interrupted_that_then_finishes_records_its_outcome(
    stack: Stack,
) -> None:
    """The sweep takes a slow rollout for a dead worker and reports it interrupted; when the
    rollout completes, the record and the thread say what really happened."""
    stack.gcp.run.operation_delay = 4.0  # still rolling out when the sweep looks
    card = plan(stack, "rollback fluxori-backend")
    assert stack.slack.click(BOB, OPS_CHANNEL, card["ts"], "action.confirm").status == 200
    eventually(lambda: "Moving traffic" in thread(stack, card), what="the rollout started")
    stack.advance(seconds=maintenance.HEARTBEAT_DEADLINE.total_seconds() + 5)
    assert maintenance.sweep(stack.bot.deps).interrupted == 1
    stack.idle(timeout=10)
    assert state_of(stack, card) is State.SUCCEEDED
    text = thread(stack, card)
    assert text.index("interrupted") < text.index("Traffic of `fluxori-backend` now")
    assert "Done" in card_text(stack, card)
