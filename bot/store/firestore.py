"""Firestore action store (`BOT_STORE=firestore`), for Cloud Run.

Claims are compare-and-set writes: a batch that applies only if the action document is
unchanged since it was read (and, for the service lock, only if the lock does not exist yet).
Unlike transactions, losers fail fast instead of queueing on document locks. Action ids
start with random hex, so writes spread over the key space. History filters in the query,
newest first, from the composite indexes declared in deploy/terraform/firestore.tf (one per
shape of bot.store.filtering's equalities), so any record is found however old.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from bot.store import outbox
from bot.store.base import RECORD_TTL, SEEN_TTL, Claim, Filters, RecordChange
from bot.store.filtering import (
    ACTIONS_ORDER,
    REFUSALS_ORDER,
    action_branches,
    refusal_equalities,
)
from bot.store.model import TERMINAL, Action, Event, State, event_record, iso, utcnow
from bot.store.outbox import Change, OutboxEntry, OutboxState, OutboxWrites

MAX_ATTEMPTS = 25  # a lost compare-and-set re-reads; a loser then sees the new state


class FirestoreStore(OutboxWrites):
    def __init__(self, client: firestore.Client, prefix: str = "ops_") -> None:
        self._db = client
        self._actions = client.collection(f"{prefix}actions")
        self._locks = client.collection(f"{prefix}locks")
        self._seen = client.collection(f"{prefix}seen")
        self._refusals = client.collection(f"{prefix}refusals")
        self._records = client.collection(f"{prefix}records")
        self._outbox = client.collection(f"{prefix}outbox")

    def create(self, action: Action) -> None:
        self._actions.document(action.id).create(action.to_record())

    def get(self, action_id: str) -> Action | None:
        snap = self._actions.document(action_id).get()
        return _action(snap) if snap.exists else None

    def transition(
        self,
        action_id: str,
        expected: tuple[State, ...],
        new: State,
        event: Event,
        fields: dict[str, Any] | None = None,
        lock: bool = False,
    ) -> Claim:
        ref = self._actions.document(action_id)
        for _ in range(MAX_ATTEMPTS):
            snap = ref.get()
            current = _action(snap) if snap.exists else None
            if current is None or current.state not in expected:
                return Claim(False, current)
            lock_ref = self._locks.document(_doc_id(current.lock_key))
            lock_snap = lock_ref.get()
            holder = str(lock_snap.get("action_id")) if lock_snap.exists else ""
            if lock and holder and holder != action_id:
                return Claim(False, current, holder)
            batch = self._db.batch()
            if lock and not holder:
                batch.create(lock_ref, {"action_id": action_id})  # fails if another took it
            if new in TERMINAL and holder == action_id:
                batch.delete(lock_ref)
            changed = current.moved(new, event, fields or {})
            self._write_if_unchanged(batch, ref, snap, changed)
            if _committed(batch):
                return Claim(True, changed)
        return Claim(False, self.get(action_id))

    def update(self, action_id: str, fields: dict[str, Any], event: Event | None = None) -> None:
        ref = self._actions.document(action_id)
        for _ in range(MAX_ATTEMPTS):
            snap = ref.get()
            if not snap.exists:
                return
            current = _action(snap)
            batch = self._db.batch()
            self._write_if_unchanged(batch, ref, snap, current.moved(current.state, event, fields))
            if _committed(batch):
                return

    def _write_if_unchanged(self, batch: Any, ref: Any, snap: Any, action: Action) -> None:
        """Compare-and-set: the write applies only if nobody wrote the document since `snap`."""
        option = self._db.write_option(last_update_time=snap.update_time)
        batch.update(ref, action.to_record(), option=option)

    def search(self, filters: Filters) -> list[Action]:
        query = self._history_query(filters).order_by(
            ACTIONS_ORDER, direction=firestore.Query.DESCENDING
        )
        return [_action(snap) for snap in query.limit(filters.limit).stream()]

    def count(self, filters: Filters) -> int:
        return _count(self._history_query(filters))

    def _history_query(self, filters: Filters) -> Any:
        branches = [_all_equal(b) for b in action_branches(filters)]
        where = branches[0] if len(branches) == 1 else firestore.Or(branches)
        query = self._actions if where is None else self._actions.where(filter=where)
        return _bounded(query, ACTIONS_ORDER, filters)

    def expired_pending(self, now: datetime) -> list[Action]:
        query = self._actions.where(
            filter=firestore.FieldFilter("state", "==", State.PENDING.value)
        )
        actions = [_action(s) for s in query.stream()]
        return [a for a in actions if a.expires_at <= now]

    def stale_running(self, heartbeat_before: datetime) -> list[Action]:
        query = self._actions.where(
            filter=firestore.FieldFilter("state", "==", State.RUNNING.value)
        )
        actions = [_action(s) for s in query.stream()]
        return [a for a in actions if a.heartbeat_at is None or a.heartbeat_at < heartbeat_before]

    def approved_before(self, when: datetime) -> list[Action]:
        query = self._actions.where(
            filter=firestore.FieldFilter("state", "==", State.APPROVED.value)
        )
        actions = [_action(s) for s in query.stream()]
        return [a for a in actions if (a.approved_at or a.created_at) < when]

    def first_seen(self, key: str, now: datetime) -> bool:
        try:
            record = {"key": key, "at": iso(now), "expire_at": now + SEEN_TTL}  # Firestore TTL
            self._seen.document(_doc_id(key)).create(record)
        except gexc.AlreadyExists:
            return False
        return True

    def forget(self, key: str) -> None:
        self._seen.document(_doc_id(key)).delete()

    def put_record(self, kind: str, key: str, data: dict[str, Any]) -> None:
        record = {**data, "expire_at": utcnow() + RECORD_TTL}  # Firestore TTL
        self._records.document(_doc_id(f"{kind}:{key}")).set(record)

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        snap = self._records.document(_doc_id(f"{kind}:{key}")).get()
        return _record(snap) if snap.exists else None

    def change_record(self, kind: str, key: str, change: RecordChange) -> dict[str, Any] | None:
        ref = self._records.document(_doc_id(f"{kind}:{key}"))
        for _ in range(MAX_ATTEMPTS):
            snap = ref.get()
            current = _record(snap) if snap.exists else None
            changed = change(current)
            if changed is None:
                return current
            batch = self._db.batch()
            record = {**changed, "expire_at": utcnow() + RECORD_TTL}  # Firestore TTL
            if snap.exists:
                option = self._db.write_option(last_update_time=snap.update_time)
                batch.update(ref, record, option=option)
            else:
                batch.create(ref, record)  # fails if another created it
            if _committed(batch):
                return changed
        raise RuntimeError(f"record {kind}:{key} kept changing under {MAX_ATTEMPTS} attempts")

    def record_refusal(self, event: Event, context: dict[str, Any]) -> None:
        self._refusals.add({**event_record(event), "context": context})

    def refusals(self, limit: int = 50) -> list[dict[str, Any]]:
        query = self._refusals.order_by("at", direction=firestore.Query.DESCENDING).limit(limit)
        return [s.to_dict() or {} for s in query.stream()]

    def search_refused(self, filters: Filters) -> list[dict[str, Any]]:
        query = self._refused_query(filters).order_by(
            REFUSALS_ORDER, direction=firestore.Query.DESCENDING
        )
        return [s.to_dict() or {} for s in query.limit(filters.limit).stream()]

    def count_refused(self, filters: Filters) -> int:
        return _count(self._refused_query(filters))

    def _refused_query(self, filters: Filters) -> Any:
        query = self._refusals.where(filter=_all_equal(refusal_equalities(filters)))
        return _bounded(query, REFUSALS_ORDER, filters)

    def purge_expired(self, now: datetime) -> int:
        del now  # de-duplication keys and records carry expire_at; Firestore's TTL deletes them
        return 0

    def outbox_get(self, key: str) -> OutboxEntry | None:
        snap = self._outbox.document(_doc_id(key)).get()
        return OutboxEntry.from_record(snap.to_dict() or {}) if snap.exists else None

    def outbox_pending(self) -> list[OutboxEntry]:
        """Sorted here: ordering the query by created_at would need a composite index."""
        query = self._outbox.where(
            filter=firestore.FieldFilter("state", "==", OutboxState.PENDING.value)
        )
        snaps = query.limit(outbox.PENDING_SCAN).stream()
        return outbox.in_order([OutboxEntry.from_record(s.to_dict() or {}) for s in snaps])

    def outbox_purge(self, now: datetime) -> int:
        del now  # finished entries carry expire_at; Firestore's TTL policy deletes them
        return 0

    def _change_entry(self, key: str, change: Change) -> OutboxEntry | None:
        """Compare-and-set on one entry, re-read when someone wrote it first; None: nothing
        written."""
        ref = self._outbox.document(_doc_id(key))
        for _ in range(MAX_ATTEMPTS):
            snap = ref.get()
            current = OutboxEntry.from_record(snap.to_dict() or {}) if snap.exists else None
            changed = change(current)
            if changed is None:
                return None
            batch = self._db.batch()
            if snap.exists:
                option = self._db.write_option(last_update_time=snap.update_time)
                batch.update(ref, _entry_record(changed), option=option)
            else:
                batch.create(ref, _entry_record(changed))  # fails if another created it
            if _committed(batch):
                return changed
        return None

    def close(self) -> None:
        self._db.close()  # type: ignore[no-untyped-call]


def _entry_record(entry: OutboxEntry) -> dict[str, Any]:
    """With expire_at for Firestore's TTL once finished (null, never expiring, while pending)."""
    finished = entry.finished_at
    return {**entry.to_record(), "expire_at": finished + outbox.DELIVERED_TTL if finished else None}


def _all_equal(equalities: Mapping[str, str | list[str]]) -> Any:
    """One AND of equality filters (`in` for a list); None when there are none."""
    filters: list[Any] = [
        firestore.FieldFilter(field, "in" if isinstance(value, list) else "==", value)
        for field, value in equalities.items()
    ]
    if len(filters) > 1:
        return firestore.And(filters)
    return filters[0] if filters else None


def _bounded(query: Any, field: str, filters: Filters) -> Any:
    """The time window: `since` inclusive, `before` exclusive (ISO strings sort as times)."""
    if filters.since:
        query = query.where(filter=firestore.FieldFilter(field, ">=", iso(filters.since)))
    if filters.before:
        query = query.where(filter=firestore.FieldFilter(field, "<", iso(filters.before)))
    return query


def _count(query: Any) -> int:
    """A server-side COUNT: no documents are read."""
    results = query.count(alias="n").get()
    return int(results[0][0].value) if results else 0


def _doc_id(key: str) -> str:
    """Document ids may not contain '/'; keys are ours, so a plain substitution is enough."""
    return key.replace("/", "|")


def _committed(batch: Any) -> bool:
    """Commit atomically; False when a precondition failed (someone else got there first)."""
    try:
        batch.commit()
    except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.Aborted, gexc.NotFound):
        return False
    return True


def _record(snap: Any) -> dict[str, Any]:
    record = snap.to_dict() or {}
    record.pop("expire_at", None)
    return dict(record)


def _action(snap: Any) -> Action:
    return Action.from_record(snap.to_dict() or {})
