"""A button click acknowledged at once and answered in a job, with what was clicked stored."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from slack_bolt import Ack

from bot.changes import admission
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from bot.slack.clicks import Click


def queue_click(ack: Ack, body: dict[str, Any], deps: Deps, kind: str) -> None:
    """Store what was clicked, by whom and where; the `kind` job checks and answers it."""
    ack()
    click = Click.from_body(body)
    logs.bind_slack(user=click.user, command=click.button)
    try:
        job_inputs.submit(kind, asdict(click), deps.store, deps.queue)
    except QueueFull:
        deps.messenger.respond_text(click.response_url, admission.BUSY)
