"""A change whose worker died is reported as interrupted, with the current state, never rerun."""

from __future__ import annotations

from datetime import timedelta

from bot.changes import maintenance
from bot.store import Event, State
from tests.support.slack import BOB, action_id_of, plan, serving, text_of, thread
from tests.support.stack import Stack


def test_stale_running_change_is_reported_interrupted(stack: Stack) -> None:
    """Approved and started by a worker that then died: interrupted, state shown, nothing run."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    store, deps = stack.bot.deps.store, stack.bot.deps
    action_id = action_id_of(card)
    started = deps.now() - timedelta(minutes=5)
    store.transition(
        action_id,
        (State.PENDING,),
        State.APPROVED,
        Event(started, "approved", BOB),
        {"approved_by": BOB},
        lock=True,
    )
    store.transition(
        action_id,
        (State.APPROVED,),
        State.RUNNING,
        Event(started, "started", BOB),
        {"started_at": started, "heartbeat_at": started},
    )

    assert maintenance.sweep(deps)[:2] == (0, 1)
    assert maintenance.sweep(deps)[:2] == (0, 0)
    record = store.get(action_id)
    assert record is not None
    assert record.state is State.INTERRUPTED
    assert serving(stack) == before
    text = thread(stack, card)
    assert "interrupted" in text
    assert next(iter(before)) in text
    updated = stack.slack.message("C_OPS", card["ts"])
    assert updated is not None
    assert "Interrupted" in text_of(updated)


def test_expired_plans_are_swept(stack: Stack) -> None:
    """An unconfirmed plan past its time is marked expired and its buttons removed."""
    card = plan(stack, "rollback fluxori-backend")
    deps = stack.bot.deps
    real_now = deps.now
    deps.now = lambda: real_now() + timedelta(minutes=20)
    assert maintenance.sweep(deps)[:2] == (1, 0)
    updated = stack.slack.message("C_OPS", card["ts"])
    assert updated is not None
    assert "action.confirm" not in text_of(updated)
