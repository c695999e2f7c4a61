"""Slack is a display: messages about changes go through a durable outbox in the action store.

`post` and `update` record the message, then send it within Slack's budget (bot.slack.pacing):
at once when the budget has room (a short attempt), else through the paced sender, most urgent
first. Slack failing (429, 5xx, a timeout, no connection) leaves it pending; `deliver_due`, run
by the maintenance sweep on any instance, sends what is due, retrying with backoff until Slack
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
from slack_sdk.webhook import WebhookClient

from bot.runtime import logs
from bot.slack.messenger import CHANNEL_FIXES, OUTBOX_TIMEOUT_SECONDS
from bot.slack.pacing import Pacer, Priority
from bot.slack.sender import PacedSender
from bot.store import ActionStore
from bot.store.model import utcnow
from bot.store.outbox import Kind, OutboxEntry, OutboxState, update_key
from handlers.blocks import Block, context, plain_fallback

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
        self,
        store: ActionStore,
        client: WebClient,
        now: Callable[[], datetime] = utcnow,
        pacer: Pacer | None = None,
        hold_answers: bool = False,
    ) -> None:
        self._store, self._client, self._now = store, client, now
        self._lease = secrets.token_hex(8)  # this instance, as a sender
        self.pacer = pacer or Pacer()
        self._hold_answers = hold_answers
        self._sender = PacedSender(self.pacer, self._deliver_waiting)

    def post(
        self,
        channel: str,
        blocks: list[Block],
        text: str = "",
        *,
        thread_ts: str = "",
        key: str,
        priority: Priority = Priority.CHANGE,
        fallback_url: str = "",
    ) -> None:
        """Post `blocks` (in `thread_ts`'s thread); `key` makes a repeated call post once.
        When the channel refuses the bot, `fallback_url` (response_urls, separated by spaces)
        gets it instead."""
        entry = self._entry(
            Kind.POST,
            key,
            channel,
            blocks,
            text,
            thread_ts,
            priority=priority,
            fallback=fallback_url,
        )
        self._send_soon(entry)

    def answer(
        self, channel: str, blocks: list[Block], *, key: str, fallback_url: str = ""
    ) -> None:
        """A read answer, a message of its own in the channel, sent without being recorded
        first when Slack's budget has room. When it must wait for the budget it waits in memory
        if jobs run in this process (`hold_answers`: the job that made it was in memory too),
        else recorded. Once Slack fails it, it is recorded and delivered like any entry."""
        entry = self._entry(
            Kind.POST, key, channel, blocks, "", priority=Priority.NORMAL, fallback=fallback_url
        )
        if self._sender.send_now(entry):
            self._send_unrecorded(entry)
        elif self._hold_answers:
            self._sender.add(entry, held=True)
        else:
            self._store.outbox_add(entry)
            self._sender.add(entry)

    def _send_unrecorded(self, entry: OutboxEntry) -> bool:
        try:
            self._send(entry)
        except Exception as err:  # kept, then handled as any entry: retried, or dropped
            log.warning("slack_answer_recorded", key=entry.key, error=type(err).__name__)
            self._store.outbox_add(entry)
            return self._deliver_one(entry.key)
        log.info("slack_message_delivered", key=entry.key, attempts=1)
        return True

    def _deliver_waiting(self, key: str, held: OutboxEntry | None) -> bool:
        return self._deliver_one(key) if held is None else self._send_unrecorded(held)

    def update(
        self,
        channel: str,
        ts: str,
        blocks: list[Block],
        text: str = "",
        *,
        priority: Priority = Priority.CHANGE,
    ) -> None:
        """Replace message `ts`; a newer update supersedes one not yet sent."""
        if not ts:
            log.warning("slack_update_skipped", channel=channel)
            return
        key = update_key(channel, ts)
        self._send_soon(
            self._entry(Kind.UPDATE, key, channel, blocks, text, ts=ts, priority=priority)
        )

    def deliver_due(self) -> int:
        """Send every due entry, in creation order per queue, as far as Slack's budget allows
        now (the rest goes to the paced sender); returns how many were finished (delivered,
        or dropped because Slack refused them for good)."""
        return self._deliver(queue=None)

    def posts_waiting(self, channel: str) -> int:
        """Messages for `channel` waiting for Slack's budget in this instance."""
        return self._sender.posts_waiting(channel)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until nothing waits for Slack's budget here; False at the timeout."""
        return self._sender.drain(timeout)

    def close(self) -> None:
        self._sender.close()

    def _entry(
        self,
        kind: Kind,
        key: str,
        channel: str,
        blocks: list[Block],
        text: str,
        thread_ts: str = "",
        ts: str = "",
        *,
        priority: Priority,
        fallback: str = "",
    ) -> OutboxEntry:
        now = self._now()
        text = text or plain_fallback(blocks, "Fluxori ops")
        return OutboxEntry(
            key,
            kind,
            channel,
            text,
            now,
            now,
            blocks,
            thread_ts,
            ts,
            priority=priority,
            fallback_url=fallback,
        )

    def _send_soon(self, entry: OutboxEntry) -> None:
        self._store.outbox_add(entry)
        try:
            if entry.queue == entry.key:
                self._deliver_alone(entry.key)
            else:
                self._deliver(queue=entry.queue)
        except Exception:  # recorded: the sweep delivers it
            log.exception("slack_delivery_failed", key=entry.key)

    def _deliver_alone(self, key: str) -> None:
        """An entry with a queue of its own: nothing is ahead of it, so the others are not
        read. It waits when it is not due (a 429's Retry-After) or the budget is short."""
        entry = self._store.outbox_get(key)
        if entry is None or entry.state is not OutboxState.PENDING or entry.due_at > self._now():
            return
        if self._sender.send_now(entry):
            self._deliver_one(key)
        else:
            self._sender.add(entry)

    def _deliver(self, queue: str | None) -> int:
        """Send the due entries (of `queue`), in creation order per queue: what Slack's budget
        takes now, here; the rest through the paced sender."""
        now = self._now()
        blocked: set[str] = set()  # later entries wait: a thread keeps its order
        sent = 0
        for entry in self._store.outbox_pending():
            if entry.queue in blocked or queue not in (None, entry.queue):
                continue
            if entry.due_at > now:
                blocked.add(entry.queue)
            elif not self._sender.send_now(entry):
                blocked.add(entry.queue)
                self._sender.add(entry)
            elif self._deliver_one(entry.key):
                sent += 1
            else:
                blocked.add(entry.queue)
        return sent

    def _deliver_one(self, key: str) -> bool:
        """Send one entry (its budget already taken): True when it is finished (sent, or
        refused for good by Slack) or was replaced while it was sent (the newer content then
        waits for a budget of its own), False when it is left pending."""
        entry = self._store.outbox_claim(key, self._lease, self._now(), LEASE)
        if entry is None:
            return False
        finished = self._attempt(entry)
        if finished is None:
            newer = self._store.outbox_get(key)
            if newer is not None and newer.state is OutboxState.PENDING:
                self._sender.add(newer)
            return True
        return finished

    def _attempt(self, entry: OutboxEntry) -> bool | None:
        """Send once: True if finished, False if left pending, None if replaced meanwhile."""
        try:
            ts = self._send(entry)
        except SlackApiError as err:
            error = str(err.response.get("error", "")) or f"http_{err.response.status_code}"
            if error in TRANSIENT_ERRORS or err.response.status_code >= 500:
                return self._retry(entry, error, _retry_after(err))
            log.error("slack_message_dropped", key=entry.key, error=error)
            self._answer_instead(entry, error)
            return self._settle(entry, OutboxState.DROPPED, error=error)
        except Exception as err:  # no answer (timeout, connection): Slack may be down
            return self._retry(entry, type(err).__name__, 0.0)
        log.info("slack_message_delivered", key=entry.key, attempts=entry.attempts + 1)
        return self._settle(entry, OutboxState.DELIVERED, ts=ts)

    def _send(self, entry: OutboxEntry) -> str:
        # Straight to api_call: an entry's blocks are JSON already, which slack_sdk's chat_*
        # helpers would first walk, block by block, looking for its Block classes.
        message = {"channel": entry.channel, "blocks": entry.blocks, "text": entry.text}
        if entry.kind is Kind.UPDATE:
            self._client.api_call("chat.update", json={**message, "ts": entry.ts})
            return entry.ts
        if entry.thread_ts:
            message["thread_ts"] = entry.thread_ts
        response = self._client.api_call(
            "chat.postMessage", json={**message, "unfurl_links": False}
        )
        return str(response["ts"])

    def _answer_instead(self, entry: OutboxEntry, error: str) -> None:
        """A post the channel refused reaches each requester through their fallback URL."""
        if error not in CHANNEL_FIXES:
            return
        note = context(f":information_source: {CHANNEL_FIXES[error]}")
        for url in entry.fallback_url.split():
            try:
                WebhookClient(url, timeout=OUTBOX_TIMEOUT_SECONDS).send(
                    text=entry.text, blocks=[*entry.blocks, note], response_type="ephemeral"
                )
            except Exception as err:  # the drop above is the record
                log.warning("fallback_answer_failed", key=entry.key, error=type(err).__name__)

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
