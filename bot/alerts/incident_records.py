"""An incident's record in the store: the card it is on (its own, or its group's)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from handlers.alerts import Incident

RECORD = "alert"


def dump(incident: Incident) -> dict[str, Any]:
    data = asdict(incident)
    for key in ("started_at", "ended_at"):
        data[key] = data[key].timestamp() if data[key] else None
    return data


def load(data: dict[str, Any]) -> Incident:
    fields = dict(data)
    for key in ("started_at", "ended_at"):
        fields[key] = datetime.fromtimestamp(fields[key], UTC) if fields.get(key) else None
    fields["links"] = tuple(tuple(link) for link in fields.get("links", ()))
    return Incident(**fields)
