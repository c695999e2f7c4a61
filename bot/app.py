"""The Bolt app: one `App`, its listeners registered by topic modules."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse

from bot.alerts import buttons
from bot.changes import listeners, maintenance, verify
from bot.deps import Deps
from bot.ops import commands, db_buttons, home, scale_modal, why_buttons
from bot.runtime import logs

log = logs.get(__name__)
BOLT_LOGGER = logging.getLogger("slack_bolt")


class _IgnoreUnusedTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it is unused when a client is given
    too; the client carries that same token, so the warning at every start is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(deps: Deps) -> App:
    if not any(isinstance(f, _IgnoreUnusedTokenWarning) for f in BOLT_LOGGER.filters):
        BOLT_LOGGER.addFilter(_IgnoreUnusedTokenWarning())
    app = App(
        # Without a name Bolt takes its caller's file name from inspect.stack(), which reads
        # the source of every frame on the stack: a tenth of a second or more of a cold start.
        name="fluxori-ops",
        client=deps.slack,
        signing_secret=deps.settings.slack_signing_secret or None,
        # Listeners only parse, queue and ack, so they can finish before the response.
        process_before_response=True,
        # auth.test at start-up would make a cold start depend on Slack answering.
        token_verification_enabled=False,
        logger=BOLT_LOGGER,
    )
    app.error(on_error)
    commands.register(app, deps)
    listeners.register(app, deps)
    scale_modal.register(app, deps)
    buttons.register(app, deps)
    home.register(app, deps)
    db_buttons.register(app, deps)
    why_buttons.register(app, deps)
    maintenance.register(deps)
    verify.register(deps)
    return app


def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """A listener failed: log it and answer 200 with a plain note, never a stack trace."""
    log.error("listener_failed", error=repr(error), type=body.get("type", body.get("command")))
    return BoltResponse(status=200, body=":warning: Something went wrong on my side; it is logged.")
