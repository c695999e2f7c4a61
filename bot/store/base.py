"""The action-store port; SQLite and Firestore adapters pass one contract test suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.store.model import Action, Event, State
from bot.store.outbox import OutboxEntry, OutboxState


@dataclass(frozen=True)
class Claim:
    """The result of a compare-and-set: `won` says whether this caller made the change."""

    won: bool
    action: Action | None
    holder: str = ""  # for a lost service lock: the id of the action holding it


SEEN_TTL = timedelta(days=7)  # how long a de-duplication key is remembered
RECORD_TTL = timedelta(days=90)  # an alert's card: an incident closing later gets a new one


RecordChange = Callable[[dict[str, Any] | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Filters:
    """What history asks for; `since` (inclusive) and `before` (exclusive) bound created_at,
    `before` also serving as the cursor to the next older page."""

    env: str = ""
    target: str = ""
    user: str = ""  # the requester or the approver
    outcome: str = ""
    states: tuple[State, ...] = ()
    limit: int = 20
    since: datetime | None = None
    before: datetime | None = None

    def state_values(self) -> list[str]:
        return [s.value for s in self.states] or ([self.outcome] if self.outcome else [])


class ActionStore(Protocol):
    def create(self, action: Action) -> None: ...

    def get(self, action_id: str) -> Action | None: ...

    def transition(
        self,
        action_id: str,
        expected: tuple[State, ...],
        new: State,
        event: Event,
        fields: dict[str, Any] | None = None,
        lock: bool = False,
    ) -> Claim:
        """Atomically move from one of `expected` to `new`, adding `event` and `fields`.

        With `lock`, also take the action's service lock (refused, with the holder's id,
        when another action holds it); moving to a terminal state releases it.
        """
        ...

    def update(self, action_id: str, fields: dict[str, Any], event: Event | None = None) -> None:
        """Set fields that are not the state (card ts, heartbeat) and optionally log an event."""
        ...

    def search(self, filters: Filters) -> list[Action]:
        """The newest `filters.limit` matching actions, newest first, from an index."""
        ...

    def count(self, filters: Filters) -> int:
        """How many actions match, ignoring the limit."""
        ...

    def expired_pending(self, now: datetime) -> list[Action]: ...

    def stale_running(self, heartbeat_before: datetime) -> list[Action]: ...

    def approved_before(self, when: datetime) -> list[Action]:
        """Approved (never started) actions approved before `when`."""
        ...

    def first_seen(self, key: str, now: datetime) -> bool:
        """True exactly once per key, however concurrent the callers (de-duplication)."""
        ...

    def forget(self, key: str) -> None:
        """Undo first_seen for a key whose processing failed, so a redelivery is handled."""
        ...

    def put_record(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Small JSON documents other than actions (e.g. the card an alert opened)."""
        ...

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def change_record(self, kind: str, key: str, change: RecordChange) -> dict[str, Any] | None:
        """Compare-and-set on one record: `change` gets the current data (None: absent) and
        returns the new data, or None to leave it; it may run again when another writer got
        there first. Returns what is stored afterwards."""
        ...

    def record_refusal(self, event: Event, context: dict[str, Any]) -> None:
        """A refused request that never became an action is still on record."""
        ...

    def refusals(self, limit: int = 50) -> list[dict[str, Any]]:
        """Every kind of record (refusals, overrides), newest first."""
        ...

    def search_refused(self, filters: Filters) -> list[dict[str, Any]]:
        """The newest `filters.limit` refusals (kind "refused") matching env, target, user
        (who was refused) and the time bounds, newest first, from an index."""
        ...

    def count_refused(self, filters: Filters) -> int:
        """How many refusals match, ignoring the limit."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Delete de-duplication keys older than SEEN_TTL and records past their expiry;
        returns how many (Firestore's TTL policies do it there: 0)."""
        ...

    def outbox_add(self, entry: OutboxEntry) -> None:
        """Record a Slack message to send (see bot.store.outbox.merged): a post once per key;
        an update replaces the pending content of its message."""
        ...

    def outbox_get(self, key: str) -> OutboxEntry | None: ...

    def outbox_pending(self) -> list[OutboxEntry]:
        """Pending entries, due or not, oldest first."""
        ...

    def outbox_claim(
        self, key: str, lease: str, now: datetime, hold: timedelta
    ) -> OutboxEntry | None:
        """Lease a pending entry for sending (compare-and-set): None when it is not pending
        or another sender holds an unexpired lease."""
        ...

    def outbox_settle(
        self, sent: OutboxEntry, state: OutboxState, now: datetime, ts: str = "", error: str = ""
    ) -> bool:
        """Mark a claimed entry delivered (keeping a post's ts) or dropped. False when it was
        replaced while it was sent (it stays pending) or the lease was lost."""
        ...

    def outbox_retry(self, sent: OutboxEntry, due_at: datetime, error: str) -> None:
        """Release a claimed entry after a transient failure, due again at `due_at`."""
        ...

    def outbox_purge(self, now: datetime) -> int:
        """Delete finished entries older than DELIVERED_TTL (Firestore's TTL does it: 0)."""
        ...

    def close(self) -> None: ...
