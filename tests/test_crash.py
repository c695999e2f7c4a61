"""A crash mid-change: the production server is SIGKILLed while Cloud Run is still rolling
out; after a restart the change is reported interrupted with the current state, and nothing
runs twice."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import container
from bot.changes import maintenance
from bot.dev.sandbox import free_port
from bot.dev.slack_emulator import SlackEmulator
from bot.settings import Settings
from bot.store import Filters, State
from bot.store.sqlite import SqliteStore
from gcp.clients import FAST_SETTINGS
from gcp.emulator import Emulator
from tests.support.models import PROD_BACKEND
from tests.support.processes import serve
from tests.support.slack import text_of
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET, eventually
from tests.support.stack import bot_settings as stack_settings


@pytest.fixture
def killed_mid_change(
    emulator: Emulator, tmp_path: Path
) -> Iterator[tuple[Settings, SlackEmulator, int]]:
    """A rollback confirmed on a real server process, which is killed while it runs."""
    port = free_port()
    slack = SlackEmulator(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, BOT_TOKEN)
    slack.start()
    settings = stack_settings(slack, emulator, tmp_path)
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_OPS_CHANNEL": OPS_CHANNEL,
        "GCP_EMULATOR_HOST": emulator.address,
        "BOT_STORE": settings.store,
        "LOG_LEVEL": "ERROR",
    }
    generation = emulator.run.get(PROD_BACKEND.name).generation
    emulator.run.operation_delay = 30.0  # the rollout is still running when the server dies
    process = serve(env, port)
    slack.slash_command("U_ALICE", OPS_CHANNEL, text="rollback fluxori-backend")
    card = eventually(
        lambda: [m for m in slack.messages(OPS_CHANNEL) if "action.confirm" in text_of(m)],
        what="plan",
    )[0]
    slack.click("U_BOB", OPS_CHANNEL, card["ts"], "action.confirm")
    store = SqliteStore(settings.store.removeprefix("sqlite:"))
    eventually(lambda: store.search(Filters(states=(State.RUNNING,))), what="change running")
    store.close()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    yield settings, slack, generation
    slack.stop()


def test_restart_reports_the_killed_change_as_interrupted(
    killed_mid_change: tuple[Settings, SlackEmulator, int], emulator: Emulator
) -> None:
    """The next process's sweep marks it interrupted and posts the current traffic; no rerun."""
    settings, slack, generation = killed_mid_change
    restarted = container.build(settings, FAST_SETTINGS)
    try:
        real_now = restarted.deps.now
        restarted.deps.now = lambda: (
            real_now() + maintenance.HEARTBEAT_DEADLINE + timedelta(seconds=5)
        )
        assert maintenance.sweep(restarted.deps)[:2] == (0, 1)
        [record] = restarted.deps.store.search(Filters(limit=1))
        assert record.state is State.INTERRUPTED
        thread = slack.replies(OPS_CHANNEL, record.thread_ts)
        assert "interrupted" in text_of(thread[-1])
        assert "Current state" in text_of(thread[-1])
        assert emulator.run.get(PROD_BACKEND.name).generation == generation + 1
    finally:
        restarted.close()
