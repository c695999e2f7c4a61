"""Listeners for changes: mutating /ops verbs become plan jobs; buttons become click jobs."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.changes import approval, guardrails
from bot.changes.planning import propose
from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.jobs import Job, QueueFull
from bot.slack.messenger import ChannelUnavailable
from handlers.commands import Command

log = logs.get(__name__)

PLAN_JOB = "plan"
BUSY = ":hourglass: I'm busy; try again in a few seconds."


def register(app: App, deps: Deps) -> None:
    for action_id in approval.CLICKS:
        app.action(action_id)(click_listener(deps, approval.JOB_KIND))
    deps.runners[PLAN_JOB] = lambda job: run_plan(job, deps)
    deps.runners[approval.JOB_KIND] = lambda job: approval.on_click(job, deps)


def click_listener(deps: Deps, job_kind: str) -> Any:
    """Ack at once; the click is handled by a job (store claims, Slack updates, Google calls)."""

    def on_click(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        clicked = (body.get("actions") or [{}])[0]
        payload = {
            "action_id": clicked.get("action_id", ""),
            "value": str(clicked.get("value", ""))[:200],
            "user_id": body.get("user", {}).get("id", ""),
            "response_url": body.get("response_url", ""),
            "channel_id": body.get("channel", {}).get("id", ""),
        }
        logs.bind_slack(user=payload["user_id"], command=payload["action_id"])
        try:
            deps.queue.submit(Job(job_kind, payload))
        except QueueFull:
            deps.messenger.respond_text(payload["response_url"], BUSY)

    return on_click


def plan_request(cmd: Command, body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if cmd.verb == "rollback":
        params = {"to": cmd.to_revision}
    elif cmd.verb == "scale":
        params = {"settings": cmd.settings}
    return {
        "verb": cmd.verb,
        "env": cmd.env,
        "target": cmd.service or cmd.secret,
        "params": params,
        "user_id": body.get("user_id", ""),
        "channel_id": body.get("channel_id", ""),
        "response_url": body.get("response_url", ""),
        "override": cmd.override,
    }


def enqueue_plan(request: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Queue a plan job; returns the ack body (empty, or a busy note)."""
    try:
        deps.queue.submit(Job(PLAN_JOB, request))
    except QueueFull:
        return {"response_type": "ephemeral", "text": BUSY}
    log.info("change_requested", verb=request["verb"], env=request["env"], target=request["target"])
    return {}


def run_plan(job: Job, deps: Deps) -> None:
    p = job.payload
    approval.sweep_expired(deps)
    decision = guardrails.check_request(p, deps)
    if not decision.allowed:
        guardrails.refuse(p, decision.reason, deps)
        return
    try:
        propose(
            p["verb"],
            p["env"],
            p["target"],
            p["params"],
            user=p["user_id"],
            channel=p["channel_id"],
            thread_ts=p.get("thread_ts", ""),
            alert_id=p.get("alert_id", ""),
            response_url=p.get("response_url", ""),
            deps=deps,
        )
    except ChannelUnavailable as err:
        deps.messenger.tell(
            p["user_id"],
            p["channel_id"],
            f":warning: I cannot post the plan here. {err.fix}",
            response_url=p.get("response_url", ""),
        )
