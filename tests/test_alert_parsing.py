"""Monitoring incidents: schema 1.2 and 1.1, odd casing, mapping, and unreadable payloads."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from handlers import alerts
from handlers.config import FLUXORI_DEFAULTS as CONFIG
from handlers.pubsub import UnreadableAlert, parse_envelope

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_sample_push_envelope_and_incident() -> None:
    """The shared push sample parses to the open high-error-rate incident it carries."""
    envelope = parse_envelope((SAMPLES / "pubsub-push-alert-open.json").read_bytes())
    incident = alerts.parse_incident(envelope.data, CONFIG)
    assert envelope.message_id == "2070443601311540"
    assert (incident.state, incident.env, incident.service) == ("open", "prod", "fluxori-backend")
    assert (incident.runbook, incident.observed, incident.threshold) == (
        "high-error-rate",
        "17.400",
        "5",
    )
    assert incident.revision == "fluxori-backend-00042-zap"


def test_high_error_rate_buttons() -> None:
    """high-error-rate offers Show errors, Recent revisions, Roll back, then Acknowledge."""
    incident = alerts.parse_incident(encode(sample("alert-open.json")), CONFIG)
    actions = next(b for b in alerts.card(incident) if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        "alert.errors",
        "alert.revisions",
        "alert.rollback",
        "alert.ack",
    ]


def test_high_latency_and_other_runbooks() -> None:
    """high-latency and unknown runbooks get their own first steps."""
    doc = sample("alert-open.json")
    doc["incident"]["policy_user_labels"]["runbook"] = "high-latency"
    latency = alerts.parse_incident(encode(doc), CONFIG)
    doc["incident"]["policy_user_labels"]["runbook"] = "disk-full"
    other = alerts.parse_incident(encode(doc), CONFIG)
    assert [a for _, a in alerts.buttons_for(latency)] == [
        "alert.slow_requests",
        "alert.scale_up",
        "alert.errors",
    ]
    assert [a for _, a in alerts.buttons_for(other)] == ["alert.errors", "alert.status"]


def test_state_and_severity_in_any_case_and_string_values() -> None:
    """ "OPEN"/"Closed" and "CRITICAL" are read regardless of case."""
    doc = sample("alert-closed.json")
    doc["incident"]["state"] = "CLOSED"
    doc["incident"]["severity"] = "CRITICAL"
    incident = alerts.parse_incident(encode(doc), CONFIG)
    assert (incident.state, incident.severity) == ("closed", "Critical")


def test_schema_1_1_is_tolerated() -> None:
    """A 1.1 incident (no severity, no user labels, no observed values) still maps by project."""
    doc = {
        "version": "1.1",
        "incident": {
            "incident_id": "0.old",
            "resource_id": "",
            "resource_name": "fluxori-staging fluxori-frontend",
            "state": "open",
            "started_at": 1767180000,
            "ended_at": None,
            "policy_name": "frontend errors",
            "condition_name": "5xx",
            "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.old",
            "summary": "5xx above threshold",
            "resource": {
                "type": "cloud_run_revision",
                "labels": {"project_id": "fluxori-staging", "service_name": "fluxori-frontend"},
            },
        },
    }
    incident = alerts.parse_incident(encode(doc), CONFIG)
    assert (incident.env, incident.service, incident.severity) == (
        "staging",
        "fluxori-frontend",
        "No severity",
    )
    assert incident.version == "1.1"


def test_unknown_service_gets_only_acknowledge() -> None:
    """An alert for a service the bot does not manage is posted with Acknowledge only."""
    doc = sample("alert-open.json")
    doc["incident"]["policy_user_labels"]["service"] = "billing-worker"
    doc["incident"]["resource"]["labels"]["service_name"] = "billing-worker"
    incident = alerts.parse_incident(encode(doc), CONFIG)
    actions = next(b for b in alerts.card(incident) if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["alert.ack"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": {}}',
        b'{"message": {"messageId": "1", "data": "!!!notbase64"}}',
        b'{"message": "x"}',
    ],
)
def test_unreadable_envelopes(body: bytes) -> None:
    """Envelopes that can never be read raise UnreadableAlert with a reason."""
    with pytest.raises(UnreadableAlert):
        parse_envelope(body)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"incident": []}',
        b'{"incident": {"state": "open"}}',
        b'{"incident": {"incident_id": "x", "state": "pending"}}',
        b'{"version": "1.2"}',
    ],
)
def test_unreadable_incidents(data: bytes) -> None:
    """Incidents without an id or an open/closed state are unreadable, not guessed."""
    with pytest.raises(UnreadableAlert):
        alerts.parse_incident(data, CONFIG)


def test_card_respects_block_kit_limits() -> None:
    """A huge summary is clipped to Slack's section limit."""
    doc = sample("alert-open.json")
    doc["incident"]["summary"] = "x" * 10000
    blocks = alerts.card(alerts.parse_incident(encode(doc), CONFIG))
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


def test_message_id_spellings() -> None:
    """message_id (snake case) is accepted as well as messageId."""
    data = base64.b64encode(b"{}").decode()
    envelope = parse_envelope(json.dumps({"message": {"message_id": "42", "data": data}}).encode())
    assert envelope.message_id == "42"
