"""Cloud Logging v2 (`google.logging.v2.LoggingServiceV2`): ListLogEntries over stored entries.

Entries are kept per project. Filters use the subset in `log_filter`; anything outside it
is answered INVALID_ARGUMENT. The `fluxori` seed (see `run_logs`) writes the last three
hours of Cloud Run logs in every project.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from gcp.emulator import fluxori, log_filter
from gcp.emulator.core import Faults, Handler, Method, invalid, service_handler
from gcp.emulator.run_logs import LogEntryPb, SeedWriter, default_revisions, run_entry

__all__ = ["Logs", "run_entry"]

SERVICE = "google.logging.v2.LoggingServiceV2"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PROJECT_NAME = re.compile(r"projects/([a-z][-a-z0-9]{4,28}[a-z0-9])")
_ORDERS = {"": False, "timestamp asc": False, "timestamp desc": True}

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
                names = list((revisions or {}).get(name) or default_revisions(service))
                for entry in SeedWriter(project, service, names, now).entries():
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
