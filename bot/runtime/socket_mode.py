"""`python -m bot socket`: the same app over Slack's Socket Mode, for a laptop with no public
URL. Jobs run in-process; alerts are pulled from a Pub/Sub subscription (streaming pull),
since no push can reach a laptop."""

from __future__ import annotations

import os
import threading
from typing import Any

from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from bot import container
from bot.alerts import intake
from bot.deps import Deps
from bot.runtime import logs
from bot.settings import Settings

log = logs.get(__name__)


class AlertPuller:
    """Streaming pull of alert messages into the same intake as /pubsub/alerts."""

    def __init__(self, subscription: str, deps: Deps) -> None:
        self.subscription = subscription
        self.deps = deps
        self._subscriber = pubsub_v1.SubscriberClient()
        self._future: Any = None
        self.handled = 0  # messages acknowledged so far (for tests and the sandbox)

    def start(self) -> AlertPuller:
        self._future = self._subscriber.subscribe(self.subscription, callback=self._on_message)
        log.info("alert_pull_started", subscription=self.subscription)
        return self

    def _on_message(self, message: Any) -> None:
        try:
            status, reason = intake.intake_message(message.message_id, message.data, self.deps)
        except Exception:  # an unexpected failure must not kill the stream: redeliver
            log.exception("alert_pull_failed", message_id=message.message_id)
            message.nack()
            return
        if status.startswith("2"):
            message.ack()
            self.handled += 1
        else:
            log.warning("alert_pull_retry", message_id=message.message_id, reason=reason)
            message.nack()

    def stop(self) -> None:
        if self._future is not None:
            self._future.cancel()
        self._subscriber.close()


def run_socket() -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings = Settings.from_environ(os.environ, socket_mode=True)
    logs.configure(settings.log_level)
    bot = container.build(settings)
    puller = (
        AlertPuller(settings.alerts_subscription, bot.deps).start()
        if settings.alerts_subscription
        else None
    )
    handler = SocketModeHandler(bot.app, settings.slack_app_token)
    stopped = threading.Event()
    try:
        handler.connect()  # type: ignore[no-untyped-call]
        print("Connected to Slack over Socket Mode; Ctrl-C stops.", flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        if puller is not None:
            puller.stop()
        bot.deps.queue.drain(8.0)
        bot.close()
    return 0
