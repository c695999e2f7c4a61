"""An action record and its states: pending -> approved -> running -> succeeded | failed;
pending -> cancelled | expired; approved -> not-started (released by the sweep)."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"
    REFUSED = "refused"
    NOT_STARTED = "not-started"  # approved, but no worker ever started it: nothing changed


TERMINAL = frozenset(
    {
        State.SUCCEEDED,
        State.FAILED,
        State.CANCELLED,
        State.EXPIRED,
        State.INTERRUPTED,
        State.REFUSED,
        State.NOT_STARTED,
    }
)
ACTIVE = frozenset({State.APPROVED, State.RUNNING})


def new_id(now: datetime) -> str:
    """Random-first ids spread Firestore writes (no hotspot); the date helps people."""
    return f"{secrets.token_hex(4)}-{now:%Y%m%d}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One line of the audit trail: request, plan, approval, refusal, step, outcome."""

    at: datetime
    kind: str
    by: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Action:
    id: str
    verb: str
    env: str
    target: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    state: State = State.PENDING
    params: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    channel: str = ""
    thread_ts: str = ""
    card_ts: str = ""
    alert_id: str = ""
    approved_by: str = ""
    cancelled_by: str = ""
    approved_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    outcome: str = ""
    applied: bool | None = None  # False: finished without touching the target (a stale plan)
    events: tuple[Event, ...] = ()

    @property
    def lock_key(self) -> str:
        """Changes to one target in one environment run one at a time."""
        return f"{self.env}:{self.target}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def moved(self, state: State, event: Event | None, fields: dict[str, Any]) -> Action:
        """This action in `state`, with `event` appended and `fields` set."""
        events = (*self.events, event) if event else self.events
        return replace(self, state=state, events=events, **fields)

    def to_record(self) -> dict[str, Any]:
        """JSON-safe: datetimes as ISO-8601 UTC strings, which also sort correctly."""
        data = asdict(self)
        data["state"] = self.state.value
        for key in _TIMES:
            data[key] = _iso(data[key])
        data["events"] = [event_record(e) for e in self.events]
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Action:
        data = dict(data)
        data["state"] = State(data["state"])
        for key in _TIMES:
            data[key] = parse_time(data.get(key))
        data["events"] = tuple(
            Event(parse_time(e["at"]) or utcnow(), e["kind"], e.get("by", ""), e.get("detail", ""))
            for e in data.get("events", ())
        )
        return cls(**data)


_TIMES = ("created_at", "expires_at", "approved_at", "started_at", "finished_at", "heartbeat_at")


def event_record(event: Event) -> dict[str, Any]:
    return {"at": _iso(event.at), "kind": event.kind, "by": event.by, "detail": event.detail}


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(when: datetime | None) -> str | None:
    return iso(when) if when else None


def parse_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) if text else None
