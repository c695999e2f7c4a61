"""`/ops`: parse and acknowledge at once, then answer in a thread from a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.changes import listeners
from bot.deps import Deps
from bot.ops import history, scale_modal
from bot.runtime import logs
from bot.runtime.jobs import Job, QueueFull
from bot.slack.messenger import ChannelUnavailable
from bot.slack.replies import gcp_problem
from bot.store import Event
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers import help as help_verb
from handlers import logs as log_verbs
from handlers import revisions, slo, status
from handlers.commands import Command, UsageError, parse
from handlers.config import OpsConfig
from handlers.ports import Platform

log = logs.get(__name__)

ReadVerb = Callable[[Command, Platform, OpsConfig], list[bk.Block]]
READ_VERBS: dict[str, ReadVerb] = {
    "status": status.run,
    "revisions": revisions.run,
    "errors": log_verbs.run_errors,
    "logs": log_verbs.run_preset,
    "slo": slo.run,
}
JOB_KIND = "command"


def register(app: App, deps: Deps) -> None:
    @app.command("/ops")
    def on_ops(ack: Ack, body: dict[str, Any]) -> None:
        ack(**acknowledge(body, deps))

    deps.runners[JOB_KIND] = lambda job: run_command(job, deps)


def acknowledge(body: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """What to answer Slack within 3 s: an ephemeral message, or nothing once queued."""
    text = str(body.get("text", ""))
    logs.bind_slack(user=body.get("user_id"), command=f"/ops {text}"[:200])
    try:
        cmd = parse(text, deps.config)
        if cmd.verb == "history":
            history.filters_for(cmd)
    except UsageError as err:
        log.info("command_rejected", reason=str(err))
        return {"response_type": "ephemeral", "text": f":warning: {err}"}
    if cmd.verb == "help":
        return {
            "response_type": "ephemeral",
            "blocks": help_verb.render(deps.config),
            "text": "/ops help",
        }
    decision = deps.policy.may_read(
        str(body.get("user_id", "")), cmd.env, str(body.get("channel_id", ""))
    )
    if not decision.allowed:
        deps.store.record_refusal(
            Event(deps.now(), "refused", str(body.get("user_id", "")), decision.reason),
            {"verb": cmd.verb, "env": cmd.env, "channel": body.get("channel_id", "")},
        )
        return {"response_type": "ephemeral", "text": f":no_entry: {decision.reason}"}
    if cmd.verb == "scale" and not cmd.settings:
        return scale_modal.trigger_for_command(body, cmd.env, cmd.service, deps)
    if cmd.mutating:
        return listeners.enqueue_plan(listeners.plan_request(cmd, body), deps)
    payload = {k: body.get(k, "") for k in ("text", "user_id", "channel_id", "response_url")}
    try:
        deps.queue.submit(Job(JOB_KIND, payload))
    except QueueFull:
        return {
            "response_type": "ephemeral",
            "text": ":hourglass: I'm busy; try again in a few seconds.",
        }
    log.info("command_accepted", verb=cmd.verb, env=cmd.env, service=cmd.service)
    return {}


def run_command(job: Job, deps: Deps) -> None:
    """Post the thread root (who ran what, where), then the answer in its thread."""
    p = job.payload
    cmd = parse(p["text"], deps.config)
    root = [bk.context(f"<@{p['user_id']}> ran {bk.code('/ops ' + cmd.text)} · *{cmd.env}*")]
    try:
        root_ts: str | None = deps.messenger.post(
            p["channel_id"], root, bk.escape_clipped(f"/ops {cmd.text}")
        )
        fix = ""
    except ChannelUnavailable as err:
        root_ts, fix = None, err.fix
    answer = answer_blocks(cmd, deps)
    if root_ts is not None:
        deps.messenger.post(p["channel_id"], answer, thread_ts=root_ts)
    else:
        log.info("channel_unavailable_answered_ephemerally", channel=p["channel_id"])
        deps.messenger.respond(
            p["response_url"], [*answer, bk.context(f":information_source: {fix}")]
        )


def answer_blocks(cmd: Command, deps: Deps) -> list[bk.Block]:
    try:
        if cmd.verb == "history":
            return history.render(cmd, deps)
        return READ_VERBS[cmd.verb](cmd, deps.platform, deps.config)
    except UsageError as err:
        return [bk.section(f":warning: {err}")]
    except GcpError as err:
        log.warning("gcp_call_failed", verb=cmd.verb, error=type(err).__name__, detail=err.detail)
        return [
            bk.section(
                f":warning: Could not {cmd.verb} `{cmd.service}` in {cmd.env}: {gcp_problem(err)}"
            )
        ]
