"""The buttons of a `/ops why` answer: the runbook step that fits, one click away.

Roll back becomes a change request like any other (admission, plan, two-person rule, the
never-worse checks); Show errors answers in the thread; Scale up opens the scale form. A
button's value names only environment, service and revision, each checked again here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.ops import scale_modal
from bot.ops.commands import answer_in_thread
from bot.runtime import job_inputs
from bot.slack.click_jobs import queue_click
from bot.slack.clicks import Click
from bot.store import Event
from handlers.buttons import WHY_ERRORS, WHY_ROLLBACK, WHY_SCALE, parse_why_value
from handlers.commands import Command

JOB_KIND = "why_click"


def register(app: App, deps: Deps) -> None:
    for action_id in (WHY_ROLLBACK, WHY_ERRORS):
        app.action(action_id)(lambda ack, body: on_button(ack, body, deps))
    app.action(WHY_SCALE)(lambda ack, body: on_scale_up(ack, body, deps))
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: on_click(Click(**data), deps)
    )


def on_button(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    queue_click(ack, body, JOB_KIND, deps)


def on_scale_up(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    """The form must open within the click's 3 s; its submission is admitted like any change."""
    ack()
    click = Click.from_body(body)
    target = _checked(click, deps)
    if target is None:
        return
    env, service, _ = target
    meta = {"env": env, "target": service, "channel": click.channel, "thread_ts": _thread(click)}
    scale_modal.open_form(click.trigger_id, meta, deps, suggest_double_max=True)


def on_click(click: Click, deps: Deps) -> None:
    target = _checked(click, deps)
    if target is None:
        return
    env, service, revision = target
    if click.button == WHY_ROLLBACK:
        request = ChangeRequest(
            verb="rollback",
            env=env,
            target=service,
            user=click.user,
            channel=click.channel,
            origin="why",
            params={"to": revision},
            response_url=click.response_url,
            thread_ts=_thread(click),
        )
        admission.handle(request, deps)
        return
    cmd = Command(verb="errors", env=env, service=service, since=timedelta(hours=1))
    answer_in_thread(click, click.channel, _thread(click), "Show errors", cmd, deps)


def _thread(click: Click) -> str:
    return click.thread_ts or click.message_ts


def _checked(click: Click, deps: Deps) -> tuple[str, str, str] | None:
    """The button's environment, service and revision, if they are known and readable."""
    env, service, revision = parse_why_value(click.value)
    reason = ""
    if env not in deps.config.environments or service not in deps.config.services:
        reason = "That button names no service I manage."
    else:
        reason = deps.policy.may_read(click.user, env, click.channel).reason
    if reason:
        event = Event(deps.now(), "refused", click.user, reason)
        context = {"verb": click.button, "env": env, "target": service, "channel": click.channel}
        deps.store.record_refusal(event, context)
        deps.messenger.tell(
            click.user, click.channel, f":no_entry: {reason}", response_url=click.response_url
        )
        return None
    return env, service, revision
