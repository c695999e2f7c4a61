"""Slack is a display: messages about changes go through a durable outbox in the action store.

`post` and `update` record the message, then try once to send it (a short attempt). Slack
failing (429, 5xx, a timeout, no connection) leaves it pending; `deliver_due`, run by the
maintenance sweep on any instance, sends what is due, retrying with backoff until Slack
answers. Nothing here raises because of Slack, so the state machine never waits on it.
Delivery is at least once: a sender that dies after Slack posted, before recording it,
leaves the post to be sent again when its lease ends.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import logs
from bot.store import ActionStore
from bot.store.model import utcnow
from bot.store.outbox import Kind, OutboxEntry, OutboxState, update_key
from handlers.blocks import Block, plain_fallback

log = logs.get(__name__)

LEASE = timedelta(seconds=30)  # longer than one send (timeout, one retry) takes
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 300.0
GIVE_UP_AFTER = timedelta(days=1)  # a message this old is noise, not news
# Errors Slack documents as temporary on chat.postMessage / chat.update; any other error
# (channel_not_found, not_in_channel, message_not_found, invalid_blocks…) will not improve.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class Outbox:
    def __init__(
        self, store: ActionStore, client: WebClient, now: Callable[[], datetime] = utcnow
    ) -> None:
        self._store, self._client, self._now = store, client, now
        self._lease = secrets.token_hex(8)  # this instance, as a sender

    def post(
        self, channel: str, blocks: list[Block], text: str = "", *, thread_ts: str = "", key: str
    ) -> None:
        """Post `blocks` (in `thread_ts`'s thread); `key` makes a repeated call post once."""
        self._send_now(self._entry(Kind.POST, key, channel, blocks, text, thread_ts=thread_ts))

    def update(self, channel: str, ts: str, blocks: list[Block], text: str = "") -> None:
        """Replace message `ts`; a newer update supersedes one not yet sent."""
        if not ts:
            log.warning("slack_update_skipped", channel=channel)
            return
        key = update_key(channel, ts)
        self._send_now(self._entry(Kind.UPDATE, key, channel, blocks, text, ts=ts))

    def deliver_due(self) -> int:
        """Send every due entry, in creation order per queue; returns how many were finished
        (delivered, or dropped because Slack refused them for good)."""
        return self._deliver(queue=None)

    def _entry(
        self,
        kind: Kind,
        key: str,
        channel: str,
        blocks: list[Block],
        text: str,
        thread_ts: str = "",
        ts: str = "",
    ) -> OutboxEntry:
        now = self._now()
        text = text or plain_fallback(blocks, "Fluxori ops")
        return OutboxEntry(key, kind, channel, text, now, now, blocks, thread_ts, ts)

    def _send_now(self, entry: OutboxEntry) -> None:
        self._store.outbox_add(entry)
        try:
            self._deliver(queue=entry.queue)
        except Exception:  # recorded: the sweep delivers it
            log.exception("slack_delivery_failed", key=entry.key)

    def _deliver(self, queue: str | None) -> int:
        now = self._now()
        blocked: set[str] = set()
        sent = 0
        for entry in self._store.outbox_pending():
            if entry.queue in blocked or (queue is not None and entry.queue != queue):
                continue
            if entry.due_at > now or not self._deliver_one(entry.key):
                blocked.add(entry.queue)  # later entries wait: a thread keeps its order
                continue
            sent += 1
        return sent

    def _deliver_one(self, key: str) -> bool:
        """True once the entry is finished (sent, or refused for good by Slack)."""
        for _ in range(3):  # again only when a newer update replaced it while it was sent
            entry = self._store.outbox_claim(key, self._lease, self._now(), LEASE)
            if entry is None:
                return False
            finished = self._attempt(entry)
            if finished is not None:
                return finished
        return False

    def _attempt(self, entry: OutboxEntry) -> bool | None:
        """Send once: True if finished, False if left pending, None if replaced meanwhile."""
        try:
            ts = self._send(entry)
        except SlackApiError as err:
            error = str(err.response.get("error", "")) or f"http_{err.response.status_code}"
            if error in TRANSIENT_ERRORS or err.response.status_code >= 500:
                return self._retry(entry, error, _retry_after(err))
            log.error("slack_message_dropped", key=entry.key, error=error)
            return self._settle(entry, OutboxState.DROPPED, error=error)
        except Exception as err:  # no answer (timeout, connection): Slack may be down
            return self._retry(entry, type(err).__name__, 0.0)
        log.info("slack_message_delivered", key=entry.key, attempts=entry.attempts + 1)
        return self._settle(entry, OutboxState.DELIVERED, ts=ts)

    def _send(self, entry: OutboxEntry) -> str:
        if entry.kind is Kind.UPDATE:
            self._client.chat_update(
                channel=entry.channel, ts=entry.ts, blocks=entry.blocks, text=entry.text
            )
            return entry.ts
        response = self._client.chat_postMessage(
            channel=entry.channel,
            blocks=entry.blocks,
            text=entry.text,
            thread_ts=entry.thread_ts or None,
            unfurl_links=False,
        )
        return str(response["ts"])

    def _settle(self, entry: OutboxEntry, state: OutboxState, **result: str) -> bool | None:
        return True if self._store.outbox_settle(entry, state, self._now(), **result) else None

    def _retry(self, entry: OutboxEntry, error: str, retry_after: float) -> bool:
        now = self._now()
        if now - entry.created_at > GIVE_UP_AFTER:
            log.error("slack_message_abandoned", key=entry.key, error=error)
            self._store.outbox_settle(entry, OutboxState.DROPPED, now, error=error)
            return True
        backoff = min(FIRST_RETRY_SECONDS * 2**entry.attempts, MAX_RETRY_SECONDS)
        delay = max(backoff, retry_after)
        log.warning("slack_message_deferred", key=entry.key, error=error, retry_in=delay)
        self._store.outbox_retry(entry, now + timedelta(seconds=delay), error)
        return False


def _retry_after(err: SlackApiError) -> float:
    """Slack's Retry-After on a 429, in seconds (0 when absent)."""
    value = err.response.headers.get("Retry-After") or err.response.headers.get("retry-after")
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
