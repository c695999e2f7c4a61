"""What the listeners and jobs need, built once by the composition root (`bot.container`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.policy import Policy
from bot.runtime.jobs import JobQueue, Runner
from bot.settings import Settings
from bot.slack.messenger import Messenger
from bot.slack.outbox import Outbox
from bot.store import ActionStore
from bot.store.model import utcnow
from handlers.config import OpsConfig
from handlers.ports import Platform

SLACK_URL = "https://slack.com/"


@dataclass
class Deps:
    settings: Settings
    config: OpsConfig
    platform: Platform
    slack: WebClient
    messenger: Messenger
    queue: JobQueue
    store: ActionStore
    outbox: Outbox  # messages about changes: recorded, then delivered whenever Slack answers
    policy: Policy = field(default_factory=Policy)
    now: Callable[[], datetime] = utcnow
    runners: dict[str, Runner] = field(default_factory=dict)
    _workspace_url: str = ""

    def workspace_url(self) -> str:
        """The workspace's address (`https://team.slack.com/`), read once from auth.test."""
        if not self._workspace_url:
            try:
                self._workspace_url = str(self.slack.auth_test()["url"])
            except (SlackApiError, SlackClientError, KeyError):
                return SLACK_URL  # links still open Slack; asked again next time
        return self._workspace_url
