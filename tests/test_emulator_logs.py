"""The Logging emulator through the generated LoggingServiceV2Client over gRPC."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)

from gcp.clients import Clients
from gcp.emulator import Emulator, fluxori
from gcp.emulator.logs import run_entry

PROD = "projects/fluxori-prod"
BACKEND_ERRORS = (
    'resource.type="cloud_run_revision" AND resource.labels.service_name="fluxori-backend" '
    "AND severity>=ERROR"
)


@pytest.fixture
def logging_client(clients: Clients) -> Any:
    """The generated Logging client over the emulator's channel."""
    return clients.build(LoggingServiceV2Client, LoggingServiceV2GrpcTransport)


def _list(client: Any, **request: Any) -> Any:
    request.setdefault("resource_names", [PROD])
    return client.list_log_entries(request=request, timeout=5)


def test_entries_come_newest_first_across_pages(logging_client: Any) -> None:
    """order_by "timestamp desc" with small pages yields every match once, newest first."""
    pager = _list(logging_client, filter=BACKEND_ERRORS, order_by="timestamp desc", page_size=7)
    pages = [list(page.entries) for page in pager.pages]
    entries = [entry for page in pages for entry in page]
    everything = list(_list(logging_client, filter=BACKEND_ERRORS, page_size=1000))
    assert len(pages) > 2
    assert all(len(page) == 7 for page in pages[:-1])
    assert len(entries) == len(everything)
    assert len({entry.insert_id for entry in entries}) == len(entries)
    stamps = [entry.timestamp for entry in entries]
    assert stamps == sorted(stamps, reverse=True)


def test_default_order_is_oldest_first(logging_client: Any) -> None:
    """Without order_by, entries come in ascending timestamp order, as the API's default."""
    stamps = [e.timestamp for e in _list(logging_client, filter=BACKEND_ERRORS, page_size=1000)]
    assert stamps == sorted(stamps)


def test_filter_outside_the_subset_is_invalid_argument(logging_client: Any) -> None:
    """An OR filter is refused with INVALID_ARGUMENT naming OR, not answered approximately."""
    with pytest.raises(gexc.InvalidArgument, match="OR"):
        list(_list(logging_client, filter='severity>=ERROR OR severity="INFO"'))


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"resource_names": ["organizations/123"]}, "projects/PROJECT_ID"),
        ({"resource_names": []}, "resource_names"),
        ({"order_by": "severity desc"}, "order_by"),
        ({"page_size": 5000}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
    ],
)
def test_malformed_requests_are_invalid_argument(
    logging_client: Any, request_fields: dict[str, Any], named: str
) -> None:
    """Unsupported resource names, orderings, page sizes and tokens are INVALID_ARGUMENT."""
    with pytest.raises(gexc.InvalidArgument, match=named):
        list(_list(logging_client, **request_fields))


def test_written_entry_is_listed_with_its_fields(emulator: Emulator, logging_client: Any) -> None:
    """Logs.write appends an entry that ListLogEntries then returns with its payload."""
    at = datetime.now(UTC) + timedelta(seconds=1)
    entry = run_entry(
        "fluxori-dev",
        "fluxori-backend",
        "fluxori-backend-00099-zzz",
        severity="CRITICAL",
        message="Unhandled exception in test",
        at=at,
        fields={"path": "/api/test"},
        status=500,
        latency_ms=42,
    )
    insert_id = emulator.logs.write("fluxori-dev", entry)
    found = list(
        _list(
            logging_client,
            resource_names=["projects/fluxori-dev"],
            filter='resource.labels.revision_name="fluxori-backend-00099-zzz"',
        )
    )
    assert [e.insert_id for e in found] == [insert_id]
    assert found[0].json_payload["path"] == "/api/test"
    assert found[0].http_request.status == 500


def test_seed_covers_every_project_and_service(logging_client: Any) -> None:
    """Each project has recent INFO to CRITICAL entries for both services."""
    since = datetime.now(UTC) - timedelta(minutes=15)
    for project in fluxori.PROJECTS:
        for service in fluxori.SERVICES:
            query = f'resource.labels.service_name="{service}"'
            entries = list(
                _list(
                    logging_client,
                    resource_names=[f"projects/{project}"],
                    filter=query,
                    page_size=1000,
                )
            )
            severities = {int(e.severity) for e in entries}
            assert {200, 500} <= severities, (project, service)
            assert any(e.timestamp >= since for e in entries), (project, service)
            assert all(e.resource.type == "cloud_run_revision" for e in entries)


def test_seed_concentrates_errors_on_newest_prod_backend_revision(logging_client: Any) -> None:
    """Most prod backend errors name one revision: the newest one."""
    errors = list(_list(logging_client, filter=BACKEND_ERRORS, page_size=1000))
    by_revision = Counter(e.resource.labels["revision_name"] for e in errors)
    newest, count = by_revision.most_common(1)[0]
    assert count > len(errors) / 2
    assert newest == max(by_revision)  # revision names sort by their number
