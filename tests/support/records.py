"""Action records made in bulk, for history tests and the history benchmark."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Action, State
from tests.support.slack import ALICE, BOB

START = datetime(2026, 1, 1, tzinfo=UTC)


def record(n: int, **fields: Any) -> Action:
    """A finished scale of min instances 1 -> 3, `n` seconds after START."""
    values: dict[str, Any] = {
        "id": f"h{n:06d}",
        "verb": "scale",
        "env": "prod",
        "target": "fluxori-backend",
        "requested_by": ALICE,
        "approved_by": BOB,
        "created_at": START + timedelta(seconds=n),
        "expires_at": START + timedelta(seconds=n, minutes=15),
        "state": State.SUCCEEDED,
        "summary": f"scale #{n:02d}",
        "plan": {"changes": [{"what": "min instances", "before": "1", "after": "3"}]},
    }
    values.update(fields)
    return Action(**values)


def seed_sqlite(path: str, count: int, start: datetime) -> None:
    """`count` actions by 50 other users, one a second from `start`, written inside SQLite
    (a Python loop would spend a minute here), each a record the store can read back."""
    proto = json.dumps(record(0).to_record())
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute(
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count),
        rows AS (SELECT 'bulk' || i AS id, 'U_BULK' || (i % 50) AS user,
          strftime('%Y-%m-%dT%H:%M:%f000Z', :start, '+' || i || ' seconds') AS at FROM n)
        INSERT INTO actions (id, env, target, state, requested_by, approved_by, created_at,
          expires_at, heartbeat_at, data)
        SELECT id, 'prod', 'fluxori-backend', 'succeeded', user, :approver, at, at, NULL,
          json_set(:proto, '$.id', id, '$.requested_by', user, '$.created_at', at) FROM rows""",
        {"count": count, "start": f"{start:%Y-%m-%d %H:%M:%S}", "proto": proto, "approver": BOB},
    )
    db.execute("COMMIT")
    db.close()
