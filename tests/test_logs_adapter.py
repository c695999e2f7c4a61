"""LoggingAdapter and the runbook's log presets against the seeded Logging emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import grpc
import pytest

from gcp import errors
from gcp.clients import Clients
from gcp.emulator import Emulator
from gcp.emulator.logs import run_entry
from gcp.log_queries import PRESETS, build_filter, iso_duration, logs_explorer_url
from gcp.logs import LoggingAdapter

PROD = "fluxori-prod"
BACKEND = "fluxori-backend"
PRESET_FINDS = {
    "errors": lambda e: e.severity in ("ERROR", "CRITICAL"),
    "slow-queries": lambda e: e.message == "Slow query" or "query took" in e.message,
    "query-timeouts": lambda e: e.message == "Query timeout",
    "transaction-failures": lambda e: e.message == "Transaction failed",
    "auth": lambda e: e.message.startswith("Authentication failed for user"),
    "token-verification": lambda e: e.message == "Token verification failed: jwt expired",
    "signed-url": lambda e: e.message.startswith("Signed URL generation failed"),
    "slow-requests": lambda e: e.latency_ms is not None and e.latency_ms > 1000,
}


@pytest.fixture
def adapter(clients: Clients) -> LoggingAdapter:
    """The bot's Logging adapter over the emulator."""
    return LoggingAdapter(clients)


def test_every_preset_has_a_check() -> None:
    """The table below covers every preset the bot offers."""
    assert set(PRESET_FINDS) == set(PRESETS)


@pytest.mark.parametrize("preset", sorted(PRESET_FINDS))
def test_preset_finds_the_seeded_runbook_messages(adapter: LoggingAdapter, preset: str) -> None:
    """Each runbook query finds its seeded messages in prod, and only those."""
    found = adapter.list_entries(
        PROD, build_filter(BACKEND, preset), since=timedelta(hours=3), limit=200
    )
    assert found
    assert all(PRESET_FINDS[preset](entry) for entry in found)
    assert {entry.service for entry in found} == {BACKEND}


def test_entries_are_newest_first_limited_and_windowed(adapter: LoggingAdapter) -> None:
    """list_entries returns at most `limit` entries of the last `since`, newest first."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    found = adapter.list_entries(
        PROD, build_filter(BACKEND, "errors"), since=timedelta(minutes=30), limit=5
    )
    stamps = [entry.timestamp for entry in found]
    assert len(found) == 5
    assert stamps == sorted(stamps, reverse=True)
    assert min(stamps) >= start


def test_until_reads_an_older_window(adapter: LoggingAdapter) -> None:
    """With `until`, only entries in [until - since, until] come back."""
    until = datetime.now(UTC) - timedelta(hours=2)
    found = adapter.list_entries(
        PROD, build_filter(BACKEND, "errors"), since=timedelta(hours=1), limit=500, until=until
    )
    assert found
    assert all(until - timedelta(hours=1) <= entry.timestamp <= until for entry in found)


def _write_dev(emulator: Emulator, revision: str, message: str, **extra: Any) -> None:
    at = datetime.now(UTC) - timedelta(seconds=5)
    entry = run_entry(
        "fluxori-dev", BACKEND, revision, severity="WARNING", message=message, at=at, **extra
    )
    emulator.logs.write("fluxori-dev", entry)


def test_entry_fields_come_from_http_request_or_payload(
    emulator: Emulator, adapter: LoggingAdapter
) -> None:
    """Status/latency come from httpRequest, else jsonPayload; text payloads are messages."""
    revision = "fluxori-backend-00077-tst"
    _write_dev(emulator, revision, "GET / 502", status=502, latency_ms=2500)
    _write_dev(emulator, revision, "GET /x 200", fields={"statusCode": 200, "responseTime": 1500})
    _write_dev(emulator, revision, "plain text line", text_payload=True)
    found = adapter.list_entries(
        "fluxori-dev",
        f'resource.labels.revision_name="{revision}"',
        since=timedelta(minutes=1),
        limit=10,
    )
    by_message = {entry.message: entry for entry in found}
    assert (by_message["GET / 502"].status, by_message["GET / 502"].latency_ms) == (502, 2500)
    assert (by_message["GET /x 200"].status, by_message["GET /x 200"].latency_ms) == (200, 1500)
    text = by_message["plain text line"]
    assert (text.status, text.latency_ms, text.payload) == (None, None, {})
    assert (text.severity, text.service, text.revision) == ("WARNING", BACKEND, revision)


def test_quota_exhaustion_is_reported_as_quota_exceeded(
    emulator: Emulator, adapter: LoggingAdapter
) -> None:
    """RESOURCE_EXHAUSTED from Logging becomes QuotaExceeded once retries run out."""
    emulator.faults.inject("ListLogEntries", code=grpc.StatusCode.RESOURCE_EXHAUSTED, times=10_000)
    with pytest.raises(errors.QuotaExceeded, match="Reading logs of fluxori-prod"):
        adapter.list_entries(PROD, "severity>=ERROR", since=timedelta(hours=1), limit=5)


def test_rejected_filter_is_reported_as_invalid_argument(adapter: LoggingAdapter) -> None:
    """A filter the API rejects surfaces as InvalidArgument carrying Google's reason."""
    with pytest.raises(errors.InvalidArgument, match="OR"):
        adapter.list_entries(PROD, "severity>=ERROR OR x=1", since=timedelta(hours=1), limit=5)


@pytest.mark.parametrize(
    "service",
    [
        'fluxori-backend" OR "x',
        'fluxori-backend"',
        "fluxori-backend AND severity>=DEBUG",
        "fluxori-backend\n",
        "Fluxori-Backend",
        "-backend",
        "backend-",
        "1backend",
        "",
        "a" * 64,
        "fluxori_backend",
    ],
)
def test_build_filter_rejects_unsafe_service_names(service: str) -> None:
    """Only valid Cloud Run service names reach a filter: no filter injection."""
    with pytest.raises(ValueError, match="Cloud Run service name"):
        build_filter(service, "errors")


def test_build_filter_rejects_unknown_presets() -> None:
    """A preset outside the runbook's list is refused with the valid choices."""
    with pytest.raises(ValueError, match="slow-queries"):
        build_filter(BACKEND, 'errors" OR "x')


def test_build_filter_scopes_to_the_cloud_run_service() -> None:
    """The filter names the resource type and service, then the preset's condition."""
    assert build_filter("a", "slow-requests") == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="a" '
        "AND jsonPayload.responseTime>1000"
    )


def test_logs_explorer_url_carries_query_window_and_project() -> None:
    """The console link encodes the filter and the window as an ISO 8601 duration."""
    query = build_filter(BACKEND, "errors")
    url = logs_explorer_url(PROD, query, timedelta(hours=1, minutes=30))
    assert url.startswith("https://console.cloud.google.com/logs/query;query=")
    assert unquote(url.split(";query=")[1].split(";")[0]) == query
    assert ";duration=PT1H30M?project=fluxori-prod" in url
    with pytest.raises(ValueError, match="project id"):
        logs_explorer_url("x/../y", query, timedelta(hours=1))


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(hours=1), "PT1H"),
        (timedelta(minutes=15), "PT15M"),
        (timedelta(days=1), "P1D"),
        (timedelta(days=2, hours=3), "P2DT3H"),
        (timedelta(seconds=0), "PT1S"),
    ],
)
def test_iso_duration(span: timedelta, text: str) -> None:
    """Windows render as ISO 8601 durations for the console."""
    assert iso_duration(span) == text
