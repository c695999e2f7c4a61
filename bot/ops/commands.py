"""`/ops`: parse and acknowledge at once, then answer in a thread from a job."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import registry
from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.ops import history, scale_modal
from bot.runtime import job_inputs, logs
from bot.runtime.coalesce import Coalescer
from bot.runtime.jobs import JOINED, QueueFull, expected_wait, queued_jobs
from bot.slack.clicks import Click
from bot.slack.pacing import Priority
from bot.slack.replies import gcp_problem
from bot.store import Event
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers import help as help_verb
from handlers.commands import Command, UsageError

log = logs.get(__name__)

JOB_KIND = "command"
SAY_WAIT_FROM_SECONDS = 5.0  # an answer further off than this is announced in the ack
PARSED = "parsed"  # the ack's parsed Command, handed to a job that runs in this process


def register(app: App, deps: Deps) -> None:
    @app.command("/ops")
    def on_ops(ack: Ack, body: dict[str, Any]) -> None:
        ack(**acknowledge(body, deps))

    shared: Coalescer[list[bk.Block]] = Coalescer()

    def answer(cmd: Command) -> list[bk.Block]:
        if cmd.verb == "history":  # the store, not Google: nothing worth sharing
            return answer_blocks(cmd, deps)
        return shared.call(same_answer(cmd), lambda: answer_blocks(cmd, deps))

    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: run_command(data, deps, answer)
    )


def acknowledge(body: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """What to answer Slack within 3 s: an ephemeral message, or nothing once queued."""
    text = str(body.get("text", ""))
    logs.bind_slack(user=body.get("user_id"), command=f"/ops {text}"[:200])
    try:
        cmd = registry.parse(text, deps.config)
        if cmd.verb == "history":
            history.filters_for(cmd)
    except UsageError as err:
        log.info("command_rejected", reason=str(err))
        return {"response_type": "ephemeral", "text": f":warning: {err}"}
    if cmd.verb == "help":
        return {
            "response_type": "ephemeral",
            "blocks": help_verb.render(deps.config, registry.VERBS),
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
        return admission.submit(change_request(cmd, body), deps)
    payload = {k: str(body.get(k, "")) for k in ("text", "user_id", "channel_id", "response_url")}
    try:
        job_inputs.submit(
            JOB_KIND, payload, deps.store, deps.queue, {PARSED: cmd}, joins_on(cmd, payload)
        )
    except QueueFull as full:
        return busy_answer(full.wait_seconds)
    log.info("command_accepted", verb=cmd.verb, env=cmd.env, service=cmd.service)
    wait = answer_wait(deps, payload["channel_id"])
    if wait >= SAY_WAIT_FROM_SECONDS:
        return {
            "response_type": "ephemeral",
            "text": f":hourglass: Queued: the answer comes in about {round(wait)} s.",
        }
    return {}


def same_answer(cmd: Command) -> tuple[Any, ...]:
    """What a read's answer depends on: two commands alike in these get the same answer."""
    args = tuple(sorted(cmd.args.items()))
    return (cmd.verb, cmd.env, cmd.service, cmd.preset, cmd.since, cmd.limit, args)


def joins_on(cmd: Command, payload: dict[str, str]) -> str:
    """Commands alike in this, waiting in the queue together, get one answer that names each
    asker. History is left out: its answer depends on when it is asked."""
    return "" if cmd.verb == "history" else f"{payload['channel_id']} {same_answer(cmd)!r}"


def answer_wait(deps: Deps, channel: str) -> float:
    """Seconds until a command accepted now is answered: after the jobs ahead of it, and after
    the posts ahead of it at Slack's pace (each job ahead posts at most one)."""
    posts_ahead = deps.outbox.posts_waiting(channel) + queued_jobs(deps.queue)
    return max(expected_wait(deps.queue), deps.outbox.pacer.seconds_for(posts_ahead))


def busy_answer(wait_seconds: float) -> dict[str, Any]:
    """The refusal when nothing more can be queued, with how long until there is room."""
    return {
        "response_type": "ephemeral",
        "text": f":hourglass: I'm behind: try again in about {max(1, round(wait_seconds))} s.",
    }


def change_request(cmd: Command, body: dict[str, Any]) -> ChangeRequest:
    return ChangeRequest(
        verb=cmd.verb,
        env=cmd.env,
        target=cmd.service or cmd.secret or registry.ACTIONS[cmd.verb].target,
        user=str(body.get("user_id", "")),
        channel=str(body.get("channel_id", "")),
        origin="command",
        params=registry.ACTIONS[cmd.verb].params(cmd),
        response_url=str(body.get("response_url", "")),
        override=cmd.override,
    )


def run_command(p: dict[str, Any], deps: Deps, answer: Callable[[Command], list[bk.Block]]) -> None:
    """One message in the channel: who ran what and where, then the answer; what follows (a
    button's answer) goes in its thread. Commands alike that waited in the queue together
    (JOINED) share the message, which names each asker. It goes through the outbox, so Slack's
    budget paces it behind changes, an outage keeps it, and a channel that refuses the bot
    sends it to each requester alone."""
    parsed = p.get(PARSED)
    cmd = parsed if isinstance(parsed, Command) else registry.parse(p["text"], deps.config)
    where = history.environment_label(cmd) if cmd.verb == "history" else cmd.env
    asked = [p, *p.get(JOINED, [])]
    askers = bk.names([f"<@{a['user_id']}>" for a in asked])
    who = bk.context(f"{askers} ran {bk.code('/ops ' + cmd.text)} · *{where}*")
    deps.outbox.answer(
        p["channel_id"],
        bk.fit([who, *answer(cmd)], limit=bk.MAX_BLOCKS),
        key=answer_key(p),
        fallback_url=" ".join(a["response_url"] for a in asked if a["response_url"]),
    )


def answer_in_thread(
    click: Click, channel: str, thread_ts: str, label: str, cmd: Command, deps: Deps
) -> None:
    """A button's read answer, in the thread it was asked from, through the outbox: Slack's
    budget paces it behind changes and an outage keeps it until Slack is back."""
    intro = bk.context(f"<@{click.user}> asked: {label}")
    asked = {"response_url": click.response_url, "user_id": click.user, "channel_id": channel}
    deps.outbox.post(
        channel,
        [intro, *answer_blocks(cmd, deps)],
        thread_ts=thread_ts,
        key=answer_key({**asked, "text": f"{click.button} {thread_ts}"}),
        priority=Priority.NORMAL,
    )


def answer_key(p: dict[str, Any]) -> str:
    """One answer per command however often its job runs: Slack gives each command its own
    response_url (who asked what, where, is part of the key all the same)."""
    asked = (p["response_url"] or secrets.token_hex(16), p["user_id"], p["channel_id"], p["text"])
    return "answer:" + hashlib.sha256("\n".join(asked).encode()).hexdigest()[:32]


def answer_blocks(cmd: Command, deps: Deps) -> list[bk.Block]:
    answer = registry.ACTIONS[cmd.verb].answer
    if answer is None:
        return [bk.section(f":warning: `{cmd.verb}` is not something I answer in a thread.")]
    try:
        return answer(cmd, deps)
    except UsageError as err:
        return [bk.section(f":warning: {err}")]
    except GcpError as err:
        log.warning("gcp_call_failed", verb=cmd.verb, error=type(err).__name__, detail=err.detail)
        return [
            bk.section(
                f":warning: Could not {cmd.verb} `{cmd.service}` in {cmd.env}: {gcp_problem(err)}"
            )
        ]
