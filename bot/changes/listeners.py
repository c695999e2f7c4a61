"""Bolt listeners for plan buttons: each click is checked and recorded inside its verified
request (bot.changes.approval), acknowledged, and followed up by jobs that carry ids."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.changes import admission, approval
from bot.deps import Deps
from bot.runtime import logs
from bot.slack.clicks import Click


def register(app: App, deps: Deps) -> None:
    for button in approval.BUTTONS:
        app.action(button)(lambda ack, body: on_plan_button(ack, body, deps))
    approval.register(deps)
    admission.register(deps)


def on_plan_button(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    click = Click.from_body(body)
    logs.bind_slack(user=click.user, command=click.button)
    approval.on_click(click, deps)
    ack()
