"""Cloud Run revision templates: defaults, validation, and the revisions they become."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from google.cloud import run_v2

from gcp.emulator import run_limits

ServicePb: Any = run_v2.Service.pb()
RevisionPb: Any = run_v2.Revision.pb()
ConditionPb: Any = run_v2.Condition.pb()

DEFAULT_CPU = "1000m"
DEFAULT_MEMORY = "512Mi"
DEFAULT_CONCURRENCY = 80
FRACTION_CONCURRENCY = (
    1  # the default below 1 CPU (RevisionTemplate.max_instance_request_concurrency)
)
READY = "Ready"
SUCCEEDED = ConditionPb.State.Value("CONDITION_SUCCEEDED")
RECONCILING = ConditionPb.State.Value("CONDITION_RECONCILING")
FAILED = ConditionPb.State.Value("CONDITION_FAILED")
_REVISION_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_SECRET_VERSION = re.compile(r"[1-9][0-9]*|latest")


def apply_defaults(template: Any) -> None:
    """What Cloud Run fills in when a template leaves them out."""
    for container in template.containers:
        limits = container.resources.limits
        limits.setdefault("cpu", DEFAULT_CPU)
        limits.setdefault("memory", DEFAULT_MEMORY)
    if not template.max_instance_request_concurrency:
        template.max_instance_request_concurrency = _default_concurrency(template)


def template_problems(template: Any, service_id: str) -> list[str]:
    """Everything Cloud Run would refuse in a revision template."""
    if not template.containers:
        return ["template.containers: a revision needs at least one container."]
    problems: list[str] = []
    for index, container in enumerate(template.containers):
        problems += _container_problems(f"template.containers[{index}]", container, template)
    problems += [
        f"template.max_instance_request_concurrency: {p}"
        for p in run_limits.concurrency_problems(template.max_instance_request_concurrency)
    ]
    problems += scaling_problems("template.scaling", template.scaling)
    if template.revision:
        problems += _revision_name_problems(template.revision, service_id)
    return problems


def scaling_problems(where: str, scaling: Any) -> list[str]:
    """min <= max; a max of 0 means "not set" in the API, so only min is checked then."""
    problems = run_limits.instance_problems(scaling.min_instance_count, scaling.max_instance_count)
    return [f"{where}: {p}" for p in problems]


def _container_problems(where: str, container: Any, template: Any) -> list[str]:
    problems = [] if container.image else [f"{where}.image: an image is required."]
    resources = container.resources
    problems += [
        f"{where}.resources.limits: {p}"
        for p in run_limits.container_problems(
            dict(resources.limits),
            resources.cpu_idle,
            template.max_instance_request_concurrency,
            template.execution_environment,
        )
    ]
    for env in container.env:
        ref = env.value_source.secret_key_ref
        if env.HasField("value_source") and not _SECRET_VERSION.fullmatch(ref.version):
            problems.append(
                f"{where}.env[{env.name}]: secret '{ref.secret}' version '{ref.version}'"
                " must be a version number or 'latest'."
            )
    return problems


def _default_concurrency(template: Any) -> int:
    cpus = [run_limits.millicores(c.resources.limits["cpu"]) for c in template.containers]
    below_one = bool(cpus) and all(m is not None and m < 1000 for m in cpus)
    return FRACTION_CONCURRENCY if below_one else DEFAULT_CONCURRENCY


def _revision_name_problems(name: str, service_id: str) -> list[str]:
    if not name.startswith(f"{service_id}-"):
        return [
            f"template.revision: Revision name '{name}' must be prefixed by the name of the"
            f" enclosing Service with a trailing -, e.g. '{service_id}-v2'."
        ]
    if not _REVISION_NAME.fullmatch(name):
        return [
            f"template.revision: '{name}' must be at most 63 lowercase letters, digits and"
            " hyphens, starting with a letter."
        ]
    return []


def build_revision(service: Any, short_name: str, at: datetime, etag: str) -> Any:
    """A revision of `service`'s template, created at `at`, not Ready yet."""
    template = service.template
    revision = RevisionPb(
        name=f"{service.name}/revisions/{short_name}",
        uid=etag,
        generation=1,
        service=service.name,
        max_instance_request_concurrency=template.max_instance_request_concurrency,
        service_account=template.service_account,
        execution_environment=template.execution_environment,
        observed_generation=1,
        etag=etag,
        reconciling=True,
    )
    revision.labels.update(template.labels)
    revision.annotations.update(template.annotations)
    revision.scaling.CopyFrom(template.scaling)
    revision.timeout.CopyFrom(template.timeout)
    revision.containers.extend(template.containers)
    revision.volumes.extend(template.volumes)
    revision.create_time.FromDatetime(at)
    revision.update_time.FromDatetime(at)
    revision.log_uri = _log_uri(service.name, short_name)
    set_ready(revision, RECONCILING, "Deploying revision.", at)
    return revision


def set_ready(resource: Any, state: int, message: str, at: datetime) -> None:
    """Sets the Ready condition of a revision (in `conditions`)."""
    condition = next((c for c in resource.conditions if c.type_ == READY), None)
    if condition is None:
        condition = resource.conditions.add(type_=READY)
    condition.state = state
    condition.message = message
    condition.last_transition_time.FromDatetime(at)
    if state == FAILED:
        condition.severity = ConditionPb.Severity.Value("ERROR")
        condition.revision_reason = ConditionPb.RevisionReason.Value("HEALTH_CHECK_CONTAINER_ERROR")
    else:
        condition.ClearField("severity")
        condition.ClearField("revision_reason")
    resource.reconciling = state == RECONCILING


def ready_state(revision: Any) -> int:
    state: int = next((c.state for c in revision.conditions if c.type_ == READY), 0)
    return state


def _log_uri(service_name: str, short_name: str) -> str:
    project = service_name.split("/")[1]
    return (
        "https://console.cloud.google.com/logs/viewer?project="
        f"{project}&resource=cloud_run_revision/revision_name/{short_name}"
    )
