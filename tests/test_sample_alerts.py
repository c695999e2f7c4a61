"""The sandbox's sample alerts as pushed: current times, the serving revision, one incident per
"open" and its "closed"."""

from __future__ import annotations

from bot.dev.sample_alerts import ASSUMED_DURATION_S, SampleAlerts
from bot.dev.sandbox import SAMPLES

NOW = 1_800_000_000


def samples(revision: str | None = "fluxori-backend-00038-xqa") -> SampleAlerts:
    return SampleAlerts(SAMPLES, lambda *_: revision, clock=lambda: NOW)


def test_each_open_is_a_new_incident_and_closed_ends_the_last_one() -> None:
    alerts = samples()
    first = alerts.incident("high-error-rate-open")["incident"]
    second = alerts.incident("high-error-rate-open")["incident"]
    closed = alerts.incident("high-error-rate-closed")["incident"]
    assert first["incident_id"] != second["incident_id"]
    assert (closed["incident_id"], closed["started_at"], closed["ended_at"]) == (
        second["incident_id"],
        NOW,
        NOW,
    )
    assert second["incident_id"] in second["url"]
    assert (first["state"], first["ended_at"], closed["state"]) == ("open", None, "closed")


def test_the_revision_is_the_one_serving() -> None:
    incident = samples().incident("high-latency-open")["incident"]
    assert incident["resource"]["labels"]["revision_name"] == "fluxori-backend-00038-xqa"
    assert incident["resource_display_name"] == "fluxori-backend-00038-xqa"
    assert incident["resource_name"] == "fluxori-prod fluxori-backend-00038-xqa"


def test_without_a_serving_revision_the_samples_revision_stays() -> None:
    incident = samples(revision=None).incident("high-latency-open")["incident"]
    assert incident["resource"]["labels"]["revision_name"] == "fluxori-backend-00042-zap"


def test_closed_with_nothing_open_is_a_short_incident_ending_now() -> None:
    incident = samples().incident("high-latency-closed")["incident"]
    assert (incident["started_at"], incident["ended_at"]) == (NOW - ASSUMED_DURATION_S, NOW)
    assert incident["incident_id"] == "0.lat7q2hk4c1bb"
