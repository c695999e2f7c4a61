"""What the listeners and jobs need, built once by the composition root (`bot.container`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from bot.jobs import JobQueue, Runner
from bot.messenger import Messenger
from bot.policy import Policy
from bot.settings import Settings
from bot.store import ActionStore
from bot.store.model import utcnow
from handlers.config import OpsConfig
from handlers.ports import Platform


@dataclass
class Deps:
    settings: Settings
    config: OpsConfig
    platform: Platform
    slack: WebClient
    messenger: Messenger
    queue: JobQueue
    store: ActionStore
    policy: Policy = field(default_factory=Policy)
    now: Callable[[], datetime] = utcnow
    runners: dict[str, Runner] = field(default_factory=dict)
