"""Before a plan is made: who may ask, from where, how often, and whether the service is
cooling down after a change (an approver may override that, with a recorded reason)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.deps import Deps
from bot.policy import ALLOW, Decision, cooling_down, rate_limited
from bot.runtime import logs
from bot.store import Action, Event, Filters, State

log = logs.get(__name__)

FINISHED = (State.SUCCEEDED, State.FAILED, State.INTERRUPTED)


def check_request(p: dict[str, Any], deps: Deps) -> Decision:
    user, verb, env = p["user_id"], p["verb"], p["env"]
    decision = deps.policy.may_request(user, verb, env, p["channel_id"])
    if not decision.allowed:
        return decision
    config = deps.policy.config
    recent = deps.store.search(Filters(user=user, limit=max(config.rate_limit * 2, 20)))
    decision = rate_limited(recent, user, config, deps.now())
    if not decision.allowed:
        return decision
    last = next(
        iter(deps.store.search(Filters(env=env, target=p["target"], states=FINISHED, limit=1))),
        None,
    )
    decision = cooling_down(last, config, deps.now())
    if decision.allowed or not p.get("override"):
        return decision
    return _override(p, last_id=last.id if last else "", deps=deps)


def _override(p: dict[str, Any], last_id: str, deps: Deps) -> Decision:
    """Only someone who may approve can skip the cooldown; the reason goes on record."""
    probe = deps.store.get(last_id) if last_id else None
    if (
        probe is None
        or not deps.policy.may_approve(p["user_id"], _as_requested_by_other(probe)).allowed
    ):
        return Decision(False, "Only an approver may override the cooldown.")
    deps.store.record_refusal(
        Event(deps.now(), "cooldown_overridden", p["user_id"], p["override"]),
        {"verb": p["verb"], "env": p["env"], "target": p["target"]},
    )
    log.info("cooldown_overridden", user=p["user_id"], target=p["target"], reason=p["override"])
    return ALLOW


def _as_requested_by_other(action: Action) -> Action:
    """Approval rights without the two-person check (there is no requester to differ from)."""
    return replace(action, requested_by="")


def refuse(p: dict[str, Any], reason: str, deps: Deps) -> None:
    """Tell the user privately and keep the refusal on record."""
    deps.store.record_refusal(
        Event(deps.now(), "refused", p["user_id"], reason),
        {"verb": p["verb"], "env": p["env"], "target": p["target"], "channel": p["channel_id"]},
    )
    log.info("request_refused", verb=p["verb"], env=p["env"], reason=reason)
    deps.messenger.tell(
        p["user_id"],
        p["channel_id"],
        f":no_entry: {reason}",
        response_url=p.get("response_url", ""),
        thread_ts=p.get("thread_ts") or None,
    )
