"""Clicks on a plan's buttons: Confirm, Cancel, Plan again, Undo, Disable old version.

Every click passes the same checks, inside the request whose Slack signature was verified:
the plan is on record, the click comes from the plan's channel and message (its card; for Plan
again, Undo and Disable old version, its thread), the user may read that environment and may
approve (approvers and the two-person rule) or cancel. The approval is recorded here, by that
request; the job it queues only says "run action X", and the store's claims run it at most
once. Plan again, Undo and Disable old version are new change requests (bot.changes.admission).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.policy import ALLOW, Decision
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import Job, QueueFull
from bot.slack import cards
from bot.slack.clicks import Click
from bot.store import Action, Event, State

log = logs.get(__name__)

RUN_JOB = "run"  # {"action": id}: run an approved action
CARD_JOB = "card"  # {"action": id}: show a plan card as the store has it
TELL_JOB = "tell"  # stored input: a private answer to the person who clicked
# Slack shows a card before its post's answer reaches the bot, so a quick click can arrive
# before the card's ts is stored; it waits this long for it (within Slack's 3 s to ack).
CARD_WAIT_SECONDS = 2.0


def register(deps: Deps) -> None:
    deps.runners[RUN_JOB] = lambda job: _with_action(job, deps, run)
    deps.runners[CARD_JOB] = lambda job: _with_action(job, deps, show_card)
    deps.runners[TELL_JOB] = job_inputs.runner(deps.store, lambda data: _deliver_tell(data, deps))


def on_click(click: Click, deps: Deps) -> None:
    """The click's checks and effects on the store; Slack hears of it through jobs."""
    handle = BUTTONS.get(click.button)
    action = deps.store.get(click.value) if click.value else None
    if action is not None and not action.card_ts:
        action = _card_posted(action, deps)
    if handle is None or action is None:
        tell(click, "That plan is not on record any more; run the command again.", deps)
        return
    decision = _where(action, click)
    if decision.allowed:
        decision = deps.policy.may_read(click.user, action.env, click.channel)
    if not decision.allowed:
        refuse(action, click, decision.reason, deps)
        return
    handle(action, click, deps)


def _card_posted(action: Action, deps: Deps) -> Action:
    """The plan as stored once its card's ts is, or as it is after CARD_WAIT_SECONDS."""
    deadline = time.monotonic() + CARD_WAIT_SECONDS
    while not action.card_ts and action.state is State.PENDING and time.monotonic() < deadline:
        time.sleep(0.02)  # polling the store for the post's answer, bounded by the deadline
        action = deps.store.get(action.id) or action
    return action


def _where(action: Action, click: Click) -> Decision:
    if click.channel != action.channel:
        return Decision(False, f"This plan belongs to <#{action.channel}>; act on it there.")
    if not action.card_ts:
        return Decision(False, "This plan is still being posted; try again in a moment.")
    on_card = click.message_ts == action.card_ts
    in_thread = on_card or click.thread_ts == action.thread_ts
    if not (on_card if click.button in (cards.CONFIRM, cards.CANCEL) else in_thread):
        return Decision(False, "That button is not on this plan's card.")
    return ALLOW


def confirm(action: Action, click: Click, deps: Deps) -> None:
    if expire_if_due(action, deps):
        tell(click, "This plan expired before it was confirmed. Plan again if it is needed.", deps)
        return
    decision = deps.policy.may_approve(click.user, action)
    if not decision.allowed:
        refuse(action, click, decision.reason, deps)
        return
    now = deps.now()
    claim = deps.store.transition(
        action.id,
        (State.PENDING,),
        State.APPROVED,
        Event(now, "approved", click.user),
        {"approved_by": click.user, "approved_at": now},
        lock=True,
    )
    if claim.holder:
        busy = deps.store.get(claim.holder)
        what = f"*{busy.summary}* (`{busy.id}`)" if busy else f"`{claim.holder}`"
        reason = f"Another change to `{action.target}` in {action.env} is in progress: {what}."
        refuse(action, click, reason + " Wait for it to finish.", deps)
        return
    if not claim.won or claim.action is None:
        tell(click, _already(claim.action or action), deps)
        return
    log.info("change_approved", action_id=action.id, user=click.user)
    _queue(Job(RUN_JOB, {"action": action.id}), deps)


def cancel(action: Action, click: Click, deps: Deps) -> None:
    decision = deps.policy.may_cancel(click.user, action)
    if not decision.allowed:
        refuse(action, click, decision.reason, deps)
        return
    claim = deps.store.transition(
        action.id,
        (State.PENDING,),
        State.CANCELLED,
        Event(deps.now(), "cancelled", click.user),
        {"cancelled_by": click.user},
    )
    if not claim.won or claim.action is None:
        tell(click, _already(claim.action or action), deps)
        return
    _queue(Job(CARD_JOB, {"action": action.id}), deps)


def _again(verb: str, params: Callable[[Action], dict[str, Any]], origin: str) -> Clicked:
    """A button that asks for a new change in the plan's thread, as its clicker."""

    def request(action: Action, click: Click, deps: Deps) -> None:
        ask = ChangeRequest(
            verb=verb or action.verb,
            env=action.env,
            target=action.target,
            user=click.user,
            channel=action.channel,
            origin=origin,
            params=params(action),
            response_url=click.response_url,
            thread_ts=action.thread_ts,
            alert_id=action.alert_id,
        )
        answer = admission.submit(ask, deps)
        if answer:
            tell(click, str(answer["text"]), deps)

    return request


def run(action: Action, deps: Deps) -> None:
    """An approved action: show it running and execute it (once, by the store's claim)."""
    if action.state is not State.APPROVED:
        log.info("run_skipped_not_approved", action_id=action.id, state=action.state.value)
        return
    from bot.changes.execution import (
        run_approved,  # loads after start-up (cold start): see gcp.lazy.later
    )

    show_card(action, deps)
    run_approved(action, deps)


def show_card(action: Action, deps: Deps) -> None:
    deps.outbox.update(action.channel, action.card_ts, cards.card(action), action.summary)


def expire_if_due(action: Action, deps: Deps) -> bool:
    """Pending past its expiry -> expired, its card refreshed by a job. True if expired."""
    if action.state is State.EXPIRED:
        return True
    if _expire(action, deps):
        _queue(Job(CARD_JOB, {"action": action.id}), deps)
        return True
    return False


def sweep_expired(deps: Deps) -> int:
    """Expire what is due and refresh the cards (the sweep is a job: it may wait on Slack)."""
    expired = [a for a in deps.store.expired_pending(deps.now()) if _expire(a, deps)]
    for action in expired:
        refreshed = deps.store.get(action.id)
        show_card(refreshed or action, deps)
    return len(expired)


def _expire(action: Action, deps: Deps) -> bool:
    if action.state is not State.PENDING or action.expires_at > deps.now():
        return False
    claim = deps.store.transition(
        action.id, (State.PENDING,), State.EXPIRED, Event(deps.now(), "expired")
    )
    return claim.won


def refuse(action: Action, click: Click, reason: str, deps: Deps) -> None:
    """A refused click is on the plan's record and among the refusals, and told privately."""
    kind = "approval_refused" if click.button == cards.CONFIRM else "click_refused"
    event = Event(deps.now(), kind, click.user, reason)
    deps.store.update(action.id, {}, event)
    context = {
        "verb": action.verb,
        "env": action.env,
        "target": action.target,
        "button": click.button,
        "action": action.id,
        "channel": click.channel,
    }
    deps.store.record_refusal(Event(event.at, "refused", click.user, reason), context)
    log.info("click_refused", action_id=action.id, button=click.button, reason=reason)
    tell(click, f":no_entry: {reason}", deps)


def tell(click: Click, text: str, deps: Deps) -> None:
    data = {
        "user": click.user,
        "channel": click.channel,
        "response_url": click.response_url,
        "thread_ts": click.thread_ts,
        "text": text,
    }
    try:
        job_inputs.submit(TELL_JOB, data, deps.store, deps.queue)
    except QueueFull:
        log.warning("click_answer_dropped_queue_full", user=click.user)


def _deliver_tell(data: dict[str, Any], deps: Deps) -> None:
    deps.messenger.tell(
        str(data.get("user", "")),
        str(data.get("channel", "")),
        str(data.get("text", "")),
        response_url=str(data.get("response_url", "")),
        thread_ts=str(data.get("thread_ts", "")) or None,
    )


def _queue(job: Job, deps: Deps) -> None:
    try:
        deps.queue.submit(job)
    except QueueFull:  # the sweep starts approved plans and refreshes cards it finds stale
        log.warning("job_not_queued_queue_full", kind=job.kind, action_id=job.payload["action"])


def _with_action(job: Job, deps: Deps, act: Callable[[Action, Deps], None]) -> None:
    action_id = job.payload.get("action")
    action = deps.store.get(action_id) if isinstance(action_id, str) and action_id else None
    if action is None:
        log.warning("job_action_unknown", kind=job.kind)
        return
    act(action, deps)


_ALREADY = {
    State.PENDING: "Try again: this plan changed while you clicked.",
    State.APPROVED: "Too late: this plan was already confirmed by {approver} and is running.",
    State.RUNNING: "Too late: this plan was already confirmed by {approver} and is running.",
    State.SUCCEEDED: "Too late: this plan was already confirmed by {approver} and is done.",
    State.FAILED: "Too late: this plan was already confirmed by {approver}; it failed"
    " (see the thread).",
    State.CANCELLED: "Too late: this plan was already cancelled by {canceller}.",
    State.EXPIRED: "Too late: this plan expired unconfirmed. Plan again if it is still needed.",
    State.INTERRUPTED: "Too late: this plan was already confirmed by {approver}; it was"
    " interrupted mid-change (see the thread).",
    State.REFUSED: "Too late: this plan was refused.",
    State.NOT_STARTED: "Too late: this plan was confirmed by {approver} but never started;"
    " nothing was changed. Plan again if it is still needed.",
}
_NOT_APPLIED = (
    "Too late: this plan was already confirmed by {approver} but not applied: the service"
    " changed after the preview (see the thread)."
)


def _already(action: Action) -> str:
    """Why a click on a plan that has moved on does nothing, in the plan's own words."""
    stale = action.state is State.FAILED and action.applied is False
    wording = _NOT_APPLIED if stale else _ALREADY[action.state]
    return wording.format(
        approver=_mention(action.approved_by), canceller=_mention(action.cancelled_by)
    )


def _mention(user: str) -> str:
    return f"<@{user}>" if user else "someone"


Clicked = Callable[[Action, Click, Deps], None]
BUTTONS: dict[str, Clicked] = {
    cards.CONFIRM: confirm,
    cards.CANCEL: cancel,
    cards.REPLAN: _again("", lambda a: dict(a.params), "replan"),
    cards.UNDO: _again(
        "rollback", lambda a: {"split": a.plan.get("params", {}).get("previous_split")}, "undo"
    ),
    cards.CONTINUE: _again(
        "roll-forward", lambda a: {"to": a.plan.get("params", {}).get("to", "")}, "continue"
    ),
    cards.DISABLE_OLD: _again(
        "disable-secret-version",
        lambda a: {"version": a.plan.get("params", {}).get("previous_version", "")},
        "disable-old",
    ),
}
