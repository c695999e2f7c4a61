"""The project's dataclasses built by hand, for tests of pure logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gcp.models import Resources, Revision, Scaling, Service, ServiceRef, TrafficTarget

PROD_BACKEND = ServiceRef("fluxori-prod", "africa-south1", "fluxori-backend")

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

REF = ServiceRef("fluxori-prod", "africa-south1", "fluxori-backend")


def rev(n: int, ready: bool = True) -> Revision:
    return Revision(
        name=f"fluxori-backend-000{n}-abc",
        service="fluxori-backend",
        create_time=NOW - timedelta(days=10 - n),
        image=f"registry/fluxori/backend:sha{n}",
        ready=ready,
        ready_message="" if ready else "Container failed to start",
        scaling=Scaling(2, 10),
        resources=Resources("1", "1Gi"),
        concurrency=80,
    )


def service(split: dict[int, int]) -> Service:
    traffic = tuple(TrafficTarget(percent=p, revision=rev(n).name) for n, p in split.items())
    return Service(
        ref=REF,
        uri="https://fluxori-backend.example",
        etag="etag-1",
        generation=7,
        image="registry/fluxori/backend:sha5",
        latest_ready_revision=rev(5).name,
        latest_created_revision=rev(5).name,
        traffic=traffic,
        traffic_statuses=traffic,
        scaling=Scaling(2, 10),
        resources=Resources("1", "1Gi"),
        concurrency=80,
    )
