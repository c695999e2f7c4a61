"""Outbox entries: Slack messages recorded before they are sent, so a Slack outage or a dead
instance never loses one. The rules live here as pure functions; each store applies them
inside its own compare-and-set.

An entry is `pending` until it is `delivered` (or `dropped`: Slack refused it for good).
Posts are added once per key. Updates are keyed by channel and message, so a newer update
replaces a pending older one: only the latest content is sent. Each replacement bumps
`revision`; a delivery that sent an older revision leaves the newer one pending.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.store.model import iso, parse_time

DELIVERED_TTL = timedelta(days=1)  # a delivered entry is kept this long (the ts of a post)
PENDING_SCAN = 500  # pending entries read per delivery round
RATE_LIMITED = "ratelimited"  # Slack's error with a 429 (https://api.slack.com/docs/rate-limits)


class Kind(StrEnum):
    POST = "post"
    UPDATE = "update"


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DROPPED = "dropped"


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    kind: Kind
    channel: str
    text: str
    created_at: datetime
    due_at: datetime
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str = ""  # a post: the thread it replies in ("" for the channel)
    ts: str = ""  # an update: the message; a delivered post: the ts Slack gave it
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    revision: int = 0
    lease: str = ""  # who is sending it now, until lease_until
    lease_until: datetime | None = None
    error: str = ""
    finished_at: datetime | None = None
    priority: int = 1  # bot.slack.pacing.Priority: sent first when Slack's budget is short
    # A post: the response_url to answer if the channel refuses it; several, separated by
    # spaces, for an answer shared by commands alike.
    fallback_url: str = ""

    @property
    def queue(self) -> str:
        """Entries of one queue are delivered in creation order: a thread's posts keep their
        order; a message in the channel or an update has a queue of its own (only an update's
        latest content matters)."""
        if self.kind is Kind.UPDATE or not self.thread_ts:
            return self.key
        return f"{self.channel}/{self.thread_ts}"

    def to_record(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"], data["state"] = self.kind.value, self.state.value
        data["blocks"] = json.dumps(self.blocks)  # Firestore rejects arrays nested in arrays
        for key in _TIMES:
            data[key] = iso(data[key]) if data[key] else None
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> OutboxEntry:
        data = {k: v for k, v in data.items() if k in _FIELDS}
        data["kind"], data["state"] = Kind(data["kind"]), OutboxState(data["state"])
        data["blocks"] = json.loads(data["blocks"])
        for key in _TIMES:
            data[key] = parse_time(data.get(key))
        return cls(**data)


_TIMES = ("created_at", "due_at", "lease_until", "finished_at")
_FIELDS = frozenset(OutboxEntry.__dataclass_fields__)


def update_key(channel: str, ts: str) -> str:
    return f"update:{channel}:{ts}"


def merged(current: OutboxEntry | None, new: OutboxEntry) -> OutboxEntry | None:
    """What to store when `new` is added; None: keep `current` (a post already recorded)."""
    if current is None:
        return new
    if new.kind is Kind.POST:
        return None
    if current.state is not OutboxState.PENDING:
        return replace(new, revision=current.revision + 1)
    # Still pending: new content, due now (after a failure it may well go through); the
    # attempts so far and any lease (a sender in flight) stay. Slack's Retry-After stays too:
    # a storm of updates waits it out once instead of each meeting another 429.
    return replace(
        current,
        blocks=new.blocks,
        text=new.text,
        due_at=_after_rate_limit(current, new.due_at),
        revision=current.revision + 1,
    )


def _after_rate_limit(current: OutboxEntry, due_at: datetime) -> datetime:
    return max(current.due_at, due_at) if current.error == RATE_LIMITED else due_at


def claimed(
    current: OutboxEntry | None, lease: str, now: datetime, hold: timedelta
) -> OutboxEntry | None:
    """The entry leased to `lease` until now + hold; None when it is not pending or someone
    else holds an unexpired lease."""
    if current is None or current.state is not OutboxState.PENDING:
        return None
    if current.lease and current.lease_until and current.lease_until > now:
        return None
    return replace(current, lease=lease, lease_until=now + hold)


def settled(
    current: OutboxEntry | None,
    sent: OutboxEntry,
    state: OutboxState,
    now: datetime,
    ts: str = "",
    error: str = "",
) -> OutboxEntry | None:
    """After sending `sent`: finished, or pending again (lease released) when it was replaced
    meanwhile. None when the lease was lost (nothing of ours to record)."""
    if current is None or current.lease != sent.lease:
        return None
    released = replace(current, lease="", lease_until=None)
    if current.revision != sent.revision:
        return released
    return replace(released, state=state, ts=ts or current.ts, error=error, finished_at=now)


def retried(
    current: OutboxEntry | None, sent: OutboxEntry, due_at: datetime, error: str
) -> OutboxEntry | None:
    """After a transient failure: pending, due again at `due_at` (a replacement is due now,
    unless Slack said to wait: its limit is the method's, whatever the content)."""
    if current is None or current.lease != sent.lease:
        return None
    released = replace(current, lease="", lease_until=None)
    if current.revision != sent.revision:
        return replace(released, due_at=due_at if error == RATE_LIMITED else current.due_at)
    return replace(released, attempts=current.attempts + 1, due_at=due_at, error=error)


def in_order(entries: list[OutboxEntry]) -> list[OutboxEntry]:
    return sorted(entries, key=lambda e: (e.created_at, e.key))


Change = Callable[[OutboxEntry | None], OutboxEntry | None]


class OutboxWrites:
    """The store port's outbox writes, each one atomic read-change-write of an entry by the
    rules above; a store provides `_change_entry`."""

    def _change_entry(self, key: str, change: Change) -> OutboxEntry | None:
        """Apply `change` to the entry atomically; returns what was written (None: nothing)."""
        raise NotImplementedError

    def outbox_add(self, entry: OutboxEntry) -> None:
        self._change_entry(entry.key, lambda current: merged(current, entry))

    def outbox_claim(
        self, key: str, lease: str, now: datetime, hold: timedelta
    ) -> OutboxEntry | None:
        return self._change_entry(key, lambda current: claimed(current, lease, now, hold))

    def outbox_settle(
        self, sent: OutboxEntry, state: OutboxState, now: datetime, ts: str = "", error: str = ""
    ) -> bool:
        done = self._change_entry(
            sent.key, lambda current: settled(current, sent, state, now, ts, error)
        )
        return done is not None and done.state is state

    def outbox_retry(self, sent: OutboxEntry, due_at: datetime, error: str) -> None:
        self._change_entry(sent.key, lambda current: retried(current, sent, due_at, error))
