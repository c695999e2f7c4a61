"""Alerts through Google's Pub/Sub emulator with a real push subscription.

The emulator pushes without an OIDC token (Google adds one in production), so pointing the
subscription straight at the bot is refused; pointing it at a small forwarder that adds a
token, as Google's push service does, delivers the alert.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from bot.dev.devserver import BackgroundServer
from tests.support.emulators import PROJECT
from tests.support.slack import text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually

pytestmark = pytest.mark.emulators
SAMPLES = Path(__file__).parent / "samples"


def signing_forwarder(stack: Stack, refused: list[int]) -> BackgroundServer:
    """Adds the OIDC token Pub/Sub push would carry, then forwards to /pubsub/alerts."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        unsigned = requests.post(f"{stack.url}/pubsub/alerts", data=body, timeout=10)
        signed = requests.post(
            f"{stack.url}/pubsub/alerts",
            data=body,
            headers={"Authorization": f"Bearer {stack.google.mint()}"},
            timeout=10,
        )
        refused.append(unsigned.status_code)  # after the signed push: the test waits on this
        start_response(f"{signed.status_code} X", [("Content-Type", "text/plain")])
        return [signed.content]

    return BackgroundServer(app).start()


def test_push_subscription_delivers_one_card_and_unsigned_pushes_are_refused(
    stack: Stack, pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Published twice through the emulator's push: one card; the unsigned copies got 401."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    refused: list[int] = []
    forwarder = signing_forwarder(stack, refused)
    run = uuid.uuid4().hex[:8]
    topic = f"projects/{PROJECT}/topics/alerts-{run}"
    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(request={"name": topic})
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.create_subscription(
        request={
            "name": f"projects/{PROJECT}/subscriptions/alerts-push-{run}",
            "topic": topic,
            "push_config": {"push_endpoint": f"{forwarder.url}/push"},
        }
    )
    subscriber.close()
    try:
        data = (SAMPLES / "alert-open.json").read_bytes()
        for _ in range(2):
            publisher.publish(topic, data).result(timeout=10)
        eventually(lambda: len(refused) >= 2, timeout=20, what="two pushes")
        cards = [m for m in stack.slack.messages(OPS_CHANNEL) if "alert.ack" in text_of(m)]
        assert len(cards) == 1
        assert set(refused) == {401}
    finally:
        forwarder.stop()
        publisher.delete_topic(request={"topic": topic})
