"""The whole bot over real HTTP: gcp/emulator, the Slack emulator, the bot's WSGI app on a
local server, and (for push routes) locally signed OIDC tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot import container
from bot.dev.devserver import BackgroundServer, Swappable
from bot.dev.local_google import (
    AUDIENCE,
    PUSH_ACCOUNT,
    TASKS_AUDIENCE,
    TASKS_PUSH_ACCOUNT,
    LocalGoogleCerts,
)
from bot.dev.sandbox import Sandbox, free_port
from bot.dev.slack_emulator import SlackEmulator
from bot.runtime.jobs import InlineQueue
from bot.settings import Settings
from gcp.clients import FAST_SETTINGS
from gcp.emulator import Emulator
from gcp.emulator.core import RevisionHealth
from gcp.models import ServiceChange, ServiceRef
from gcp.run import CloudRunAdapter

BOT_TOKEN = "xoxb-test-bot-token-0000"
SIGNING_SECRET = "test-signing-secret-0000"
OPS_CHANNEL = "C_OPS"
# A BOT_CONFIG with two environments; tests append their [policy].
BOT_CONFIG_BASE = """
default_env = "prod"
services = ["fluxori-backend", "fluxori-frontend"]
[environments.dev]
project = "fluxori-dev"
region = "africa-south1"
[environments.prod]
project = "fluxori-prod"
region = "africa-south1"
[secrets.jwt-secret]
consumers = ["fluxori-backend"]
"""
T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)  # polling interval, not synchronisation: the deadline decides


@dataclass
class Stack:
    gcp: Emulator
    slack: SlackEmulator
    bot: container.Bot
    server: BackgroundServer
    google: LocalGoogleCerts

    @property
    def url(self) -> str:
        return self.server.url

    def idle(self, timeout: float = 5.0) -> None:
        """Wait until every queued job has finished and its messages left for Slack."""
        queue = self.bot.deps.queue
        assert isinstance(queue, InlineQueue)
        assert queue.drain(timeout), "jobs still running"
        assert self.bot.deps.outbox.drain(timeout), "messages still waiting for Slack's budget"

    def advance(self, seconds: float) -> None:
        """Move the bot's clock forward (deadlines, backoffs) instead of waiting."""
        earlier = self.bot.deps.now
        self.bot.deps.now = lambda: earlier() + timedelta(seconds=seconds)

    def stop(self) -> None:
        self.server.stop()
        self.bot.close()
        self.slack.stop()


@contextmanager
def running_sandbox() -> Iterator[Sandbox]:
    """`python -m bot sandbox` in this process: page, emulators, the bot server as a child."""
    box = Sandbox(free_port())
    try:
        box.start()
        yield box
    finally:
        box.stop()


UNPACED = 1000.0  # Slack's limits times this: no test without them waits for the budget


def bot_settings(slack: SlackEmulator, gcp: Emulator, tmp_path: Path) -> Settings:
    """Settings pointing the bot at the emulators, with a SQLite store under tmp_path."""
    return Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        ops_channel=OPS_CHANNEL,
        gcp_emulator_host=gcp.address,
        storage_emulator_host=gcp.storage_url,
        store=f"sqlite:{tmp_path / 'actions.sqlite'}",
        push_audience=AUDIENCE,
        push_service_account=PUSH_ACCOUNT,
        tasks_push_audience=TASKS_AUDIENCE,
        tasks_push_service_account=TASKS_PUSH_ACCOUNT,
    )


def start_stack(
    gcp: Emulator,
    tmp_path: Path,
    google: LocalGoogleCerts,
    *,
    slack_limits: bool = False,
    **settings: Any,
) -> Stack:
    """The bot over HTTP with the emulators. With `slack_limits`, the Slack emulator answers
    429 past Slack's documented limits and the bot paces itself by them; without, neither
    limits (most tests are not about Slack's budget)."""
    app = Swappable()
    server = BackgroundServer(app).start()
    slack = SlackEmulator(
        bot_url=f"{server.url}/slack/events",
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        rate_limits=slack_limits,
    )
    slack.start()
    base = replace(
        bot_settings(slack, gcp, tmp_path),
        google_certs_url=google.url,
        slack_rate_scale=1.0 if slack_limits else UNPACED,
    )
    bot = container.build(replace(base, **settings), FAST_SETTINGS)
    app.target = bot.wsgi()
    return Stack(gcp, slack, bot, server, google)


def change_out_of_band(stack: Stack, service: ServiceRef, min_instances: int) -> None:
    """Someone changes the service with Google's client, outside the bot (a plan goes stale)."""
    run = CloudRunAdapter(stack.bot.clients)
    etag = run.get_service(service).etag
    run.update_scaling(service, ServiceChange(min_instances=min_instances), etag)


def every_revision_behaves(stack: Stack, service_name: str, health: RevisionHealth) -> None:
    """Every revision of the service answers as `health` says (no deploy to blame)."""
    for revision in stack.gcp.run.revisions(service_name):
        stack.gcp.run.set_health(service_name, revision.name.rsplit("/", 1)[-1], health)
