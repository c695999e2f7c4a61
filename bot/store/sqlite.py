"""SQLite action store (the local default, `BOT_STORE=sqlite:PATH`)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.store import outbox
from bot.store.base import Claim, Filters
from bot.store.model import TERMINAL, Action, Event, State, event_record, iso
from bot.store.outbox import Change, OutboxEntry, OutboxState, OutboxWrites

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
  id TEXT PRIMARY KEY, env TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,
  requested_by TEXT NOT NULL, approved_by TEXT NOT NULL, created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL, heartbeat_at TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS actions_created ON actions (created_at DESC);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, action_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS refusals (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
  data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, state TEXT NOT NULL,
  created_at TEXT NOT NULL, finished_at TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, created_at);
"""


class SqliteStore(OutboxWrites):
    """One connection guarded by a lock: every method is one transaction."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def create(self, action: Action) -> None:
        with self._tx() as db:
            _write(db, action, insert=True)

    def get(self, action_id: str) -> Action | None:
        with self._tx() as db:
            return _read(db, action_id)

    def transition(
        self,
        action_id: str,
        expected: tuple[State, ...],
        new: State,
        event: Event,
        fields: dict[str, Any] | None = None,
        lock: bool = False,
    ) -> Claim:
        with self._tx() as db:
            current = _read(db, action_id)
            if current is None or current.state not in expected:
                return Claim(False, current)
            if lock:
                holder = _take_lock(db, current)
                if holder:
                    return Claim(False, current, holder)
            changed = current.moved(new, event, fields or {})
            if new in TERMINAL:
                db.execute(
                    "DELETE FROM locks WHERE key = ? AND action_id = ?",
                    (current.lock_key, action_id),
                )
            _write(db, changed)
            return Claim(True, changed)

    def update(self, action_id: str, fields: dict[str, Any], event: Event | None = None) -> None:
        with self._tx() as db:
            current = _read(db, action_id)
            if current is not None:
                _write(db, current.moved(current.state, event, fields))

    def search(self, filters: Filters) -> list[Action]:
        clauses, args = _where(filters)
        sql = f"SELECT data FROM actions {clauses} ORDER BY created_at DESC LIMIT ?"  # noqa: S608 - clauses are fixed strings
        with self._tx() as db:
            rows = db.execute(sql, (*args, filters.limit)).fetchall()
        return [Action.from_record(json.loads(row[0])) for row in rows]

    def expired_pending(self, now: datetime) -> list[Action]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT data FROM actions WHERE state = ? AND expires_at <= ?",
                (State.PENDING.value, iso(now)),
            ).fetchall()
        return [Action.from_record(json.loads(row[0])) for row in rows]

    def stale_running(self, heartbeat_before: datetime) -> list[Action]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT data FROM actions WHERE state = ?"
                " AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
                (State.RUNNING.value, iso(heartbeat_before)),
            ).fetchall()
        return [Action.from_record(json.loads(row[0])) for row in rows]

    def approved_before(self, when: datetime) -> list[Action]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT data FROM actions WHERE state = ?", (State.APPROVED.value,)
            ).fetchall()
        actions = [Action.from_record(json.loads(row[0])) for row in rows]
        return [a for a in actions if (a.approved_at or a.created_at) < when]

    def first_seen(self, key: str, now: datetime) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen (key, at) VALUES (?, ?)", (key, iso(now))
            )
            return cursor.rowcount == 1

    def forget(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM seen WHERE key = ?", (key,))

    def put_record(self, kind: str, key: str, data: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "REPLACE INTO records (kind, key, data) VALUES (?, ?, ?)",
                (kind, key, json.dumps(data)),
            )

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def record_refusal(self, event: Event, context: dict[str, Any]) -> None:
        data = json.dumps({**event_record(event), "context": context})
        with self._tx() as db:
            db.execute("INSERT INTO refusals (at, data) VALUES (?, ?)", (iso(event.at), data))

    def refusals(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT data FROM refusals ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def outbox_get(self, key: str) -> OutboxEntry | None:
        with self._tx() as db:
            return _read_entry(db, key)

    def outbox_pending(self) -> list[OutboxEntry]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT data FROM outbox WHERE state = ? ORDER BY created_at, key LIMIT ?",
                (OutboxState.PENDING.value, outbox.PENDING_SCAN),
            ).fetchall()
        return [OutboxEntry.from_record(json.loads(row[0])) for row in rows]

    def outbox_purge(self, now: datetime) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM outbox WHERE state != ? AND finished_at < ?",
                (OutboxState.PENDING.value, iso(now - outbox.DELIVERED_TTL)),
            )
            return cursor.rowcount

    def _change_entry(self, key: str, change: Change) -> OutboxEntry | None:
        """Read, change and write one entry in one transaction; None: nothing written."""
        with self._tx() as db:
            changed = change(_read_entry(db, key))
            if changed is not None:
                record = changed.to_record()
                db.execute(
                    "REPLACE INTO outbox (key, state, created_at, finished_at, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        key,
                        record["state"],
                        record["created_at"],
                        record["finished_at"],
                        json.dumps(record),
                    ),
                )
            return changed

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _read_entry(db: sqlite3.Connection, key: str) -> OutboxEntry | None:
    row = db.execute("SELECT data FROM outbox WHERE key = ?", (key,)).fetchone()
    return OutboxEntry.from_record(json.loads(row[0])) if row else None


def _read(db: sqlite3.Connection, action_id: str) -> Action | None:
    row = db.execute("SELECT data FROM actions WHERE id = ?", (action_id,)).fetchone()
    return Action.from_record(json.loads(row[0])) if row else None


def _write(db: sqlite3.Connection, action: Action, insert: bool = False) -> None:
    record = action.to_record()
    verb = "INSERT" if insert else "REPLACE"
    db.execute(
        f"{verb} INTO actions (id, env, target, state, requested_by, approved_by, created_at,"
        " expires_at, heartbeat_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            action.id,
            action.env,
            action.target,
            action.state.value,
            action.requested_by,
            action.approved_by,
            record["created_at"],
            record["expires_at"],
            record["heartbeat_at"],
            json.dumps(record),
        ),
    )


def _take_lock(db: sqlite3.Connection, action: Action) -> str:
    """'' when taken (or already ours); otherwise the id of the holder."""
    db.execute(
        "INSERT OR IGNORE INTO locks (key, action_id) VALUES (?, ?)", (action.lock_key, action.id)
    )
    holder = db.execute("SELECT action_id FROM locks WHERE key = ?", (action.lock_key,)).fetchone()[
        0
    ]
    return "" if holder == action.id else str(holder)


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("env", filters.env), ("target", filters.target)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if filters.user:
        clauses.append("(requested_by = ? OR approved_by = ?)")
        args += [filters.user, filters.user]
    states = [s.value for s in filters.states] or ([filters.outcome] if filters.outcome else [])
    if states:
        clauses.append(f"state IN ({', '.join('?' for _ in states)})")
        args += states
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
