"""The Google Cloud ports the handlers act through (concrete adapters are wired in `bot`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client libraries load on first use, not at start-up (cold starts)
    from gcp.audit_logs import AuditLogAdapter
    from gcp.firestore_admin import FirestoreAdminAdapter
    from gcp.logs import LoggingAdapter
    from gcp.monitoring import MonitoringAdapter
    from gcp.revision_health import RevisionHealthAdapter
    from gcp.run import CloudRunAdapter
    from gcp.secrets import SecretManagerAdapter
    from gcp.storage import StorageAdapter


@dataclass(frozen=True)
class Platform:
    run: CloudRunAdapter
    logs: LoggingAdapter
    monitoring: MonitoringAdapter
    secrets: SecretManagerAdapter
    firestore_admin: FirestoreAdminAdapter
    storage: StorageAdapter
    audit: AuditLogAdapter
    health: RevisionHealthAdapter
