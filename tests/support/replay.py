"""Someone who captured a signed Slack request sends it again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import requests

from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.driver import Driver
from bot.dev.slack_emulator.signing import signed_headers
from bot.dev.slack_emulator.transport import BotResponse, HttpTransport
from tests.support.stack import SIGNING_SECRET, Stack


@dataclass(frozen=True)
class Replaying(HttpTransport):
    """Sends each request as Slack would, then the very same signed bytes again to
    `replay_url` (default: the same URL), as someone who captured them would."""

    replay_url: str = ""
    replays: list[requests.Response] = field(default_factory=list)

    def post(
        self, body: bytes, content_type: str, extra_headers: Mapping[str, str] | None = None
    ) -> BotResponse:
        headers = {
            "Content-Type": content_type,
            **signed_headers(self.signing_secret, body),
            **(extra_headers or {}),
        }
        first = requests.post(self.url, data=body, headers=headers, timeout=10)
        again = requests.post(self.replay_url or self.url, data=body, headers=headers, timeout=10)
        self.replays.append(again)
        return BotResponse(first.status_code, first.text, dict(first.headers), 0.0)


def replaying(stack: Stack, replay_url: str = "") -> tuple[Driver, Replaying]:
    """The stack's Slack, sending every request twice (the copy to `replay_url`)."""
    return replaying_to(stack.slack, f"{stack.url}/slack/events", replay_url)


def replaying_to(slack: SlackEmulator, url: str, replay_url: str = "") -> tuple[Driver, Replaying]:
    transport = Replaying(url, SIGNING_SECRET, replay_url=replay_url)
    return slack.driver.over(transport), transport
