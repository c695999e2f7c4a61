"""Cloud Audit Logs written by the emulated services: an Admin Activity entry per change.

The shapes follow Google's documentation:
- the log is `projects/P/logs/cloudaudit.googleapis.com%2Factivity`
  (https://cloud.google.com/logging/docs/audit#types);
- `protoPayload` is a `google.cloud.audit.AuditLog` (googleapis
  google/cloud/audit/audit_log.proto): `serviceName`, `methodName`, `resourceName`,
  `authenticationInfo.principalEmail`;
- Cloud Run's entries use the service name `run.googleapis.com`, methods such as
  `google.cloud.run.v2.Services.UpdateService`, and the monitored resource
  `cloud_run_revision` (https://cloud.google.com/run/docs/audit-logging); services without
  a resource type of their own, Secret Manager among them, log `audited_resource` with the
  labels `service` and `method` (https://cloud.google.com/logging/docs/api/v2/resource-list).

Locally no bearer token names the caller, so the principal comes from the request metadata
header `x-emulator-principal`; a call without it is taken as the seeded deployer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from google.cloud.audit import audit_log_pb2

from gcp.emulator.core import call_metadata
from gcp.emulator.logs import Logs
from gcp.emulator.run_logs import LogEntryPb

ACTIVITY_LOG = "cloudaudit.googleapis.com%2Factivity"
PRINCIPAL_HEADER = "x-emulator-principal"
SEEDED_DEPLOYER = "deployer@fluxori.example"
RUN_API = "run.googleapis.com"
SECRETS_API = "secretmanager.googleapis.com"
NOTICE = 300  # LogSeverity.NOTICE: Admin Activity entries are written at this severity


def caller() -> str:
    """The principal of the call being answered: its header, else the seeded deployer."""
    return call_metadata().get(PRINCIPAL_HEADER, "").strip() or SEEDED_DEPLOYER


class AuditTrail:
    """Writes Admin Activity entries into the emulator's Logging service."""

    def __init__(self, logs: Logs) -> None:
        self.logs = logs

    def run_change(
        self, method: str, service_name: str, *, principal: str = "", at: datetime | None = None
    ) -> None:
        """A Cloud Run Services method (e.g. "UpdateService") on a service's full name."""
        _, project, _, region, _, service = service_name.split("/")
        labels = {
            "project_id": project,
            "service_name": service,
            "revision_name": "",
            "configuration_name": "",
            "location": region,
        }
        full = f"google.cloud.run.v2.Services.{method}"
        self._write(
            project, RUN_API, full, service_name, "cloud_run_revision", labels, principal, at
        )

    def secret_change(self, method: str, resource_name: str, *, principal: str = "") -> None:
        """A Secret Manager method (e.g. "AddSecretVersion") on a secret or its version."""
        project = resource_name.split("/")[1]
        full = f"google.cloud.secretmanager.v1.SecretManagerService.{method}"
        labels = {"project_id": project, "service": SECRETS_API, "method": full}
        self._write(
            project, SECRETS_API, full, resource_name, "audited_resource", labels, principal
        )

    def _write(
        self,
        project: str,
        api: str,
        method: str,
        resource_name: str,
        resource_type: str,
        labels: Mapping[str, str],
        principal: str,
        at: datetime | None = None,
    ) -> None:
        payload = audit_log_pb2.AuditLog(
            service_name=api, method_name=method, resource_name=resource_name
        )
        payload.authentication_info.principal_email = principal or caller()
        entry = LogEntryPb(log_name=f"projects/{project}/logs/{ACTIVITY_LOG}", severity=NOTICE)
        entry.resource.type = resource_type
        entry.resource.labels.update(labels)
        entry.proto_payload.Pack(payload)
        if at is not None:
            entry.timestamp.FromDatetime(at)
        self.logs.write(project, entry)
