"""Button clicks on plan and result cards: confirm, cancel, plan again, undo, disable old."""

from __future__ import annotations

from typing import Any

from bot.changes.execution import run_approved
from bot.changes.planning import propose
from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.jobs import Job
from bot.slack import cards
from bot.store import Action, Event, State

log = logs.get(__name__)

JOB_KIND = "click"


def on_click(job: Job, deps: Deps) -> None:
    p = job.payload
    action = deps.store.get(p["value"])
    if action is None:
        _tell(p, deps, "That plan is not on record any more; run the command again.")
        return
    handler = CLICKS.get(p["action_id"])
    if handler is not None:
        handler(action, p, deps)


def confirm(action: Action, p: dict[str, Any], deps: Deps) -> None:
    user = p["user_id"]
    if expire_if_due(action, deps):
        _tell(
            p, deps, "This plan expired before it was confirmed. Plan again if it is still needed."
        )
        return
    decision = deps.policy.may_approve(user, action)
    if not decision.allowed:
        deps.store.update(
            action.id, {}, Event(deps.now(), "approval_refused", user, decision.reason)
        )
        log.info("approval_refused", action_id=action.id, user=user, reason=decision.reason)
        _tell(p, deps, f":no_entry: {decision.reason}")
        return
    now = deps.now()
    claim = deps.store.transition(
        action.id,
        (State.PENDING,),
        State.APPROVED,
        Event(now, "approved", user),
        {"approved_by": user, "approved_at": now},
        lock=True,
    )
    if claim.holder:
        _busy(action, claim.holder, p, deps)
        return
    if not claim.won or claim.action is None:
        _tell(p, deps, _already(claim.action or action))
        return
    approved = claim.action
    deps.outbox.update(approved.channel, approved.card_ts, cards.card(approved), approved.summary)
    run_approved(approved, deps)


def cancel(action: Action, p: dict[str, Any], deps: Deps) -> None:
    user = p["user_id"]
    claim = deps.store.transition(
        action.id,
        (State.PENDING,),
        State.CANCELLED,
        Event(deps.now(), "cancelled", user),
        {"cancelled_by": user},
    )
    if not claim.won or claim.action is None:
        _tell(p, deps, _already(claim.action or action))
        return
    deps.outbox.update(action.channel, action.card_ts, cards.card(claim.action), action.summary)


def replan(action: Action, p: dict[str, Any], deps: Deps) -> None:
    _propose_in_thread(action.verb, action.target, action.params, action, p, deps)


def undo(action: Action, p: dict[str, Any], deps: Deps) -> None:
    previous = action.plan.get("params", {}).get("previous_split")
    _propose_in_thread("rollback", action.target, {"split": previous}, action, p, deps)


def disable_old(action: Action, p: dict[str, Any], deps: Deps) -> None:
    version = action.plan.get("params", {}).get("previous_version", "")
    _propose_in_thread(
        "disable-secret-version", action.target, {"version": version}, action, p, deps
    )


def _propose_in_thread(
    verb: str, target: str, params: dict[str, Any], origin: Action, p: dict[str, Any], deps: Deps
) -> None:
    propose(
        verb,
        origin.env,
        target,
        params,
        user=p["user_id"],
        channel=origin.channel,
        thread_ts=origin.thread_ts,
        alert_id=origin.alert_id,
        deps=deps,
    )


def expire_if_due(action: Action, deps: Deps) -> bool:
    """Pending past its expiry -> expired, card updated. True if it is (now) expired."""
    if action.state is State.EXPIRED:
        return True
    if action.state is not State.PENDING or action.expires_at > deps.now():
        return False
    claim = deps.store.transition(
        action.id, (State.PENDING,), State.EXPIRED, Event(deps.now(), "expired")
    )
    if claim.won and claim.action is not None:
        deps.outbox.update(action.channel, action.card_ts, cards.card(claim.action), action.summary)
    return True


def sweep_expired(deps: Deps) -> int:
    expired = deps.store.expired_pending(deps.now())
    return sum(expire_if_due(action, deps) for action in expired)


def _busy(action: Action, holder: str, p: dict[str, Any], deps: Deps) -> None:
    running = deps.store.get(holder)
    link = _permalink(running, deps) if running else ""
    reason = (
        f"Another change to `{action.target}` in {action.env} is in progress"
        f" ({link or holder}); wait for it to finish."
    )
    deps.store.update(action.id, {}, Event(deps.now(), "approval_refused", p["user_id"], reason))
    _tell(p, deps, f":no_entry: {reason}")


def _already(action: Action) -> str:
    who = action.approved_by or action.cancelled_by
    by = f" by <@{who}>" if who else ""
    return f"Too late: this plan was already {action.state.value}{by}."


def _permalink(action: Action, deps: Deps) -> str:
    try:
        response = deps.slack.chat_getPermalink(channel=action.channel, message_ts=action.card_ts)
        return f"<{response['permalink']}|{action.summary}>"
    except Exception:  # a link is a nicety; the id is enough
        return f"`{action.id}`"


def _tell(p: dict[str, Any], deps: Deps, text: str) -> None:
    """Ephemeral reply to the person who clicked."""
    if p.get("response_url"):
        deps.messenger.respond_text(p["response_url"], text)


CLICKS = {
    cards.CONFIRM: confirm,
    cards.CANCEL: cancel,
    cards.REPLAN: replan,
    cards.UNDO: undo,
    cards.DISABLE_OLD: disable_old,
}
