"""Cloud Logging v2 (`google.logging.v2.LoggingServiceV2`): ListLogEntries over stored entries.

Entries are kept per project. Filters use the subset in `log_filter`; anything outside it
is answered INVALID_ARGUMENT. The `fluxori` seed writes the last three hours of Cloud Run
logs: request logs, and the runbook's error messages, most of them on the newest
fluxori-backend revision in prod.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse, LogEntry
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from gcp.emulator import fluxori, log_filter
from gcp.emulator.core import Faults, Handler, Method, invalid, service_handler

SERVICE = "google.logging.v2.LoggingServiceV2"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
STDOUT_LOG = "run.googleapis.com%2Fstdout"
_PROJECT_NAME = re.compile(r"projects/([a-z][-a-z0-9]{4,28}[a-z0-9])")
_ORDERS = {"": False, "timestamp asc": False, "timestamp desc": True}

LogEntryPb: Any = LogEntry.pb()
_RequestPb: Any = ListLogEntriesRequest.pb()
_ResponsePb: Any = ListLogEntriesResponse.pb()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Stored:
    entry: Message
    doc: dict[str, Any]  # the JSON form the filter is evaluated on
    timestamp: datetime
    seq: int


def run_entry(
    project: str,
    service: str,
    revision: str,
    *,
    severity: str,
    message: str,
    at: datetime,
    fields: Mapping[str, object] | None = None,
    status: int | None = None,
    latency_ms: float | None = None,
    text_payload: bool = False,
    region: str = fluxori.REGION,
) -> Message:
    """A Cloud Run revision's log entry, as the Cloud Run runtime writes it."""
    entry = LogEntryPb(
        log_name=f"projects/{project}/logs/{STDOUT_LOG}",
        severity=log_filter.SEVERITIES[severity],
    )
    entry.resource.type = "cloud_run_revision"
    entry.resource.labels.update(
        {
            "project_id": project,
            "service_name": service,
            "revision_name": revision,
            "configuration_name": service,
            "location": region,
        }
    )
    entry.timestamp.FromDatetime(at)
    if text_payload:
        entry.text_payload = message
    else:
        entry.json_payload.update({"message": message, **(fields or {})})
    if status is not None or latency_ms is not None:
        entry.http_request.status = status or 0
        if latency_ms is not None:
            entry.http_request.latency.FromMilliseconds(round(latency_ms))
    return entry  # type: ignore[no-any-return]


class Logs:
    """Stored log entries per project and the ListLogEntries RPC over them."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, list[_Stored]] = {}
        self._seq = 0

    def write(self, project: str, entry: Message) -> str:
        """Store a copy of `entry` (a LogEntry protobuf) in `project`; returns its insertId."""
        stored = LogEntryPb()
        stored.CopyFrom(entry)
        with self._lock:
            self._seq += 1
            if not stored.insert_id:
                stored.insert_id = f"{self._seq:012x}"
            if not stored.HasField("timestamp"):
                stored.timestamp.FromDatetime(self.clock())
            if not stored.HasField("receive_timestamp"):
                stored.receive_timestamp.CopyFrom(stored.timestamp)
            record = _Stored(
                stored, MessageToDict(stored), stored.timestamp.ToDatetime(UTC), self._seq
            )
            self._entries.setdefault(project, []).append(record)
        return str(stored.insert_id)

    def count(self, project: str) -> int:
        with self._lock:
            return len(self._entries.get(project, []))

    def seed_fluxori(self, revisions: Mapping[str, Sequence[str]] | None = None) -> None:
        """The last three hours of Fluxori logs in every project.

        `revisions` maps a service's full name (projects/P/locations/R/services/S) to its
        revision names, oldest first, so that log entries name revisions Cloud Run knows.
        """
        now = self.clock()
        for project in fluxori.PROJECTS:
            for service in fluxori.SERVICES:
                name = f"projects/{project}/locations/{fluxori.REGION}/services/{service}"
                names = list((revisions or {}).get(name) or _default_revisions(service))
                for entry in _SeedWriter(project, service, names, now).entries():
                    self.write(project, entry)

    def handlers(self, faults: Faults) -> list[Handler]:
        methods = {"ListLogEntries": Method(_RequestPb, self.list_log_entries)}
        return [service_handler(SERVICE, methods, faults)]

    def list_log_entries(self, request: Any) -> Message:
        projects = [_project_of(name) for name in request.resource_names]
        if not projects:
            raise invalid("resource_names is empty; name at least one projects/PROJECT_ID")
        descending = _descending(request.order_by)
        page_size = _page_size(request.page_size)
        offset = _offset(request.page_token)
        try:
            query = log_filter.parse(request.filter)
        except log_filter.FilterError as err:
            raise invalid(f"invalid filter: {err}") from None
        matching = sorted(
            (s for s in self._snapshot(projects) if query.matches(s.doc)),
            key=lambda s: (s.timestamp, s.seq),
            reverse=descending,
        )
        page = matching[offset : offset + page_size]
        response = _ResponsePb()
        response.entries.extend(s.entry for s in page)
        if offset + page_size < len(matching):
            response.next_page_token = f"offset-{offset + page_size}"
        return response  # type: ignore[no-any-return]

    def _snapshot(self, projects: list[str]) -> list[_Stored]:
        with self._lock:
            return [
                s for project in dict.fromkeys(projects) for s in self._entries.get(project, [])
            ]


def _project_of(resource_name: str) -> str:
    match = _PROJECT_NAME.fullmatch(resource_name)
    if match is None:
        raise invalid(
            f"resource name {resource_name!r} is not supported; use projects/PROJECT_ID "
            "(folders, organizations, billing accounts and log views are not emulated)"
        )
    return match.group(1)


def _descending(order_by: str) -> bool:
    if order_by not in _ORDERS:
        raise invalid(f'order_by {order_by!r} is invalid; use "timestamp asc" or "timestamp desc"')
    return _ORDERS[order_by]


def _page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise invalid(f"page_size {requested} is out of range 0..{MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def _offset(token: str) -> int:
    if not token:
        return 0
    match = re.fullmatch(r"offset-(\d+)", token)
    if match is None:
        raise invalid(f"page_token {token!r} was not issued by this server")
    return int(match.group(1))


# --- the fluxori seed ---------------------------------------------------------------------

NEWEST_LIVE_FOR = timedelta(minutes=70)  # the newest revision took traffic this long ago
SEED_SPAN = timedelta(hours=3)
RECENT = timedelta(minutes=15)


@dataclass(frozen=True)
class ErrorTemplate:
    severity: str
    message: str
    fields: Mapping[str, object]


BACKEND_ERRORS = (
    ErrorTemplate("ERROR", "Slow query", {"collection": "products", "durationMs": 2840}),
    ErrorTemplate(
        "WARNING", "Firestore query took 2350ms", {"collection": "orders", "durationMs": 2350}
    ),
    ErrorTemplate("ERROR", "Query timeout", {"collection": "orders", "timeoutMs": 30000}),
    ErrorTemplate(
        "ERROR",
        "Transaction failed",
        {"error": "ABORTED: too much contention on these documents; please try again"},
    ),
    ErrorTemplate(
        "ERROR", "Authentication failed for user u-48213", {"reason": "invalid credentials"}
    ),
    ErrorTemplate("ERROR", "Token verification failed: jwt expired", {"tokenAgeSeconds": 90210}),
    ErrorTemplate(
        "ERROR",
        "Signed URL generation failed",
        {"bucket": "fluxori-uploads", "error": "iam.serviceAccounts.signBlob denied"},
    ),
    ErrorTemplate(
        "CRITICAL",
        "Unhandled exception in POST /api/orders: TypeError: Cannot read properties of "
        "undefined (reading 'organizationId')\n    at createOrder (/app/dist/orders.js:88:31)",
        {"path": "/api/orders"},
    ),
)
FRONTEND_ERRORS = (
    ErrorTemplate(
        "ERROR",
        "Upstream request failed: 503 from fluxori-backend /api/products",
        {"upstream": "fluxori-backend"},
    ),
    ErrorTemplate(
        "ERROR",
        "Unhandled exception during server render of /dashboard: "
        "ReferenceError: window is not defined",
        {"path": "/dashboard"},
    ),
    ErrorTemplate("WARNING", "Slow page render", {"path": "/products", "renderMs": 1900}),
)
PATHS = {
    "fluxori-backend": ("/api/products", "/api/orders", "/api/inventory", "/api/auth/refresh"),
    "fluxori-frontend": ("/", "/dashboard", "/products", "/orders"),
}


def _default_revisions(service: str) -> list[str]:
    first = 40 if service == "fluxori-backend" else 25
    rng = random.Random(service)
    return [
        f"{service}-{number:05d}-{''.join(rng.choices('abcdefghijklmnopqrstuvwxyz', k=3))}"
        for number in range(first, first + 3)
    ]


class _SeedWriter:
    """Deterministic log entries of one service in one project, ending at `now`."""

    def __init__(self, project: str, service: str, revisions: list[str], now: datetime) -> None:
        self.project = project
        self.service = service
        self.newest = revisions[-1]
        self.previous = revisions[-2] if len(revisions) > 1 else revisions[-1]
        self.now = now
        self.rng = random.Random(f"{project}/{service}")
        self.degraded = project == "fluxori-prod" and service == "fluxori-backend"

    def entries(self) -> list[Message]:
        return self._requests() + self._errors()

    def _revision_at(self, at: datetime) -> str:
        return self.newest if at >= self.now - NEWEST_LIVE_FOR else self.previous

    def _requests(self) -> list[Message]:
        out = []
        at = self.now - SEED_SPAN
        while at < self.now:
            out.append(self._request(at))
            at += timedelta(seconds=self.rng.uniform(150, 330))
        return out

    def _request(self, at: datetime) -> Message:
        revision = self._revision_at(at)
        unhealthy = self.degraded and revision == self.newest
        median = 1800.0 if unhealthy else 120.0
        latency = median * self.rng.lognormvariate(0, 0.5)
        failed = self.rng.random() < (0.12 if unhealthy else 0.01)
        status = self.rng.choice((500, 503)) if failed else 200
        method = "POST" if self.rng.random() < 0.2 else "GET"
        path = self.rng.choice(PATHS[self.service])
        return run_entry(
            self.project,
            self.service,
            revision,
            severity="ERROR" if failed else ("WARNING" if latency > 1000 else "INFO"),
            message=f"{method} {path} {status}",
            at=at,
            fields={
                "method": method,
                "path": path,
                "statusCode": status,
                "responseTime": round(latency),
            },
            status=status,
            latency_ms=latency,
        )

    def _errors(self) -> list[Message]:
        templates = BACKEND_ERRORS if self.service == "fluxori-backend" else FRONTEND_ERRORS
        out = []
        for template in templates:
            for at, revision in self._error_times():
                out.append(
                    run_entry(
                        self.project,
                        self.service,
                        revision,
                        severity=template.severity,
                        message=template.message,
                        at=at,
                        fields=template.fields,
                    )
                )
        return out

    def _error_times(self) -> list[tuple[datetime, str]]:
        """Healthy: one old and one recent occurrence; degraded: a burst on the newest."""
        recent = self.now - timedelta(seconds=self.rng.uniform(30, RECENT.total_seconds()))
        if not self.degraded:
            old = self.now - timedelta(seconds=self.rng.uniform(2, 3) * 3600)
            return [(old, self._revision_at(old)), (recent, self._revision_at(recent))]
        live = NEWEST_LIVE_FOR.total_seconds() - 60
        burst = [self.now - timedelta(seconds=self.rng.uniform(60, live)) for _ in range(4)]
        before = self.now - timedelta(seconds=self.rng.uniform(live + 120, 3 * 3600))
        return [(before, self.previous), (recent, self.newest)] + [
            (at, self.newest) for at in burst
        ]
