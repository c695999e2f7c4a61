"""What a diagnosis reads: audit log entries, per-revision health, and the queries behind them.

Kept apart from the adapters so the handlers can use them without loading the client libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Query:
    """A filter that was read, and a console page showing the same data."""

    filter: str
    console_url: str


@dataclass(frozen=True)
class AuditEntry:
    """One Admin Activity entry of Cloud Audit Logs."""

    timestamp: datetime
    method: str  # e.g. google.cloud.run.v2.Services.UpdateService
    resource: str  # e.g. projects/P/locations/R/services/S
    principal: str  # the caller's email; "" when Google withholds it

    @property
    def verb(self) -> str:
        """The method's last part, e.g. UpdateService."""
        return self.method.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Window:
    """Requests one revision answered in [start, end)."""

    start: datetime
    end: datetime
    requests: float
    errors: float  # answered 5xx

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class RevisionHealth:
    """One revision's requests over a window: when it served, its 5xx rate and p95 latency."""

    revision: str
    windows: tuple[Window, ...]  # oldest first, only those with requests
    latency_p95_ms: float | None

    @property
    def requests(self) -> float:
        return sum(w.requests for w in self.windows)

    @property
    def error_rate(self) -> float:
        total = self.requests
        return sum(w.errors for w in self.windows) / total if total else 0.0

    @property
    def first_served(self) -> datetime | None:
        return self.windows[0].start if self.windows else None

    @property
    def last_served(self) -> datetime | None:
        return self.windows[-1].end if self.windows else None


@dataclass(frozen=True)
class HealthReport:
    """Every revision that served in a window, and the Monitoring queries that said so."""

    revisions: tuple[RevisionHealth, ...]
    queries: tuple[Query, ...]
    step_seconds: int
