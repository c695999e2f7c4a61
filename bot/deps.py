"""What the listeners and jobs need, built once by the composition root (`bot.container`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk import WebClient

from bot.jobs import JobQueue, Runner
from bot.messenger import Messenger
from bot.settings import Settings
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
    runners: dict[str, Runner] = field(default_factory=dict)
