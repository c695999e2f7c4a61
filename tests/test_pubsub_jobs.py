"""BOT_JOBS=pubsub through Google's Pub/Sub emulator: publish -> push to /tasks -> run once.

The emulator's push carries no OIDC token, so a relay pulls each message and pushes it to
/tasks the way Pub/Sub does, with a token signed by the local Google key, and can deliver
every message twice to stand for a redelivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.dev.local_google import LocalGoogleCerts
from bot.store import Filters, State
from gcp.emulator import Emulator
from tests.support.models import PROD_BACKEND
from tests.support.pubsub import Relay, topic_with_subscription
from tests.support.slack import BOB, text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually, start_stack

pytestmark = pytest.mark.emulators


@pytest.fixture
def pubsub_stack(
    pubsub_emulator: str,
    emulator: Emulator,
    tmp_path: Path,
    google: LocalGoogleCerts,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Stack, Relay]]:
    """The bot with BOT_JOBS=pubsub, its topic and subscription, and a relay delivering twice."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    with topic_with_subscription("ops-jobs") as (topic, subscription):
        stack = start_stack(emulator, tmp_path, google, jobs="pubsub", jobs_topic=topic)
        relay = Relay(stack.url, google, subscription, copies=2).start()
        yield stack, relay
        relay.stop()
        stack.stop()


def test_rollback_through_pubsub_changes_traffic_once_despite_redelivery(
    pubsub_stack: tuple[Stack, Relay],
) -> None:
    """Every job is delivered twice; the plan is posted once and the rollback runs once."""
    stack, relay = pubsub_stack
    names = [r.name.rsplit("/", 1)[-1] for r in stack.gcp.run.revisions(PROD_BACKEND.name)]
    assert (
        stack.slack.slash_command("U_ALICE", OPS_CHANNEL, text="rollback fluxori-backend").status
        == 200
    )
    card = eventually(
        lambda: [m for m in stack.slack.messages(OPS_CHANNEL) if "action.confirm" in text_of(m)],
        timeout=15,
        what="plan card",
    )[0]
    assert stack.slack.click(BOB, OPS_CHANNEL, card["ts"], "action.confirm").status == 200
    record = eventually(
        lambda: next(
            (
                a
                for a in stack.bot.deps.store.search(Filters(limit=5))
                if a.state is State.SUCCEEDED
            ),
            None,
        ),
        timeout=15,
        what="rollback to finish",
    )
    assert stack.gcp.run.serving_split(PROD_BACKEND.name) == {names[1]: 100}
    assert [e.kind for e in record.events].count("started") == 1
    assert len([m for m in stack.slack.messages(OPS_CHANNEL) if "Plan:" in text_of(m)]) == 1
    assert all(status == 200 for status in relay.statuses)


def test_tasks_refuses_pushes_without_a_valid_token(pubsub_stack: tuple[Stack, Relay]) -> None:
    """/tasks is gated like /pubsub/alerts."""
    stack, _ = pubsub_stack
    reply = requests.post(
        f"{stack.url}/tasks", json={"message": {"data": "", "messageId": "1"}}, timeout=5
    )
    assert reply.status_code == 401
