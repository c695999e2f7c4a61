""" "Create this index" on an errors or logs answer: the click becomes a change request for
`create-index`, admitted and planned like a typed one (bot/changes/admission.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from slack_bolt import Ack, App

from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from bot.slack.clicks import Click
from handlers import db_kit
from handlers.index_offers import BUTTON, parse_value

JOB_KIND = "index_click"


def register(app: App, deps: Deps) -> None:
    app.action(BUTTON)(lambda ack, body: on_click(ack, body, deps))
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: request_index(Click(**data), deps)
    )


def on_click(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    """Store what was clicked, by whom and where; the job turns it into a request."""
    ack()
    click = Click.from_body(body)
    logs.bind_slack(user=click.user, command=click.button)
    try:
        job_inputs.submit(JOB_KIND, asdict(click), deps.store, deps.queue)
    except QueueFull:
        deps.messenger.respond_text(click.response_url, admission.BUSY)


def request_index(click: Click, deps: Deps) -> None:
    parsed = parse_value(click.value)
    if parsed is None:
        deps.messenger.respond_text(click.response_url, "I could not read that button's index.")
        return
    env, collection, fields = parsed
    request = ChangeRequest(
        verb="create-index",
        env=env,
        target=db_kit.TARGET,
        user=click.user,
        channel=click.channel,
        origin="index-offer",
        params={"collection": collection, "fields": fields},
        response_url=click.response_url,
        thread_ts=click.thread_ts or click.message_ts,
    )
    admission.handle(request, deps)
