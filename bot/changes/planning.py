"""From an admitted change request to a recorded, posted plan card (pending confirmation)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import registry
from bot.changes import export_first
from bot.deps import Deps
from bot.runtime import logs
from bot.slack import cards
from bot.slack.messenger import ChannelUnavailable
from bot.slack.pacing import Priority
from bot.slack.replies import gcp_problem
from bot.store import Action, Event, State
from bot.store.model import new_id
from gcp.errors import AlreadyExists, GcpError, InvalidArgument
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps
from handlers.plans import Plan, Refusal

if TYPE_CHECKING:
    from bot.changes.admission import ChangeRequest

log = logs.get(__name__)

DRY_RUN_ACCEPTED = ":white_check_mark: Cloud Run accepted this exact change in a dry run."


def context(deps: Deps, env: str, target: str, params: dict[str, Any]) -> ChangeContext:
    return ChangeContext(
        env=env,
        target=target,
        params=params,
        platform=deps.platform,
        config=deps.config,
        now=deps.now(),
        protect=logs.register_secret,
    )


def judged(steps: ChangeSteps, plan: Plan, ctx: ChangeContext) -> Plan:
    """Cloud Run judges the exact update (`validate_only`): its refusal refuses the plan, its
    acceptance is said on the card. Our reading of its rules is not the last word."""
    if steps.dry_run is None:
        return plan
    try:
        steps.dry_run(replace(ctx, params=plan.params))
    except (InvalidArgument, AlreadyExists) as err:
        why = bk.escape(err.detail or err.what)
        raise Refusal(f"Cloud Run refused this change in a dry run: {why}") from None
    return replace(plan, notes=(*plan.notes, DRY_RUN_ACCEPTED))


def plan_record(plan: Plan) -> dict[str, Any]:
    return {
        "title": plan.title,
        "changes": [asdict(c) for c in plan.changes],
        "notes": list(plan.notes),
        "params": plan.params,
    }


def propose(request: ChangeRequest, deps: Deps) -> Action | None:
    """Plan, record and post the card. Refusals and Google errors are answered in Slack:
    in the thread the request came from (an alert's, a plan's), else to the requester only."""
    ctx = context(deps, request.env, request.target, request.params)
    try:
        steps = registry.steps(request.verb)
        plan = judged(steps, steps.plan(ctx), ctx)
    except (Refusal, GcpError) as err:
        _refused(request, err, deps)
        return None
    action = _record(request, plan, deps)
    where = request.thread_ts or None
    try:
        card_ts = deps.messenger.post(
            request.channel, cards.card(action), plan.title, where, urgency=Priority.CHANGE
        )
    except ChannelUnavailable as err:
        event = Event(deps.now(), "not_posted", "", err.error)
        deps.store.transition(action.id, (State.PENDING,), State.CANCELLED, event)
        raise
    deps.store.update(
        action.id,
        {"card_ts": card_ts, "thread_ts": request.thread_ts or card_ts},
        Event(deps.now(), "planned", request.user, plan.title),
    )
    log.info("change_planned", action_id=action.id, **request.describe())
    planned = deps.store.get(action.id)
    if planned is not None:
        export_first.offer(planned, deps)
    return planned


def _record(request: ChangeRequest, plan: Plan, deps: Deps) -> Action:
    now = deps.now()
    action = Action(
        id=new_id(now),
        verb=request.verb,
        env=request.env,
        target=request.target,
        requested_by=request.user,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.config.action_ttl_minutes),
        params=request.params,
        plan=plan_record(plan),
        summary=plan.title,
        channel=request.channel,
        alert_id=request.alert_id,
        events=(
            Event(
                now, "requested", request.user, f"{request.verb} {request.target} in {request.env}"
            ),
        ),
    )
    deps.store.create(action)
    return action


def _refused(request: ChangeRequest, err: Exception, deps: Deps) -> None:
    reason = gcp_problem(err) if isinstance(err, GcpError) else str(err)
    deps.store.record_refusal(
        Event(deps.now(), "refused", request.user, reason), request.describe()
    )
    log.info("change_refused", reason=reason, **request.describe())
    what = f"`{request.verb} {request.target}` in *{request.env}*"
    if not request.thread_ts:
        text = f":no_entry: {what} was not planned: {reason}"
        deps.messenger.tell(request.user, request.channel, text, response_url=request.response_url)
        return
    text = f":no_entry: <@{request.user}> {what} was not planned: {reason}"
    try:
        deps.messenger.post(
            request.channel,
            [bk.section(text)],
            thread_ts=request.thread_ts,
            urgency=Priority.CHANGE,
        )
    except ChannelUnavailable:
        log.warning("refusal_not_posted", channel=request.channel)
