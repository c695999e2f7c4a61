"""The Bolt app: one `App`, its listeners registered by topic modules."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_bolt.response import BoltResponse

from bot import alert_actions, changes, commands, home, logs, maintenance, scale_modal, verify
from bot.deps import Deps

log = logs.get(__name__)


def build_app(deps: Deps) -> App:
    app = App(
        client=deps.slack,
        signing_secret=deps.settings.slack_signing_secret or None,
        # Listeners only parse, queue and ack, so they can finish before the response.
        process_before_response=True,
        # auth.test at start-up would make a cold start depend on Slack answering.
        token_verification_enabled=False,
        logger=logging.getLogger("slack_bolt"),
    )
    app.error(on_error)
    commands.register(app, deps)
    changes.register(app, deps)
    scale_modal.register(app, deps)
    alert_actions.register(app, deps)
    home.register(app, deps)
    maintenance.register(deps)
    verify.register(deps)
    return app


def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """A listener failed: log it and answer 200 with a plain note, never a stack trace."""
    log.error("listener_failed", error=repr(error), type=body.get("type", body.get("command")))
    return BoltResponse(status=200, body=":warning: Something went wrong on my side; it is logged.")
