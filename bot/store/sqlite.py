"""SQLite action store (the local default, `BOT_STORE=sqlite:PATH`).

WAL mode with a small pool of connections: reads run side by side (each sees the last
commit), writes are serialized by one lock (and BEGIN IMMEDIATE, across processes). History
reads from an index per filter people use, so a rare user's oldest record is found at once.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.store import outbox
from bot.store.base import RECORD_TTL, SEEN_TTL, Claim, Filters, RecordChange
from bot.store.filtering import REFUSED
from bot.store.model import TERMINAL, Action, Event, State, event_record, iso, utcnow
from bot.store.outbox import Change, OutboxEntry, OutboxState, OutboxWrites

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
  id TEXT PRIMARY KEY, env TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,
  requested_by TEXT NOT NULL, approved_by TEXT NOT NULL, created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL, heartbeat_at TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS actions_created ON actions (created_at DESC);
CREATE INDEX IF NOT EXISTS actions_requester ON actions (requested_by, created_at);
CREATE INDEX IF NOT EXISTS actions_approver ON actions (approved_by, created_at);
CREATE INDEX IF NOT EXISTS actions_target ON actions (target, created_at);
CREATE INDEX IF NOT EXISTS actions_state ON actions (state, created_at);
CREATE INDEX IF NOT EXISTS actions_env ON actions (env, created_at);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, action_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS refusals (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
  data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS refusals_at ON refusals (at);
CREATE INDEX IF NOT EXISTS refusals_by ON refusals (json_extract(data, '$.by'), at);
CREATE INDEX IF NOT EXISTS refusals_env ON refusals (json_extract(data, '$.context.env'), at);
CREATE INDEX IF NOT EXISTS refusals_target
  ON refusals (json_extract(data, '$.context.target'), at);
CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, state TEXT NOT NULL,
  created_at TEXT NOT NULL, finished_at TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, created_at);
"""
AFTER_MIGRATION = "CREATE INDEX IF NOT EXISTS records_expiry ON records (expire_at);"
USER_COLUMNS = ("requested_by", "approved_by")
NEWEST = "ORDER BY created_at DESC LIMIT ?"
REFUSAL_COLUMNS = {  # filter -> the indexed expression (refusals keep their JSON as written)
    "kind": "json_extract(data, '$.kind')",
    "user": "json_extract(data, '$.by')",
    "env": "json_extract(data, '$.context.env')",
    "target": "json_extract(data, '$.context.target')",
}


class SqliteStore(OutboxWrites):
    """Every write is one transaction under the write lock; a read is one statement on any
    idle connection of the pool."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # writes
        with self._lock, self._connection() as db:
            db.executescript(SCHEMA)
            _migrate(db)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL's recommended setting: a commit survives the process dying; only an OS crash or
        # power loss can lose the last commits, never corrupt the file (sqlite.org/pragma.html)
        db.execute("PRAGMA synchronous=NORMAL")
        self._opened.append(db)
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = self._open()
        try:
            yield db
        finally:
            self._idle.put(db)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """One read statement; WAL lets it run beside writes and other reads."""
        with self._connection() as db:
            return db.execute(sql, args).fetchall()

    def create(self, action: Action) -> None:
        with self._tx() as db:
            _write(db, action, insert=True)

    def get(self, action_id: str) -> Action | None:
        with self._connection() as db:
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
        """A user's actions are two index walks (as requester, as approver), merged."""
        rows: dict[str, tuple[str, str]] = {}
        for column in USER_COLUMNS if filters.user else ("",):
            clauses, args = _where(filters, column)
            sql = f"SELECT id, created_at, data FROM actions {clauses} {NEWEST}"  # noqa: S608 - clauses are fixed strings
            rows.update(
                (row[0], (row[1], row[2])) for row in self._rows(sql, (*args, filters.limit))
            )
        newest = sorted(rows.values(), reverse=True)[: filters.limit]
        return [Action.from_record(json.loads(data)) for _, data in newest]

    def count(self, filters: Filters) -> int:
        """A user's actions: those they requested, plus those they approved for others."""
        if not filters.user:
            return self._count(*_where(filters))
        requested = self._count(*_where(filters, "requested_by"))
        clauses, args = _where(filters, "approved_by")
        return requested + self._count(f"{clauses} AND requested_by != ?", [*args, filters.user])

    def _count(self, clauses: str, args: list[Any]) -> int:
        return int(self._rows(f"SELECT COUNT(*) FROM actions {clauses}", tuple(args))[0][0])  # noqa: S608 - clauses are fixed strings

    def expired_pending(self, now: datetime) -> list[Action]:
        return _actions(
            self._rows(
                "SELECT data FROM actions WHERE state = ? AND expires_at <= ?",
                (State.PENDING.value, iso(now)),
            )
        )

    def stale_running(self, heartbeat_before: datetime) -> list[Action]:
        return _actions(
            self._rows(
                "SELECT data FROM actions WHERE state = ?"
                " AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
                (State.RUNNING.value, iso(heartbeat_before)),
            )
        )

    def approved_before(self, when: datetime) -> list[Action]:
        rows = self._rows("SELECT data FROM actions WHERE state = ?", (State.APPROVED.value,))
        return [a for a in _actions(rows) if (a.approved_at or a.created_at) < when]

    def first_seen(self, key: str, now: datetime) -> bool:
        # One statement is a transaction of its own: every Slack request makes this write,
        # and BEGIN and COMMIT would each be one more trip through SQLite.
        with self._lock, self._connection() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO seen (key, at) VALUES (?, ?)", (key, iso(now))
            )
            return cursor.rowcount == 1

    def forget(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM seen WHERE key = ?", (key,))

    def put_record(self, kind: str, key: str, data: dict[str, Any]) -> None:
        with self._tx() as db:
            _put_record(db, kind, key, data)

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT data FROM records WHERE kind = ? AND key = ?", (kind, key))
        return json.loads(rows[0][0]) if rows else None

    def change_record(self, kind: str, key: str, change: RecordChange) -> dict[str, Any] | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            current = json.loads(row[0]) if row else None
            changed = change(current)
            if changed is not None:
                _put_record(db, kind, key, changed)
            return current if changed is None else changed

    def purge_expired(self, now: datetime) -> int:
        with self._tx() as db:
            seen = db.execute("DELETE FROM seen WHERE at < ?", (iso(now - SEEN_TTL),))
            records = db.execute("DELETE FROM records WHERE expire_at < ?", (iso(now),))
            return seen.rowcount + records.rowcount

    def record_refusal(self, event: Event, context: dict[str, Any]) -> None:
        data = json.dumps({**event_record(event), "context": context})
        with self._tx() as db:
            db.execute("INSERT INTO refusals (at, data) VALUES (?, ?)", (iso(event.at), data))

    def refusals(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows("SELECT data FROM refusals ORDER BY id DESC LIMIT ?", (limit,))
        return [json.loads(row[0]) for row in rows]

    def search_refused(self, filters: Filters) -> list[dict[str, Any]]:
        clauses, args = _refused_where(filters)
        sql = f"SELECT data FROM refusals {clauses} ORDER BY at DESC, id DESC LIMIT ?"  # noqa: S608 - clauses are fixed strings
        return [json.loads(row[0]) for row in self._rows(sql, (*args, filters.limit))]

    def count_refused(self, filters: Filters) -> int:
        clauses, args = _refused_where(filters)
        return int(self._rows(f"SELECT COUNT(*) FROM refusals {clauses}", tuple(args))[0][0])  # noqa: S608 - clauses are fixed strings

    def outbox_get(self, key: str) -> OutboxEntry | None:
        with self._connection() as db:
            return _read_entry(db, key)

    def outbox_pending(self) -> list[OutboxEntry]:
        rows = self._rows(
            "SELECT data FROM outbox WHERE state = ? ORDER BY created_at, key LIMIT ?",
            (OutboxState.PENDING.value, outbox.PENDING_SCAN),
        )
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
            for db in self._opened:
                db.close()


def _migrate(db: sqlite3.Connection) -> None:
    """Records written before they expired get an expiry from now on."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
    if "expire_at" not in columns:
        db.execute("ALTER TABLE records ADD COLUMN expire_at TEXT")
        db.execute("UPDATE records SET expire_at = ?", (iso(utcnow() + RECORD_TTL),))
    db.execute(AFTER_MIGRATION)


def _actions(rows: list[Any]) -> list[Action]:
    return [Action.from_record(json.loads(row[0])) for row in rows]


def _put_record(db: sqlite3.Connection, kind: str, key: str, data: dict[str, Any]) -> None:
    db.execute(
        "REPLACE INTO records (kind, key, data, expire_at) VALUES (?, ?, ?, ?)",
        (kind, key, json.dumps(data), iso(utcnow() + RECORD_TTL)),
    )


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


def _where(filters: Filters, user_column: str = "") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("env", filters.env), ("target", filters.target)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if filters.user:  # one of USER_COLUMNS: an OR of both would scan the table
        clauses.append(f"{user_column} = ?")
        args.append(filters.user)
    states = filters.state_values()
    if states:
        clauses.append(f"state IN ({', '.join('?' for _ in states)})")
        args += states
    return _joined(clauses, args, "created_at", filters)


def _refused_where(filters: Filters) -> tuple[str, list[Any]]:
    clauses = [f"{REFUSAL_COLUMNS['kind']} = ?"]
    args: list[Any] = [REFUSED]
    for name, value in (("env", filters.env), ("target", filters.target), ("user", filters.user)):
        if value:
            clauses.append(f"{REFUSAL_COLUMNS[name]} = ?")
            args.append(value)
    return _joined(clauses, args, "at", filters)


def _joined(
    clauses: list[str], args: list[Any], time_column: str, filters: Filters
) -> tuple[str, list[Any]]:
    """The clauses with the time window: `since` inclusive, `before` exclusive."""
    for operator, bound in ((">=", filters.since), ("<", filters.before)):
        if bound:
            clauses.append(f"{time_column} {operator} ?")
            args.append(iso(bound))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
