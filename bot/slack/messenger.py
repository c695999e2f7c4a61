"""Posting to Slack: channel messages, thread replies, updates, and response_url answers."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.runtime import logs
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.pacing import PacedWebClient, Pacer, Priority, priority
from handlers.blocks import Block, plain_fallback

log = logs.get(__name__)

OUTBOX_TIMEOUT_SECONDS = 3

CHANNEL_FIXES = {
    "not_in_channel": "Invite me to the channel: `/invite @Fluxori Ops`.",
    "channel_not_found": "I cannot see this channel; invite me with `/invite @Fluxori Ops`.",
    "is_archived": "This channel is archived; run the command in #fluxori-ops.",
}


class ChannelUnavailable(Exception):
    """The bot cannot post in the channel; `fix` tells the user what to do."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error
        self.fix = CHANNEL_FIXES.get(error, "Check the bot's membership of this channel.")


def retry_handlers() -> list[Any]:
    """429 (honouring Retry-After), 5xx and connection errors are retried a few times."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def web_client(token: str, api_url: str = "", pacer: Pacer | None = None) -> WebClient:
    """The client for calls made while someone waits; each waits for Slack's budget."""
    client = PacedWebClient(
        token=token, base_url=api_url or WebClient.BASE_URL, timeout=10, pacer=pacer or Pacer()
    )
    client.retry_handlers.extend(retry_handlers())
    return client


def outbox_client(token: str, api_url: str = "") -> WebClient:
    """A short attempt: one quick retry of a 5xx or a lost connection, no waiting out a 429
    (the outbox keeps the message and honours Retry-After itself)."""
    return KeepAliveWebClient(
        token=token,
        base_url=api_url or WebClient.BASE_URL,
        timeout=OUTBOX_TIMEOUT_SECONDS,
        retry_handlers=[
            ServerErrorRetryHandler(max_retry_count=1),
            ConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )


class Messenger:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(
        self,
        channel: str,
        blocks: list[Block],
        text: str = "",
        thread_ts: str | None = None,
        *,
        urgency: Priority = Priority.NORMAL,
    ) -> str:
        """Post and return the message ts; ChannelUnavailable when the bot cannot post here.
        Waits for Slack's budget behind what is more urgent."""
        try:
            with priority(urgency):
                response = self.client.chat_postMessage(
                    channel=channel,
                    blocks=blocks,
                    text=text or plain_fallback(blocks, "Fluxori ops"),
                    thread_ts=thread_ts,
                    unfurl_links=False,
                )
        except SlackApiError as err:
            error = str(err.response.get("error", ""))
            if error in CHANNEL_FIXES:
                raise ChannelUnavailable(error) from None
            raise
        return str(response["ts"])

    def update(self, channel: str, ts: str, blocks: list[Block], text: str = "") -> None:
        self.client.chat_update(
            channel=channel,
            ts=ts,
            blocks=blocks,
            text=text or plain_fallback(blocks, "Fluxori ops"),
        )

    def respond(
        self, response_url: str, blocks: list[Block], text: str = "", *, replace: bool = False
    ) -> None:
        """Answer through a response_url: ephemeral to the user who acted."""
        response = WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers()).send(
            text=text or plain_fallback(blocks, "Fluxori ops"),
            blocks=blocks or None,
            response_type="ephemeral",
            replace_original=replace,
        )
        if response.status_code >= 400:
            log.warning("response_url_failed", status=response.status_code)

    def tell(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        response_url: str = "",
        thread_ts: str | None = None,
    ) -> None:
        """Only `user` sees it: through the response_url when there is one (a command or a
        click), else chat.postEphemeral (a modal submission has no response_url)."""
        if response_url:
            self.respond(response_url, [], text)
            return
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except SlackApiError as err:
            log.warning("ephemeral_failed", error=err.response.get("error", ""))

    def respond_text(self, response_url: str, text: str) -> None:
        if response_url:
            self.respond(response_url, [], text)
        else:
            log.warning("reply_without_response_url", text=text[:200])
