"""What the Cloud Run adapter sends: traffic splits, scaling and revision templates.

Pure functions from the project's dataclasses and Cloud Run's messages to new messages;
nothing here calls Google.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from google.cloud import run_v2

from gcp import run_rules
from gcp.models import Service, ServiceChange, TrafficTarget
from gcp.run_convert import LATEST, short_name

REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
# RevisionTemplate fields a Revision carries under the same name (run/v2 revision.proto).
FROM_REVISION = (
    "scaling",
    "vpc_access",
    "timeout",
    "service_account",
    "containers",
    "volumes",
    "execution_environment",
    "encryption_key",
    "max_instance_request_concurrency",
    "service_mesh",
    "encryption_key_revocation_action",
    "encryption_key_shutdown_duration",
    "session_affinity",
    "node_selector",
    "gpu_zonal_redundancy_disabled",
)
# The v2 API rejects labels and annotations in these namespaces on a template
# (RevisionTemplate.labels/annotations), though a revision may carry them.
SYSTEM_NAMESPACES = (
    "run.googleapis.com",
    "cloud.googleapis.com",
    "serving.knative.dev",
    "autoscaling.knative.dev",
)


def with_tags(main: TrafficTarget, current: Iterable[TrafficTarget]) -> list[TrafficTarget]:
    """`main` untagged, then every tagged target of `current` kept at 0%."""
    untagged = replace(main, tag="", uri="")
    return [untagged] + [replace(t, percent=0, uri="") for t in current if t.tag]


def traffic_for_deploy(service: Service, revision: str, tag: str) -> list[TrafficTarget]:
    """Today's split with LATEST pinned to what it serves, plus `revision` at 0% under `tag`."""
    kept = []
    for target in service.traffic:
        if target.latest:
            target = replace(target, latest=False, revision=service.latest_ready_revision)
        if target.tag == tag:
            target = replace(target, tag="")
        if target.percent or target.tag:
            kept.append(replace(target, uri=""))
    return [*kept, TrafficTarget(percent=0, revision=revision, tag=tag)]


def target_message(target: TrafficTarget) -> run_v2.TrafficTarget:
    return run_v2.TrafficTarget(
        type_=LATEST if target.latest else REVISION,
        revision="" if target.latest else target.revision,
        percent=target.percent,
        tag=target.tag,
    )


def template_of(revision: Any) -> run_v2.RevisionTemplate:
    """A template that makes a revision like `revision` (image, env, secrets, resources...)."""
    template = run_v2.RevisionTemplate(
        **{name: getattr(revision, name) for name in FROM_REVISION if name in revision}
    )
    template.labels.update(_user_keys(revision.labels))
    template.annotations.update(_user_keys(revision.annotations))
    return template


def repin_secrets(template: run_v2.RevisionTemplate, versions: Mapping[str, str]) -> int:
    """Point each env var and volume using one of `versions`' secrets at its new version."""
    moved = 0
    for container in template.containers:
        for env in container.env:
            if "value_source" not in env:
                continue
            ref = env.value_source.secret_key_ref
            if short_name(ref.secret) in versions:
                ref.version = versions[short_name(ref.secret)]
                moved += 1
    for volume in template.volumes:
        if "secret" not in volume:
            continue
        source = volume.secret
        if short_name(source.secret) in versions:
            version = versions[short_name(source.secret)]
            if not source.items:
                source.items.append(run_v2.VersionToPath(path=short_name(source.secret)))
            for item in source.items:
                item.version = version
            moved += 1
    return moved


def zero_means_default(change: ServiceChange) -> list[str]:
    """The API reads concurrency 0 and max instances 0 as "use the default"; refuse them."""
    problems: list[str] = []
    if change.concurrency is not None and change.concurrency < 1:
        problems += run_rules.concurrency_problems(change.concurrency)
    if change.max_instances is not None and change.max_instances < 1:
        problems += run_rules.instance_problems(0, change.max_instances)
    return problems


def scaled(current: run_v2.ServiceScaling, change: ServiceChange) -> run_v2.ServiceScaling:
    scaling = run_v2.ServiceScaling(current)
    if change.min_instances is not None:
        scaling.min_instance_count = change.min_instances
    if change.max_instances is not None:
        scaling.max_instance_count = change.max_instances
    return scaling


def resized(current: run_v2.RevisionTemplate, change: ServiceChange) -> run_v2.RevisionTemplate:
    """The template with new resources/concurrency, unnamed so Cloud Run names the revision."""
    template = run_v2.RevisionTemplate(current)
    limits = template.containers[0].resources.limits
    if change.cpu is not None:
        limits["cpu"] = change.cpu
    if change.memory is not None:
        limits["memory"] = change.memory
    if change.concurrency is not None:
        template.max_instance_request_concurrency = change.concurrency
    template.revision = ""
    return template


def _user_keys(values: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if not _system_key(key)}


def _system_key(key: str) -> bool:
    prefix = key.split("/", 1)[0] if "/" in key else ""
    return any(prefix == ns or prefix.endswith(f".{ns}") for ns in SYSTEM_NAMESPACES)
