"""Google's Firestore and Pub/Sub emulators as fixtures: real clients round-trip through them,
tests get isolated Firestore data, and the emulators' processes are stopped for good."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from tests.support.emulators import (
    PROJECT,
    PUBSUB_START,
    clear_firestore,
    firestore_client,
    group_processes,
    pubsub_publisher,
    pubsub_subscriber,
    start_emulator,
    unavailable,
    unique_project,
)

PULL_DEADLINE = 10.0


def _increment(transaction: firestore.Transaction, ref: Any, fail: bool = False) -> int:
    count = int(ref.get(transaction=transaction).get("count")) + 1
    transaction.update(ref, {"count": count})
    if fail:
        raise RuntimeError("the transaction body failed")
    return count


@pytest.mark.emulators
def test_firestore_transaction_commits_a_read_modify_write(firestore_db: firestore.Client) -> None:
    """A transaction reads a counter and writes it + 1; a fresh read sees the new value."""
    ref = firestore_db.collection("counters").document("deploys")
    ref.set({"count": 41})
    result = firestore.transactional(_increment)(firestore_db.transaction(), ref)
    assert result == 42
    assert ref.get().to_dict() == {"count": 42}


@pytest.mark.emulators
def test_firestore_transaction_that_raises_writes_nothing(firestore_db: firestore.Client) -> None:
    """An exception in the transaction body rolls it back: the document is unchanged."""
    ref = firestore_db.collection("counters").document("deploys")
    ref.set({"count": 7})
    with pytest.raises(RuntimeError, match="body failed"):
        firestore.transactional(_increment)(firestore_db.transaction(), ref, fail=True)
    assert ref.get().to_dict() == {"count": 7}


@pytest.mark.emulators
def test_firestore_projects_are_isolated_and_clearable(firestore_emulator: str) -> None:
    """Data in one project is invisible to another; clear_firestore empties only its project."""
    first, second = unique_project(), unique_project()
    one, two = (
        firestore_client(firestore_emulator, first),
        firestore_client(firestore_emulator, second),
    )
    one.collection("actions").document("a").set({"verb": "rollback"})
    two.collection("actions").document("b").set({"verb": "scale"})
    assert [d.id for d in two.collection("actions").stream()] == ["b"]

    clear_firestore(firestore_emulator, first)
    assert list(one.collection("actions").stream()) == []
    assert [d.id for d in two.collection("actions").stream()] == ["b"]
    clear_firestore(firestore_emulator, second)


@pytest.mark.emulators
def test_firestore_client_leaves_the_environment_alone(firestore_emulator: str) -> None:
    """Building a client does not set FIRESTORE_EMULATOR_HOST for the rest of the process."""
    before = os.environ.get("FIRESTORE_EMULATOR_HOST")
    client = firestore_client(firestore_emulator, unique_project())
    assert os.environ.get("FIRESTORE_EMULATOR_HOST") == before
    client.collection("c").document("d").set({"ok": True})
    assert client.collection("c").document("d").get().to_dict() == {"ok": True}


@pytest.mark.emulators
def test_pubsub_publish_then_pull_delivers_data_and_attributes(pubsub_emulator: str) -> None:
    """A published message is pulled from a subscription with its data and attributes."""
    publisher, subscriber = pubsub_publisher(pubsub_emulator), pubsub_subscriber(pubsub_emulator)
    suffix = uuid.uuid4().hex[:8]
    topic = publisher.topic_path(PROJECT, f"jobs-{suffix}")
    subscription = subscriber.subscription_path(PROJECT, f"worker-{suffix}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)

    message_id = publisher.publish(topic, b'{"action": "a1"}', kind="job").result(timeout=10)
    received = _pull_one(subscriber, subscription)
    subscriber.acknowledge(subscription=subscription, ack_ids=[received.ack_id])

    assert received.message.message_id == message_id
    assert received.message.data == b'{"action": "a1"}'
    assert dict(received.message.attributes) == {"kind": "job"}
    subscriber.delete_subscription(subscription=subscription)
    publisher.delete_topic(topic=topic)
    publisher.stop()
    subscriber.close()


def _pull_one(subscriber: Any, subscription: str) -> Any:
    deadline = time.monotonic() + PULL_DEADLINE
    while time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=1, timeout=5)
        if response.received_messages:
            return response.received_messages[0]
    raise AssertionError(f"nothing arrived on {subscription} within {PULL_DEADLINE:.0f}s")


@pytest.mark.emulators
def test_stopping_an_emulator_ends_its_whole_process_group() -> None:
    """After stop(), no process of the emulator's group (gcloud and its java) is left."""
    running = start_emulator(PUBSUB_START, "pubsub-emulator")
    group = running.process.pid
    assert any("java" in cmd for cmd in group_processes(group))
    assert Path(running.log_path).exists()

    running.stop()
    assert group_processes(group) == []
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(
            (running.host.split(":")[0], int(running.host.split(":")[1])), timeout=1
        ),
    ):
        pass


def test_missing_emulator_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CI=true an unavailable emulator is a skip that says why."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="gcloud is gone"):
        unavailable("gcloud is gone")


def test_missing_emulator_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CI=true an unavailable emulator fails the test with the reason."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the Google emulators"):
        unavailable("gcloud is gone")


def test_without_gcloud_on_path_the_reason_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """start_emulator with no gcloud on PATH skips, saying gcloud is not installed."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.skip.Exception, match=r"gcloud .* is not installed"):
        start_emulator(PUBSUB_START, "pubsub-emulator")
