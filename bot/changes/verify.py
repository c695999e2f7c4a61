"""After a rollback or a roll forward: watch the 5xx rate and latency for a while, then
report before → after (for a canary, with the next step)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.jobs import Job, NotYet
from bot.slack import cards
from bot.store import Action, Event
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers.timefmt import window as window_text

if TYPE_CHECKING:
    from gcp.models import RequestStats

log = logs.get(__name__)

JOB_KIND = "rollback_verify"


def register(deps: Deps) -> None:
    deps.runners[JOB_KIND] = lambda job: run(job, deps)


SCHEDULED = "check_scheduled"


def schedule(action: Action, deps: Deps) -> None:
    """Record that the change is watched, then queue the check. The job names the action
    only: the check's times come from the record, and it runs only for a watched change."""
    deps.store.update(action.id, {}, Event(deps.now(), SCHEDULED))
    delay = deps.config.rollback_watch_seconds
    deps.queue.submit_later(Job(JOB_KIND, {"action_id": action.id}), delay)


def run(job: Job, deps: Deps) -> None:
    action_id = job.payload.get("action_id")
    action = deps.store.get(action_id) if isinstance(action_id, str) and action_id else None
    # The job names a watched change; its time comes from the record; the check posts once.
    watched = action is not None and any(e.kind == SCHEDULED for e in action.events)
    if action is None or not watched or action.finished_at is None:
        log.warning("rollback_check_without_rollback", action_id=str(action_id)[:40])
        return
    changed = action.finished_at
    window = timedelta(seconds=deps.config.rollback_watch_seconds)
    if deps.now() < changed + window:
        raise NotYet(changed + window)
    if not deps.store.first_seen(f"verified:{action.id}", deps.now()):
        return
    ref = deps.config.service_ref(action.env, action.target)
    try:
        # Before: up to the moment the change started; after: from when it was done.
        before = deps.platform.monitoring.request_stats(ref, window, end=action.started_at)
        after = deps.platform.monitoring.request_stats(ref, window, end=changed + window)
        blocks, outcome = _verdict(action, before, after, window_text(window))
    except GcpError as err:
        blocks = [
            bk.section(f":grey_question: Could not read metrics to check the change: {err.what}.")
        ]
        outcome = "unknown"
    deps.outbox.post(action.channel, blocks, thread_ts=action.thread_ts, key=f"verify:{action.id}")
    deps.store.update(action.id, {}, Event(deps.now(), "verified", "", outcome))
    log.info("rollback_verified", action_id=action.id, outcome=outcome)


def _verdict(
    action: Action, before: RequestStats, after: RequestStats, window: str
) -> tuple[list[bk.Block], str]:
    from handlers import verify  # loads after start-up (cold start): see gcp.lazy.later

    if action.verb == "rollback":
        blocks = verify.render(action.target, before, after, window)
        return blocks, "improved" if verify.improved(before, after) else "not improved"
    canary = action.plan.get("params", {}).get("canary") is not None
    blocks = verify.render_forward(action.target, before, after, window, canary)
    healthy = verify.no_worse(before, after)
    buttons = [bk.button("Undo", cards.UNDO, action.id)]
    if canary and healthy:
        buttons.insert(0, bk.button("Continue to 100%", cards.CONTINUE, action.id, style="primary"))
    blocks.append(bk.actions(f"check:{action.id}", *buttons))
    return blocks, "no worse" if healthy else "worse"
