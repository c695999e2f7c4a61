"""From a request to a recorded, posted plan card (pending confirmation)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from bot.deps import Deps
from bot.runtime import logs
from bot.slack import cards
from bot.slack.messenger import ChannelUnavailable
from bot.slack.replies import gcp_problem
from bot.store import Action, Event, State
from bot.store.model import new_id
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers import disable_version, rollback, rotate, scale
from handlers.plans import Plan, Refusal

log = logs.get(__name__)


def plan_for(verb: str, env: str, target: str, params: dict[str, Any], deps: Deps) -> Plan:
    """Read the facts from Google Cloud and make the plan; raises Refusal or GcpError."""
    config, run = deps.config, deps.platform.run
    if verb == "rollback":
        ref = config.service_ref(env, target)
        service = run.get_service(ref)
        if "split" in params:
            return rollback.plan_split(service, params["split"], env)
        revisions = run.list_revisions(ref, limit=50)
        return rollback.plan(service, revisions, str(params.get("to", "")), env, deps.now())
    if verb == "scale":
        service = run.get_service(config.service_ref(env, target))
        return scale.plan(service, params["settings"], env)
    project = config.env(env).project
    users = [
        run.get_service(config.service_ref(env, name)) for name in config.secrets[target].consumers
    ]
    versions = deps.platform.secrets.list_versions(project, target)
    if verb == "rotate-secret":
        return rotate.plan(target, env, project, rotate.consumers(target, users), versions)
    if verb == "disable-secret-version":
        return disable_version.plan(project, env, target, str(params["version"]), versions, users)
    raise Refusal(f"`{verb}` is not a change I know how to plan.")


def plan_record(plan: Plan) -> dict[str, Any]:
    return {
        "title": plan.title,
        "changes": [asdict(c) for c in plan.changes],
        "notes": list(plan.notes),
        "params": plan.params,
    }


def propose(
    verb: str,
    env: str,
    target: str,
    params: dict[str, Any],
    *,
    user: str,
    channel: str,
    thread_ts: str = "",
    alert_id: str = "",
    response_url: str = "",
    deps: Deps,
) -> Action | None:
    """Plan, record and post the card. Refusals and Google errors are answered in Slack:
    in the thread the request came from (an alert's, a plan's), else to the requester only."""
    where = thread_ts or None
    try:
        plan = plan_for(verb, env, target, params, deps)
    except (Refusal, GcpError) as err:
        request = {"verb": verb, "env": env, "target": target}
        _refused(request, user, channel, where, response_url, err, deps)
        return None
    now = deps.now()
    action = Action(
        id=new_id(now),
        verb=verb,
        env=env,
        target=target,
        requested_by=user,
        created_at=now,
        expires_at=now + timedelta(minutes=deps.config.action_ttl_minutes),
        params=params,
        plan=plan_record(plan),
        summary=plan.title,
        channel=channel,
        alert_id=alert_id,
        events=(Event(now, "requested", user, f"{verb} {target} in {env}"),),
    )
    deps.store.create(action)
    try:
        card_ts = deps.messenger.post(channel, cards.card(action), plan.title, thread_ts=where)
    except ChannelUnavailable as err:
        event = Event(deps.now(), "not_posted", "", err.error)
        deps.store.transition(action.id, (State.PENDING,), State.CANCELLED, event)
        raise
    deps.store.update(
        action.id,
        {"card_ts": card_ts, "thread_ts": thread_ts or card_ts},
        Event(deps.now(), "planned", user, plan.title),
    )
    log.info("change_planned", action_id=action.id, verb=verb, env=env, target=target)
    return deps.store.get(action.id)


def _refused(
    request: dict[str, str],
    user: str,
    channel: str,
    thread_ts: str | None,
    response_url: str,
    err: Exception,
    deps: Deps,
) -> None:
    reason = gcp_problem(err) if isinstance(err, GcpError) else str(err)
    deps.store.record_refusal(Event(deps.now(), "refused", user, reason), request)
    log.info("change_refused", reason=reason, **request)
    what = f"`{request['verb']} {request['target']}` in *{request['env']}*"
    if thread_ts is None:
        text = f":no_entry: {what} was not planned: {reason}"
        deps.messenger.tell(user, channel, text, response_url=response_url)
        return
    text = f":no_entry: <@{user}> {what} was not planned: {reason}"
    try:
        deps.messenger.post(channel, [bk.section(text)], thread_ts=thread_ts)
    except ChannelUnavailable:
        log.warning("refusal_not_posted", channel=channel)
