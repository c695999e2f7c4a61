"""Housekeeping: expire unconfirmed plans, start or release approved plans that never
started, report changes whose worker died, and deliver the Slack outbox.

A running action whose heartbeat stopped is never run again: it is marked interrupted, the
service's current state is read from Google and posted in its thread with what to check.
An approved action that no worker started (the worker died between the claim and the start)
is submitted again (the approved -> running claim runs it at most once); still not started
START_DEADLINE after its approval, it is released: not-started, lock freed, nothing changed.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, NamedTuple

from bot import registry
from bot.changes import approval
from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.jobs import Job, QueueFull
from bot.slack import cards
from bot.store import Action, Event, State
from handlers import blocks as bk

log = logs.get(__name__)

JOB_KIND = "maintenance"
HEARTBEAT_DEADLINE = timedelta(minutes=2)
RESTART_AFTER = timedelta(seconds=20)  # a confirm starts its run at once; longer is a stall
START_DEADLINE = timedelta(minutes=2)
NOT_STARTED = "approved but never started; nothing was changed"
TICK_SECONDS = 30.0


class Swept(NamedTuple):
    expired: int
    interrupted: int
    not_started: int = 0
    delivered: int = 0


def register(deps: Deps) -> None:
    deps.runners[JOB_KIND] = lambda job: _sweep_job(deps)


def _sweep_job(deps: Deps) -> None:
    sweep(deps)


def sweep(deps: Deps) -> Swept:
    expired = approval.sweep_expired(deps)
    not_started = restart_or_release(deps)
    stale = deps.store.stale_running(deps.now() - HEARTBEAT_DEADLINE)
    interrupted = sum(report_interrupted(action, deps) for action in stale)
    delivered = deps.outbox.deliver_due()
    deps.store.outbox_purge(deps.now())
    deps.store.purge_expired(deps.now())
    return Swept(expired, interrupted, not_started, delivered)


def restart_or_release(deps: Deps) -> int:
    """Submit the run of approved actions that stalled; release those past the deadline.
    Returns how many were released."""
    now = deps.now()
    released = 0
    for action in deps.store.approved_before(now - RESTART_AFTER):
        if now - (action.approved_at or action.created_at) >= START_DEADLINE:
            released += release_not_started(action, deps)
            continue
        try:
            deps.queue.submit(Job(approval.RUN_JOB, {"action": action.id}))
            log.warning("change_restarted", action_id=action.id)
        except QueueFull:  # the next sweep submits it again
            log.info("restart_deferred_queue_full", action_id=action.id)
    return released


def release_not_started(action: Action, deps: Deps) -> bool:
    final = _finish(
        action,
        State.APPROVED,
        State.NOT_STARTED,
        Event(deps.now(), "not_started", "", "no worker started it after the approval"),
        {"outcome": NOT_STARTED, "applied": False},
        deps,
    )
    if final is None:
        return False
    log.warning(
        "change_released_unstarted", action_id=action.id, verb=action.verb, target=action.target
    )
    text = (
        f":double_vertical_bar: Approved by <@{action.approved_by}>, but the bot stopped before"
        " starting it: nothing was changed. Plan again if it is still needed."
    )
    deps.outbox.post(
        action.channel,
        [bk.section(text)],
        thread_ts=action.thread_ts,
        key=f"not-started:{action.id}",
    )
    return True


def report_interrupted(action: Action, deps: Deps) -> bool:
    final = _finish(
        action,
        State.RUNNING,
        State.INTERRUPTED,
        Event(deps.now(), "interrupted", "", "no heartbeat from the worker"),
        {"outcome": "interrupted: the worker stopped mid-change"},
        deps,
    )
    if final is None:
        return False
    log.warning("change_interrupted", action_id=action.id, verb=action.verb, target=action.target)
    deps.outbox.post(
        action.channel,
        interrupted_blocks(final, deps),
        thread_ts=action.thread_ts,
        key=f"interrupted:{action.id}",
    )
    return True


def _finish(
    action: Action,
    expected: State,
    state: State,
    event: Event,
    fields: dict[str, Any],
    deps: Deps,
) -> Action | None:
    """Move `action` from `expected` to the terminal `state` and refresh its card; the
    finished record, or None when another sweep or worker moved it first."""
    fields = {"finished_at": deps.now(), **fields}
    claim = deps.store.transition(action.id, (expected,), state, event, fields)
    if not claim.won or claim.action is None:
        return None
    deps.outbox.update(action.channel, action.card_ts, cards.card(claim.action), action.summary)
    return claim.action


def interrupted_blocks(action: Action, deps: Deps) -> list[bk.Block]:
    now = _current_state(action, deps)
    return [
        bk.section(
            f":warning: This change was interrupted: the bot stopped while it ran. It will *not*"
            f" be retried without a new confirmation.\n*Current state*\n{now}"
        ),
        bk.context(
            "Check whether the change took effect (`/ops status`, `/ops revisions`), then plan"
            " again if it is still needed."
        ),
    ]


def _current_state(action: Action, deps: Deps) -> str:
    from bot.changes import planning  # loads after start-up (cold start): see gcp.lazy.later

    ctx = planning.context(deps, action.env, action.target, action.params)
    return registry.steps(action.verb).current_state(ctx)


class Ticker:
    """Runs the sweep every TICK_SECONDS through the queue (in-process mode only)."""

    def __init__(self, deps: Deps, interval: float = TICK_SECONDS) -> None:
        self._deps = deps
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maintenance", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._deps.queue.submit(Job(JOB_KIND))
            except Exception:  # a busy queue skips one tick
                log.info("maintenance_tick_skipped")

    def stop(self) -> None:
        self._stop.set()
