"""Production runs several instances: two `python -m bot serve` processes share Google's
Firestore and Pub/Sub emulators (BOT_STORE=firestore, BOT_JOBS=pubsub), and Slack's requests
and Pub/Sub's pushes are spread across both."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.dev.local_google import (
    AUDIENCE,
    PUSH_ACCOUNT,
    TASKS_AUDIENCE,
    TASKS_PUSH_ACCOUNT,
    LocalGoogleCerts,
)
from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.driver import Driver
from bot.dev.slack_emulator.transport import HttpTransport
from bot.store import Action, Filters, State
from bot.store.firestore import FirestoreStore
from gcp.emulator import Emulator
from tests.support.emulators import firestore_client, free_port, unique_project
from tests.support.models import PROD_BACKEND
from tests.support.processes import serve, serve_env
from tests.support.pubsub import Relay, topic_with_subscription
from tests.support.replay import replaying_to
from tests.support.slack import ALICE, BOB, text_of
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET, eventually

pytestmark = pytest.mark.emulators


@dataclass
class Pair:
    slack: SlackEmulator
    gcp: Emulator
    store: FirestoreStore
    relay: Relay
    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    google: LocalGoogleCerts

    def via(self, instance: str) -> Driver:
        """Slack, sending its requests to one instance."""
        transport = HttpTransport(f"{self.urls[instance]}/slack/events", SIGNING_SECRET)
        return self.slack.driver.over(transport)

    def actions(self) -> list[Action]:
        return self.store.search(Filters(limit=20))

    def plan_card(self) -> dict[str, Any]:
        """The plan card, once its record knows where it was posted."""
        card: dict[str, Any] = eventually(
            lambda: next(
                (m for m in self.slack.messages(OPS_CHANNEL) if "action.confirm" in text_of(m)),
                None,
            ),
            timeout=20,
            what="plan card",
        )
        eventually(lambda: self.actions()[0].card_ts == card["ts"], timeout=20, what="card ts")
        return card

    def finished(self) -> Action:
        return eventually(
            lambda: next((a for a in self.actions() if a.state is State.SUCCEEDED), None),
            timeout=20,
            what="the change to finish",
        )


@pytest.fixture
def pair(
    firestore_emulator: str,
    pubsub_emulator: str,
    emulator: Emulator,
    google: LocalGoogleCerts,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pair]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    with topic_with_subscription("ops-jobs") as (topic, subscription):
        yield from running_pair(
            firestore_emulator, pubsub_emulator, emulator, google, topic, subscription, tmp_path
        )


def running_pair(
    firestore_emulator: str,
    pubsub_emulator: str,
    emulator: Emulator,
    google: LocalGoogleCerts,
    topic: str,
    subscription: str,
    tmp_path: Path,
) -> Iterator[Pair]:
    ports = {"A": free_port(), "B": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    slack = SlackEmulator(f"{urls['A']}/slack/events", SIGNING_SECRET, BOT_TOKEN)
    slack.start()
    project = unique_project()
    env = serve_env(
        slack,
        tmp_path,
        SLACK_OPS_CHANNEL=OPS_CHANNEL,
        GCP_EMULATOR_HOST=emulator.address,
        BOT_STORE="firestore",
        FIRESTORE_EMULATOR_HOST=firestore_emulator,
        GOOGLE_CLOUD_PROJECT=project,
        BOT_JOBS="pubsub",
        BOT_JOBS_TOPIC=topic,
        PUBSUB_EMULATOR_HOST=pubsub_emulator,
        PUSH_AUDIENCE=AUDIENCE,
        PUSH_SERVICE_ACCOUNT=PUSH_ACCOUNT,
        TASKS_PUSH_AUDIENCE=TASKS_AUDIENCE,
        TASKS_PUSH_SERVICE_ACCOUNT=TASKS_PUSH_ACCOUNT,
        GOOGLE_CERTS_URL=google.url,
        LOG_LEVEL="WARNING",
    )
    processes = {name: serve(env, port) for name, port in ports.items()}
    relay = Relay(list(urls.values()), google, subscription, copies=1).start()
    store = FirestoreStore(firestore_client(firestore_emulator, project))
    yield Pair(slack, emulator, store, relay, urls, processes, google)
    relay.stop()
    for process in processes.values():
        process.kill()
        process.wait(timeout=10)
    slack.stop()


def test_a_plan_confirmed_on_one_instance_and_clicked_on_the_other_runs_once(pair: Pair) -> None:
    """Alice plans through A; Bob's Confirm reaches A and again B: one run, one approval."""
    target = previous_revision_of(pair, 1)
    pair.via("A").slash_command(ALICE, OPS_CHANNEL, text="rollback fluxori-backend")
    card = pair.plan_card()
    assert pair.via("A").click(BOB, OPS_CHANNEL, card["ts"], "action.confirm").status == 200
    assert pair.via("B").click(BOB, OPS_CHANNEL, card["ts"], "action.confirm").status == 200
    done = pair.finished()
    assert [e.kind for e in done.events].count("approved") == 1
    assert [e.kind for e in done.events].count("started") == 1
    assert pair.gcp.run.serving_split(PROD_BACKEND.name) == {target: 100}
    assert "Too late" in text_of(
        eventually(lambda: pair.slack.ephemerals(BOB, OPS_CHANNEL), timeout=20, what="answer")[-1]
    )


def test_a_replay_sent_to_the_other_instance_is_ignored(pair: Pair) -> None:
    """A signed command captured on its way to A and sent to B: B answers 200 and does nothing."""
    driver, transport = replaying_to(
        pair.slack, f"{pair.urls['A']}/slack/events", f"{pair.urls['B']}/slack/events"
    )
    assert driver.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend").status == 200
    assert (transport.replays[0].status_code, transport.replays[0].text) == (200, "")
    eventually(lambda: pair.slack.messages(OPS_CHANNEL), timeout=20, what="answer")
    # Both instances have finished with the command once its job has answered.
    assert len(pair.slack.messages(OPS_CHANNEL)) == 1


def test_a_result_stranded_by_a_killed_instance_is_delivered_by_the_other(pair: Pair) -> None:
    """A runs the rollback while Slack is down and dies before telling anyone; B's sweep
    delivers the card, the result and its Undo."""
    pair.relay.targets = [f"{pair.urls['A']}/tasks"]
    pair.via("A").slash_command(ALICE, OPS_CHANNEL, text="rollback fluxori-backend")
    card = pair.plan_card()
    for method in ("chat.postMessage", "chat.update"):
        pair.slack.fail_next(method, status=500, times=1000)
    pair.via("A").click(BOB, OPS_CHANNEL, card["ts"], "action.confirm")
    pair.finished()
    assert pair.store.outbox_pending()  # told nobody yet
    pair.processes["A"].send_signal(signal.SIGKILL)
    pair.processes["A"].wait(timeout=10)
    pair.slack.faults.clear()
    pair.relay.targets = [f"{pair.urls['B']}/tasks"]

    def swept_and_delivered() -> list[dict[str, Any]]:
        assert publish_maintenance(pair).status_code == 200  # a retry may not be due yet
        replies = pair.slack.replies(OPS_CHANNEL, card["ts"])
        return [m for m in replies if "action.undo" in text_of(m)]

    thread = eventually(swept_and_delivered, timeout=30, what="the result with its Undo")
    assert "Traffic of `fluxori-backend` now" in text_of(thread[-1])


def publish_maintenance(pair: Pair) -> requests.Response:
    """Cloud Scheduler's sweep, pushed to B's /tasks."""
    data = base64.b64encode(json.dumps({"kind": "maintenance", "payload": {}}).encode()).decode()
    body = {"message": {"data": data, "messageId": uuid.uuid4().hex}, "subscription": "s"}
    token = pair.google.mint_tasks()
    return requests.post(
        f"{pair.urls['B']}/tasks",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def previous_revision_of(pair: Pair, back: int) -> str:
    names = [r.name.rsplit("/", 1)[-1] for r in pair.gcp.run.revisions(PROD_BACKEND.name)]
    return names[back]
