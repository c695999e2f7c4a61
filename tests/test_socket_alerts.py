"""Socket Mode's alert intake: streaming pull from Google's Pub/Sub emulator into cards."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from bot.runtime.socket_mode import AlertPuller
from tests.support.pubsub import topic_with_subscription
from tests.support.slack import text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually

pytestmark = pytest.mark.emulators
SAMPLES = Path(__file__).parent / "samples"


def test_pulled_alert_posts_one_card_even_when_published_twice(
    stack: Stack, pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two publishes of the same incident state through the emulator: one card."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    with topic_with_subscription("alerts") as (topic, subscription):
        publish_twice(stack, topic, subscription)
    cards = [m for m in stack.slack.messages(OPS_CHANNEL) if "alert.ack" in text_of(m)]
    assert len(cards) == 1
    assert "fluxori-backend high 5xx rate" in text_of(cards[0])


def publish_twice(stack: Stack, topic: str, subscription: str) -> None:
    """Publish the open incident twice and wait until the puller has handled both copies."""
    publisher = pubsub_v1.PublisherClient()
    puller = AlertPuller(subscription, stack.bot.deps).start()
    try:
        data = (SAMPLES / "alert-open.json").read_bytes()
        for _ in range(2):
            publisher.publish(topic, data).result(timeout=10)
        eventually(lambda: puller.handled >= 2, timeout=15, what="both messages handled")
    finally:
        puller.stop()
