"""Cloud Run v2 protobuf messages -> the project's dataclasses (gcp/models.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.cloud import run_v2

from gcp import run_rules
from gcp.models import (
    Condition,
    Resources,
    Revision,
    Scaling,
    SecretRef,
    Service,
    ServiceRef,
    TrafficTarget,
)

LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_CONCURRENCY, DEFAULT_MAX_INSTANCES = "1", "512Mi", 80, 100
GENERATIONS = {
    run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1: "gen1",
    run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2: "gen2",
}


def to_service(ref: ServiceRef, service: Any) -> Service:
    template = service.template
    main = template.containers[0] if template.containers else run_v2.Container()
    return Service(
        ref=ref,
        uri=service.uri,
        etag=service.etag,
        generation=int(service.generation),
        image=main.image,
        latest_ready_revision=service.latest_ready_revision,
        latest_created_revision=service.latest_created_revision,
        traffic=tuple(_target(t) for t in service.traffic),
        traffic_statuses=tuple(_target(t) for t in service.traffic_statuses),
        scaling=_instances(service.scaling, template.scaling),
        resources=_resources(main),
        concurrency=_concurrency(template.max_instance_request_concurrency, main),
        env={e.name: e.value for e in main.env if "value_source" not in e},
        secrets=_secrets(template.containers, template.volumes),
        ready=_condition(service.terminal_condition) if "terminal_condition" in service else None,
        conditions=tuple(_condition(c) for c in service.conditions),
        update_time=_time(service.update_time),
        observed_generation=int(service.observed_generation),
        reconciling=bool(service.reconciling),
        execution_environment=GENERATIONS.get(template.execution_environment, ""),
        # cpu_idle defaults to true, but once resources are set it must be set explicitly.
        cpu_always_allocated="resources" in main and not main.resources.cpu_idle,
    )


def to_revision(revision: Any) -> Revision:
    main = revision.containers[0] if revision.containers else run_v2.Container()
    ready = next((c for c in revision.conditions if c.type_ == "Ready"), None)
    is_ready = ready is not None and ready.state == run_v2.Condition.State.CONDITION_SUCCEEDED
    return Revision(
        name=short_name(revision.name),
        service=short_name(revision.service),
        create_time=_time(revision.create_time) or datetime.fromtimestamp(0, UTC),
        image=main.image,
        ready=is_ready,
        ready_message="" if is_ready or ready is None else ready.message or ready.state.name,
        scaling=Scaling(revision.scaling.min_instance_count, revision.scaling.max_instance_count),
        resources=_resources(main),
        concurrency=_concurrency(revision.max_instance_request_concurrency, main),
        secrets=_secrets(revision.containers, revision.volumes),
    )


def _target(target: Any) -> TrafficTarget:
    return TrafficTarget(
        percent=int(target.percent),
        revision=target.revision,
        latest=target.type_ == LATEST,
        tag=target.tag,
        uri=getattr(target, "uri", ""),
    )


def _instances(service_level: Any, template_level: Any) -> Scaling:
    """Service-level limits where set (the seed's and the bot's choice), else the template's."""
    return Scaling(
        min_instances=service_level.min_instance_count or template_level.min_instance_count,
        max_instances=service_level.max_instance_count
        or template_level.max_instance_count
        or DEFAULT_MAX_INSTANCES,
    )


def _concurrency(configured: int, container: Any) -> int:
    """0 means Cloud Run's default: 80 from 1 CPU up, 1 below (RevisionTemplate's docs)."""
    if configured:
        return configured
    try:
        below_one = run_rules.parse_cpu(_resources(container).cpu) < 1
    except ValueError:
        below_one = False
    return 1 if below_one else DEFAULT_CONCURRENCY


def _resources(container: Any) -> Resources:
    limits = container.resources.limits
    return Resources(
        cpu=limits.get("cpu", DEFAULT_CPU), memory=limits.get("memory", DEFAULT_MEMORY)
    )


def _secrets(containers: Iterable[Any], volumes: Iterable[Any]) -> tuple[SecretRef, ...]:
    """Secrets as env vars and as mounted files, in container order."""
    by_volume = {v.name: v.secret for v in volumes if "secret" in v}
    found: list[SecretRef] = []
    for container in containers:
        for env in container.env:
            if "value_source" in env:
                ref = env.value_source.secret_key_ref
                found.append(SecretRef(short_name(ref.secret), ref.version or "latest", env.name))
        for mount in container.volume_mounts:
            source = by_volume.get(mount.name)
            if source is not None:
                found += _mounted(source, mount.mount_path)
    return tuple(found)


def _mounted(source: Any, mount_path: str) -> list[SecretRef]:
    secret = short_name(source.secret)
    if not source.items:
        return [SecretRef(secret, "latest", mount_path=f"{mount_path}/{secret}")]
    return [
        SecretRef(secret, item.version or "latest", mount_path=f"{mount_path}/{item.path}")
        for item in source.items
    ]


def _condition(condition: Any) -> Condition:
    reasons = (condition.reason, condition.revision_reason, condition.execution_reason)
    reason = next((r.name for r in reasons if r), "")
    return Condition(
        type=condition.type_,
        state=condition.state.name,
        message=condition.message,
        reason=reason,
    )


def _time(value: datetime | None) -> datetime | None:
    """Plain UTC datetimes (proto-plus returns a nanosecond subclass, or None when unset)."""
    if value is None:
        return None
    return datetime.fromtimestamp(value.timestamp(), UTC)


def short_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]
