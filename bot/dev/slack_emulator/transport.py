"""How a request from Slack reaches the bot and what comes back: a `Delivery` goes out through
a `Transport` and returns a `BotResponse`. Signed HTTP is the default transport; Socket Mode
is the other (socket_mode.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

import requests

from bot.dev.slack_emulator.signing import Signing, signed_headers

Json = dict[str, Any]
Kind = Literal["slash_commands", "interactive", "events_api"]  # Socket Mode's envelope types
ACK_SECONDS = 3.0  # Slack shows the user an error when the app answers later than this
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Delivery:
    """One request from Slack, before it is put on a wire: a slash command's fields, an
    interactivity payload, or an event_callback envelope."""

    kind: Kind
    payload: Json
    retry_num: int = 0  # events only: how many times Slack has sent this event before
    retry_reason: str = ""


@dataclass(frozen=True)
class BotResponse:
    """The bot's answer to one request from Slack. Over Socket Mode, the ack's payload as the
    body; `failure` says why there is no answer at all (no connection, no ack in time)."""

    status: int
    body: str
    headers: Mapping[str, str]
    elapsed: float
    failure: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


class Transport(Protocol):
    def deliver(self, delivery: Delivery) -> BotResponse: ...


@dataclass(frozen=True)
class HttpTransport:
    """Signed POSTs to the bot's request URL, encoded as Slack encodes each kind."""

    url: str
    signing_secret: str
    signing: Signing = "valid"
    timeout: float = 10.0

    def deliver(self, delivery: Delivery) -> BotResponse:
        if delivery.kind == "events_api":
            retry = {
                "X-Slack-Retry-Num": str(delivery.retry_num),
                "X-Slack-Retry-Reason": delivery.retry_reason,
            }
            body = json.dumps(delivery.payload).encode()
            return self.post(body, "application/json", retry if delivery.retry_num else {})
        if delivery.kind == "interactive":
            form: Mapping[str, Any] = {"payload": json.dumps(delivery.payload)}
        else:
            form = delivery.payload
        return self.post(urlencode(form).encode(), FORM)

    def post(
        self, body: bytes, content_type: str, extra_headers: Mapping[str, str] | None = None
    ) -> BotResponse:
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **signed_headers(self.signing_secret, body, self.signing),
            **(extra_headers or {}),
        }
        started = time.monotonic()
        answer = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
        elapsed = time.monotonic() - started
        return BotResponse(answer.status_code, answer.text, dict(answer.headers), elapsed)
