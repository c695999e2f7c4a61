"""A button click outside a plan card, stored and queued: the listener acknowledges Slack
within its 3 s and a job (which takes the stored click once) does the work."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from slack_bolt import Ack

from bot.changes.admission import BUSY
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from bot.slack.clicks import Click


def queue_click(ack: Ack, body: dict[str, Any], kind: str, deps: Deps) -> None:
    """Store what was clicked, by whom and where, for the job of `kind`."""
    ack()
    click = Click.from_body(body)
    logs.bind_slack(user=click.user, command=click.button)
    try:
        job_inputs.submit(kind, asdict(click), deps.store, deps.queue)
    except QueueFull:
        deps.messenger.respond_text(click.response_url, BUSY)
