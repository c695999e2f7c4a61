"""Cloud Audit Logs through the Logging API: who changed a Cloud Run service or a secret, when.

Admin Activity entries live in `projects/P/logs/cloudaudit.googleapis.com%2Factivity`; their
`protoPayload` is a `google.cloud.audit.AuditLog` naming the method, the resource and the
principal (https://cloud.google.com/logging/docs/audit/understanding-audit-logs). Cloud Run
logs them on the `cloud_run_revision` resource (https://cloud.google.com/run/docs/audit-logging).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gcp.clients import Clients
from gcp.diagnosis_models import AuditEntry, Query
from gcp.log_queries import SERVICE_NAME, logs_explorer_url
from gcp.logs import LoggingAdapter, windowed
from gcp.models import ServiceRef

ACTIVITY_LOG = "cloudaudit.googleapis.com%2Factivity"
MAX_ENTRIES = 200  # changes in a diagnosis window; more would not fit in a message anyway


def service_filter(ref: ServiceRef) -> str:
    """Admin Activity entries of one Cloud Run service."""
    if not SERVICE_NAME.fullmatch(ref.service):
        raise ValueError(f"{ref.service!r} is not a Cloud Run service name")
    return (
        f'logName="projects/{ref.project}/logs/{ACTIVITY_LOG}" AND '
        f'resource.type="cloud_run_revision" AND resource.labels.service_name="{ref.service}"'
    )


def secret_filter(project: str, secret: str) -> str:
    """Admin Activity entries of one Secret Manager secret and its versions."""
    if not SERVICE_NAME.fullmatch(secret):
        raise ValueError(f"{secret!r} is not a secret name")
    return (
        f'logName="projects/{project}/logs/{ACTIVITY_LOG}" AND '
        f'protoPayload.resourceName:"projects/{project}/secrets/{secret}"'
    )


class AuditLogAdapter:
    def __init__(self, clients: Clients) -> None:
        self._logs = LoggingAdapter(clients)

    def entries(
        self, project: str, filter_: str, since: timedelta, until: datetime | None = None
    ) -> tuple[list[AuditEntry], Query]:
        """Entries matching `filter_` in [until - since, until], oldest first, and the query."""
        end = until or datetime.now(UTC)
        read = windowed(filter_, end - since, end)
        found = self._logs.messages(project, read, MAX_ENTRIES, order_by="timestamp asc")
        entries = [_entry(message) for message in found]
        return entries, Query(filter_, logs_explorer_url(project, filter_, since))


def _entry(message: Any) -> AuditEntry:
    from google.cloud.audit import audit_log_pb2
    from google.cloud.logging_v2.types import LogEntry

    pb = LogEntry.pb(message)
    audit = audit_log_pb2.AuditLog()
    if pb.HasField("proto_payload"):
        pb.proto_payload.Unpack(audit)
    return AuditEntry(
        timestamp=pb.timestamp.ToDatetime(UTC),
        method=audit.method_name,
        resource=audit.resource_name,
        principal=audit.authentication_info.principal_email,
    )
