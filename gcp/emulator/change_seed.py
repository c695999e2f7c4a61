"""The `fluxori` seed's recent changes: who deployed each newest revision, and when traffic moved.

Every service's newest revision was deployed by the seeded deployer outside the bot (an Admin
Activity entry at its creation) and took all traffic a minute later from the revision before
it, which had served since its own creation. In prod that deploy is where the backend's errors
begin (`run_seed`, `run_logs`).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from gcp.emulator.audit import SEEDED_DEPLOYER, AuditTrail
from gcp.emulator.cloud_run import CloudRun
from gcp.emulator.monitoring import Monitoring

TOOK_TRAFFIC_AFTER = timedelta(minutes=1)  # a deploy's revision serves once it is Ready


def seed_changes(run: CloudRun, monitoring: Monitoring, audit: AuditTrail) -> None:
    for name in run.service_names():
        newest, previous = run.revisions(name)[:2]
        deployed = newest.create_time.ToDatetime(UTC)
        audit.run_change("UpdateService", name, principal=SEEDED_DEPLOYER, at=deployed)
        for revision in (previous, newest):
            took_traffic = revision.create_time.ToDatetime(UTC) + TOOK_TRAFFIC_AFTER
            monitoring.note_split_change(name, {_short(revision.name): 100}, took_traffic)


def _short(revision_name: str) -> str:
    return str(revision_name).rsplit("/", 1)[-1]
