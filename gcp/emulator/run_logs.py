"""Cloud Run log entries: how the runtime writes them, and the `fluxori` seed's three hours.

The seed writes request logs for every service, and the runbook's error messages ("Slow
query", "Query timeout", "Transaction failed", authentication, token verification and
signed URL failures, unhandled exceptions), most of them on the newest fluxori-backend
revision in prod, which took traffic `NEWEST_LIVE_FOR` ago.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud.logging_v2.types import LogEntry
from google.protobuf.message import Message

from gcp.emulator import fluxori
from gcp.emulator.log_filter import SEVERITIES

STDOUT_LOG = "run.googleapis.com%2Fstdout"
LogEntryPb: Any = LogEntry.pb()


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
        severity=SEVERITIES[severity],
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


def default_revisions(service: str) -> list[str]:
    first = 40 if service == "fluxori-backend" else 25
    rng = random.Random(service)
    return [
        f"{service}-{number:05d}-{''.join(rng.choices('abcdefghijklmnopqrstuvwxyz', k=3))}"
        for number in range(first, first + 3)
    ]


class SeedWriter:
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
