"""Cloud Logging v2 adapter: reads entries with the generated `LoggingServiceV2Client`.

`google.cloud.logging.Client` silently adds `timestamp>=now-24h` to filters without one;
the generated client sends the filter as given, and this adapter adds the window itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)
from google.cloud.logging_v2.types import LogEntry as LogEntryMessage
from google.protobuf.json_format import MessageToDict

from gcp.clients import Clients
from gcp.errors import translated
from gcp.models import LogEntry

MAX_PAGE_SIZE = 1000


class LoggingAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _client(self) -> Any:
        return self._clients.get(
            "logging",
            lambda: self._clients.build(LoggingServiceV2Client, LoggingServiceV2GrpcTransport),
        )

    def list_entries(
        self,
        project: str,
        filter_: str,
        *,
        since: timedelta,
        limit: int,
        until: datetime | None = None,
    ) -> list[LogEntry]:
        """Up to `limit` entries matching `filter_` in [until - since, until], newest first."""
        end = until or datetime.now(UTC)
        found = self.messages(project, windowed(filter_, end - since, end), limit)
        return [to_entry(message) for message in found]

    def messages(
        self, project: str, filter_: str, limit: int, order_by: str = "timestamp desc"
    ) -> list[Any]:
        """Up to `limit` of the Logging API's own LogEntry messages (proto-plus) matching
        `filter_` as given (with its own time window), for readers of other payloads."""
        if limit <= 0:
            return []
        settings = self._clients.settings
        request = {
            "resource_names": [f"projects/{project}"],
            "filter": filter_,
            "order_by": order_by,
            "page_size": max(1, min(limit, MAX_PAGE_SIZE)),
        }
        found: list[Any] = []
        with translated(f"Reading logs of {project}"):
            pager = self._client().list_log_entries(
                request=request, retry=settings.retry(), timeout=settings.timeout
            )
            for message in pager:
                found.append(message)
                if len(found) >= limit:
                    break  # before the pager fetches another page
        return found


def windowed(filter_: str, start: datetime, end: datetime) -> str:
    window = f'timestamp>="{_rfc3339(start)}" AND timestamp<="{_rfc3339(end)}"'
    return f"({filter_}) AND {window}" if filter_.strip() else window


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_entry(message: Any) -> LogEntry:
    """The project's LogEntry from a Logging v2 LogEntry (proto-plus)."""
    pb = LogEntryMessage.pb(message)
    labels = pb.resource.labels
    payload: dict[str, object] = (
        MessageToDict(pb.json_payload) if pb.HasField("json_payload") else {}
    )
    message_text = str(payload.get("message", "")) if payload else pb.text_payload
    return LogEntry(
        timestamp=pb.timestamp.ToDatetime(UTC),
        severity=_severity_name(pb.severity),
        message=message_text,
        service=labels.get("service_name", ""),
        revision=labels.get("revision_name", ""),
        log_name=pb.log_name,
        insert_id=pb.insert_id,
        trace=pb.trace,
        status=_status(pb, payload),
        latency_ms=_latency_ms(pb, payload),
        payload=payload,
    )


def _severity_name(number: int) -> str:
    severity = LogEntryMessage.pb().DESCRIPTOR.fields_by_name["severity"].enum_type
    value = severity.values_by_number.get(number)
    return str(value.name) if value is not None else str(number)


def _status(pb: Any, payload: dict[str, object]) -> int | None:
    if pb.HasField("http_request") and pb.http_request.status:
        return int(pb.http_request.status)
    code = payload.get("statusCode")
    return int(code) if isinstance(code, int | float) else None


def _latency_ms(pb: Any, payload: dict[str, object]) -> float | None:
    if pb.HasField("http_request") and pb.http_request.HasField("latency"):
        return float(pb.http_request.latency.ToTimedelta().total_seconds() * 1000)
    response_time = payload.get("responseTime")
    return float(response_time) if isinstance(response_time, int | float) else None
