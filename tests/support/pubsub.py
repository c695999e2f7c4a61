"""Google's Pub/Sub emulator pushes without a token: a relay pushes as Pub/Sub would."""

from __future__ import annotations

import base64
import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from bot.dev.local_google import LocalGoogleCerts
from tests.support.emulators import PROJECT


class Relay:
    """Pulls from the subscription and pushes each message to /tasks `copies` times, as Pub/Sub
    push does (with a token for the tasks identity), taking the instances in turn."""

    def __init__(
        self, stack_url: str | list[str], google: LocalGoogleCerts, subscription: str, copies: int
    ) -> None:
        urls = [stack_url] if isinstance(stack_url, str) else stack_url
        self.targets = [f"{url}/tasks" for url in urls]
        self.google, self.copies = google, copies
        self._turn = itertools.count()
        self.subscription = subscription
        self.subscriber = pubsub_v1.SubscriberClient()
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            response = self.subscriber.pull(
                request={"subscription": self.subscription, "max_messages": 10}, timeout=1
            )
            for received in response.received_messages:
                self._deliver(received.message)
                self.subscriber.acknowledge(
                    request={"subscription": self.subscription, "ack_ids": [received.ack_id]}
                )

    def _deliver(self, message: pubsub_v1.types.PubsubMessage) -> None:
        envelope = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "messageId": message.message_id,
                "attributes": dict(message.attributes),
            },
            "subscription": self.subscription,
        }
        for _ in range(self.copies):
            reply = requests.post(
                self.targets[next(self._turn) % len(self.targets)],
                json=envelope,
                headers={"Authorization": f"Bearer {self.google.mint_tasks()}"},
                timeout=30,
            )
            self.statuses.append(reply.status_code)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.subscriber.close()


@contextmanager
def topic_with_subscription(name: str) -> Iterator[tuple[str, str]]:
    """A fresh topic and a pull subscription on Google's Pub/Sub emulator (PUBSUB_EMULATOR_HOST
    set by the caller); the topic is deleted afterwards (the emulator lives for the session)."""
    run = uuid.uuid4().hex[:8]
    topic = f"projects/{PROJECT}/topics/{name}-{run}"
    subscription = f"projects/{PROJECT}/subscriptions/{name}-{run}"
    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(request={"name": topic})
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.create_subscription(request={"name": subscription, "topic": topic})
    subscriber.close()
    try:
        yield topic, subscription
    finally:
        publisher.delete_topic(request={"topic": topic})
