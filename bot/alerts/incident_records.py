"""An incident's record in the store: the card it is on (its own, or its group's)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from handlers.alert_evidence import AlertEvidence
from handlers.alerts import Incident

RECORD = "alert"


def dump(incident: Incident) -> dict[str, Any]:
    data = asdict(incident)
    for key in ("started_at", "ended_at"):
        data[key] = data[key].timestamp() if data[key] else None
    # Firestore rejects arrays nested in arrays: each link is a map
    data["links"] = [{"name": name, "url": url} for name, url in incident.links]
    return data


def load(data: dict[str, Any]) -> Incident:
    fields = dict(data)
    for key in ("started_at", "ended_at"):
        fields[key] = datetime.fromtimestamp(fields[key], UTC) if fields.get(key) else None
    fields["links"] = tuple(_link(link) for link in fields.get("links", ()))
    return Incident(**fields)


def _link(link: Any) -> tuple[str, str]:
    """A stored link: a map, or a [name, url] pair in records written before."""
    if isinstance(link, dict):
        return str(link.get("name", "")), str(link.get("url", ""))
    name, url = link
    return str(name), str(url)


def record_fields(evidence: AlertEvidence | None) -> dict[str, object]:
    """What the alert's record keeps, so the card is drawn the same way again (Acknowledge)."""
    return {"evidence": evidence.to_record()} if evidence else {}


def stored(record: dict[str, object]) -> AlertEvidence | None:
    return AlertEvidence.from_record(record.get("evidence"))
