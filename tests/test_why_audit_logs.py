"""The emulator's Cloud Audit Logs, read back through the Logging API as the bot reads them."""

from __future__ import annotations

from datetime import timedelta

from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)

from gcp.audit_logs import AuditLogAdapter, secret_filter, service_filter
from gcp.clients import EMULATOR_PRINCIPAL, Clients
from gcp.emulator import Emulator
from gcp.emulator.audit import SEEDED_DEPLOYER
from gcp.models import ServiceChange
from gcp.run import CloudRunAdapter
from gcp.secrets import SecretManagerAdapter
from tests.support.models import PROD_BACKEND

PROJECT = PROD_BACKEND.project
HOUR = timedelta(hours=1)


def test_the_seed_records_the_out_of_band_deploy(clients: Clients) -> None:
    """The newest prod backend revision's deploy is in the audit log, by the seeded deployer."""
    entries, _ = AuditLogAdapter(clients).entries(PROJECT, service_filter(PROD_BACKEND), 2 * HOUR)
    assert [(e.verb, e.principal) for e in entries] == [("UpdateService", SEEDED_DEPLOYER)]
    assert entries[0].resource == PROD_BACKEND.name


def test_a_change_is_logged_with_the_callers_principal(clients: Clients) -> None:
    """A scaling change made through the adapters is logged under the bot's account."""
    run = CloudRunAdapter(clients)
    run.update_scaling(
        PROD_BACKEND, ServiceChange(min_instances=3), run.get_service(PROD_BACKEND).etag
    )
    entries, _ = AuditLogAdapter(clients).entries(PROJECT, service_filter(PROD_BACKEND), HOUR)
    assert (entries[-1].method, entries[-1].principal) == (
        "google.cloud.run.v2.Services.UpdateService",
        EMULATOR_PRINCIPAL,
    )


def test_a_dry_run_is_not_a_change(clients: Clients) -> None:
    """A validate_only update leaves no Admin Activity entry."""
    run = CloudRunAdapter(clients)
    etag = run.get_service(PROD_BACKEND).etag
    run.update_scaling(PROD_BACKEND, ServiceChange(min_instances=3), etag, validate_only=True)
    entries, _ = AuditLogAdapter(clients).entries(PROJECT, service_filter(PROD_BACKEND), HOUR)
    assert len(entries) == 0  # the seeded deploy is 71 minutes old


def test_secret_version_changes_are_logged(clients: Clients) -> None:
    """Adding and disabling a jwt-secret version are two entries naming the version."""
    secrets = SecretManagerAdapter(clients)
    added = secrets.add_version(PROJECT, "jwt-secret", b"not-a-real-secret-0000")
    secrets.disable_version(PROJECT, "jwt-secret", added.version)
    entries, _ = AuditLogAdapter(clients).entries(
        PROJECT, secret_filter(PROJECT, "jwt-secret"), HOUR
    )
    assert [e.verb for e in entries] == ["AddSecretVersion", "DisableSecretVersion"]
    assert entries[0].resource.endswith(f"/secrets/jwt-secret/versions/{added.version}")


def test_entries_have_googles_shape(emulator: Emulator, clients: Clients) -> None:
    """logName, resource type and an AuditLog protoPayload, as Cloud Audit Logs writes them."""
    client = LoggingServiceV2Client(
        transport=LoggingServiceV2GrpcTransport(channel=clients.channel())
    )
    pager = client.list_log_entries(
        request={"resource_names": [f"projects/{PROJECT}"], "filter": service_filter(PROD_BACKEND)}
    )
    entry = next(iter(pager))
    assert entry.log_name == f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity"
    assert entry.resource.type == "cloud_run_revision"
    assert entry.proto_payload.type_url == "type.googleapis.com/google.cloud.audit.AuditLog"
