"""The runbook's `gcloud logging read` queries as data, and a filter builder that cannot be
injected into: the service name must be a valid Cloud Run name and the preset a known one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
PROJECT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")
CONSOLE_LOGS = "https://console.cloud.google.com/logs/query"


@dataclass(frozen=True)
class LogPreset:
    name: str
    description: str
    condition: str  # ANDed with the service's resource clause


PRESETS: dict[str, LogPreset] = {
    preset.name: preset
    for preset in (
        LogPreset("errors", "Entries at severity ERROR or above.", "severity>=ERROR"),
        LogPreset(
            "slow-queries",
            'Database queries the backend logged as "Slow query" or "query took …".',
            'jsonPayload.message=~"^Slow query$|query took"',
        ),
        LogPreset(
            "query-timeouts",
            'Database queries that timed out ("Query timeout").',
            'jsonPayload.message="Query timeout"',
        ),
        LogPreset(
            "transaction-failures",
            'Firestore transactions that failed ("Transaction failed").',
            'jsonPayload.message="Transaction failed"',
        ),
        LogPreset(
            "auth",
            "Authentication failures (messages containing “Authentication”).",
            'jsonPayload.message=~"Authentication"',
        ),
        LogPreset(
            "token-verification",
            "JWT verification failures (messages containing “Token verification”).",
            'jsonPayload.message=~"Token verification"',
        ),
        LogPreset(
            "signed-url",
            "Signed URL generation problems (messages containing “Signed URL”).",
            'jsonPayload.message=~"Signed URL"',
        ),
        LogPreset(
            "slow-requests",
            "Requests that took more than 1 s (jsonPayload.responseTime > 1000 ms).",
            "jsonPayload.responseTime>1000",
        ),
    )
}


def build_filter(service: str, preset: str) -> str:
    """The Cloud Logging filter of `preset` for one Cloud Run service; ValueError if unsafe."""
    if not SERVICE_NAME.fullmatch(service):
        raise ValueError(
            f"{service!r} is not a Cloud Run service name (lowercase letters, digits and "
            "hyphens, starting with a letter, at most 63 characters)"
        )
    if preset not in PRESETS:
        raise ValueError(f"unknown log preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return (
        f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" '
        f"AND {PRESETS[preset].condition}"
    )


def logs_explorer_url(project: str, filter_: str, since: timedelta) -> str:
    """A Cloud console Logs Explorer link showing `filter_` over the last `since`."""
    if not PROJECT_ID.fullmatch(project):
        raise ValueError(f"{project!r} is not a Google Cloud project id")
    return (
        f"{CONSOLE_LOGS};query={quote(filter_, safe='')};duration={iso_duration(since)}"
        f"?project={project}"
    )


def iso_duration(span: timedelta) -> str:
    """ISO 8601 duration, e.g. PT1H30M, P1DT2H; at least one second."""
    seconds = max(1, int(span.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
