"""Housekeeping: expire unconfirmed plans and report changes whose worker died.

A running action whose heartbeat stopped is never run again: it is marked interrupted, the
service's current state is read from Google and posted in its thread with what to check.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from bot import registry
from bot.changes import approval, planning
from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.jobs import Job
from bot.slack import cards
from bot.store import Action, Event, State
from handlers import blocks as bk

log = logs.get(__name__)

JOB_KIND = "maintenance"
HEARTBEAT_DEADLINE = timedelta(minutes=2)
TICK_SECONDS = 30.0


def register(deps: Deps) -> None:
    deps.runners[JOB_KIND] = lambda job: _sweep_job(deps)


def _sweep_job(deps: Deps) -> None:
    sweep(deps)


def sweep(deps: Deps) -> tuple[int, int]:
    """(expired, interrupted) counts."""
    expired = approval.sweep_expired(deps)
    stale = deps.store.stale_running(deps.now() - HEARTBEAT_DEADLINE)
    interrupted = sum(report_interrupted(action, deps) for action in stale)
    return expired, interrupted


def report_interrupted(action: Action, deps: Deps) -> bool:
    claim = deps.store.transition(
        action.id,
        (State.RUNNING,),
        State.INTERRUPTED,
        Event(deps.now(), "interrupted", "", "no heartbeat from the worker"),
        {"finished_at": deps.now(), "outcome": "interrupted: the worker stopped mid-change"},
    )
    if not claim.won or claim.action is None:
        return False
    log.warning("change_interrupted", action_id=action.id, verb=action.verb, target=action.target)
    deps.messenger.update(action.channel, action.card_ts, cards.card(claim.action), action.summary)
    deps.messenger.post(
        action.channel, interrupted_blocks(claim.action, deps), thread_ts=action.thread_ts
    )
    return True


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
