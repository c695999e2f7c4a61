"""Cloud Run Admin API v2 adapter: services, revisions, traffic, scaling and redeploys.

Reads retry on transient errors; UpdateService is never retried (it is guarded by the etag
the caller planned with, and a blind retry could apply a change twice). Instance limits are
written at the service level (`Service.scaling`, no new revision); memory, CPU, concurrency
and secret versions live in the revision template, so changing them creates a revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from google.cloud import run_v2
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.protobuf import field_mask_pb2

from gcp import run_rules
from gcp.clients import Clients
from gcp.errors import InvalidArgument, OperationFailed, Unavailable, translated
from gcp.models import (
    OperationProgress,
    Revision,
    Service,
    ServiceChange,
    ServiceRef,
    TrafficTarget,
)
from gcp.run_convert import LATEST, short_name, to_revision, to_service

Progress = Callable[[OperationProgress], None]
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
MAX_PAGE_SIZE = 100


class CloudRunAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    # --- reads -----------------------------------------------------------------------------

    def get_service(self, ref: ServiceRef) -> Service:
        return to_service(ref, self._read(ref))

    def list_revisions(self, ref: ServiceRef, limit: int = 20) -> list[Revision]:
        """The newest `limit` revisions of the service, newest first."""
        settings = self._clients.settings
        request = {"parent": ref.name, "page_size": MAX_PAGE_SIZE}
        with translated(f"Listing revisions of {_label(ref)}"):
            pager = self._revisions().list_revisions(
                request=request, retry=settings.retry(), timeout=settings.timeout
            )
            revisions = [to_revision(r) for r in pager]
        revisions.sort(key=lambda r: r.create_time, reverse=True)
        return revisions[: max(limit, 0)]

    def get_revision(self, ref: ServiceRef, name: str) -> Revision:
        """`name` is a revision's short name (or its full resource name)."""
        full = name if "/" in name else f"{ref.name}/revisions/{name}"
        settings = self._clients.settings
        with translated(f"Reading revision {short_name(name)} of {_label(ref)}"):
            revision = self._revisions().get_revision(
                name=full, retry=settings.retry(), timeout=settings.timeout
            )
        return to_revision(revision)

    # --- changes ---------------------------------------------------------------------------

    def set_traffic(
        self,
        ref: ServiceRef,
        targets: Sequence[TrafficTarget],
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = 300.0,
    ) -> Service:
        """Replace the whole traffic split; fails with Conflict if `etag` is stale."""
        service = run_v2.Service(
            name=ref.name, etag=etag, traffic=[_target_message(t) for t in targets]
        )
        what = f"Moving traffic of {_label(ref)}"
        return self._update(ref, service, ["traffic"], what, on_progress, deadline)

    def pin_revision(
        self,
        ref: ServiceRef,
        revision: str,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = 300.0,
    ) -> Service:
        """100% of traffic to `revision`; tagged targets stay, at 0%, so their URLs work."""
        main = TrafficTarget(percent=100, revision=revision)
        targets = with_tags(main, self.get_service(ref).traffic)
        return self.set_traffic(ref, targets, etag, on_progress=on_progress, deadline=deadline)

    def route_to_latest(
        self,
        ref: ServiceRef,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = 300.0,
    ) -> Service:
        """100% of traffic to the latest ready revision, following future deploys again."""
        main = TrafficTarget(percent=100, latest=True)
        targets = with_tags(main, self.get_service(ref).traffic)
        return self.set_traffic(ref, targets, etag, on_progress=on_progress, deadline=deadline)

    def update_scaling(
        self,
        ref: ServiceRef,
        change: ServiceChange,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = 300.0,
    ) -> Service:
        """Min/max on the service (no revision); memory, CPU, concurrency on the template."""
        current = self._read(ref)
        service = run_v2.Service(name=ref.name, etag=etag)
        paths: list[str] = []
        if change.min_instances is not None or change.max_instances is not None:
            service.scaling = _scaled(current.scaling, change)
            paths.append("scaling")
        if change.changes_template:
            service.template = _resized(current.template, change)
            paths += [
                "template.containers",
                "template.max_instance_request_concurrency",
                "template.revision",
            ]
        what = f"Scaling {_label(ref)}"
        if not paths:
            raise InvalidArgument(what, "the change names no value to set")
        problems = zero_means_default(change)
        if problems:
            raise InvalidArgument(what, " ".join(problems))
        return self._update(ref, service, paths, what, on_progress, deadline)

    def deploy_revision(
        self,
        ref: ServiceRef,
        *,
        etag: str,
        secret_versions: Mapping[str, str],
        tag: str,
        revision_suffix: str,
        on_progress: Progress | None = None,
        deadline: float = 300.0,
    ) -> tuple[Service, str]:
        """A revision of the current template with secrets re-pinned, at 0% under `tag`.

        Traffic stays where it is: a LATEST target is pinned to the revision it serves now,
        so the new revision takes none until it is moved explicitly.
        """
        what = f"Deploying a new revision of {_label(ref)}"
        current = self._read(ref)
        template = run_v2.RevisionTemplate(current.template)
        if not repin_secrets(template, secret_versions):
            wanted = ", ".join(sorted(secret_versions))
            raise InvalidArgument(what, f"no container of {ref.service} uses {wanted}")
        name = f"{ref.service}-{revision_suffix}"
        template.revision = name
        traffic = traffic_for_deploy(to_service(ref, current), name, tag)
        service = run_v2.Service(
            name=ref.name,
            etag=etag,
            template=template,
            traffic=[_target_message(t) for t in traffic],
        )
        updated = self._update(ref, service, ["template", "traffic"], what, on_progress, deadline)
        return updated, name

    # --- plumbing --------------------------------------------------------------------------

    def _services(self) -> Any:
        return self._clients.get(
            "run.services",
            lambda: self._clients.build(run_v2.ServicesClient, ServicesGrpcTransport),
        )

    def _revisions(self) -> Any:
        return self._clients.get(
            "run.revisions",
            lambda: self._clients.build(run_v2.RevisionsClient, RevisionsGrpcTransport),
        )

    def _read(self, ref: ServiceRef) -> Any:
        settings = self._clients.settings
        with translated(f"Reading Cloud Run service {_label(ref)}"):
            return self._services().get_service(
                name=ref.name, retry=settings.retry(), timeout=settings.timeout
            )

    def _update(
        self,
        ref: ServiceRef,
        service: run_v2.Service,
        paths: list[str],
        what: str,
        on_progress: Progress | None,
        deadline: float,
    ) -> Service:
        request = run_v2.UpdateServiceRequest(
            service=service, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        with translated(what):
            operation = self._services().update_service(
                request=request, retry=None, timeout=self._clients.settings.timeout
            )
        return to_service(ref, self._wait(operation, on_progress, deadline, what=what))

    def _wait(
        self,
        operation: Any,
        on_progress: Progress | None,
        deadline: float,
        *,
        what: str = "Waiting for Cloud Run",
    ) -> Any:
        """Poll until done; the operation's response (a run_v2.Service) or an error."""
        settings = self._clients.settings
        name = operation.operation.name
        started = time.monotonic()
        while True:
            with translated(what):
                done = operation.done(retry=settings.retry())
            elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(OperationProgress(name, done, elapsed))
            if done:
                break
            if elapsed >= deadline:
                raise Unavailable(
                    what,
                    f"operation {name} was not done after {deadline:.0f}s; it may still"
                    " finish, so check the service's state before trying again",
                )
            time.sleep(min(settings.operation_poll, max(deadline - elapsed, 0.0)))
        if operation.operation.HasField("error"):
            raise OperationFailed(what, operation.operation.error.message)
        with translated(what):
            return operation.result()


# --- traffic plans -------------------------------------------------------------------------


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


def _scaled(current: run_v2.ServiceScaling, change: ServiceChange) -> run_v2.ServiceScaling:
    scaling = run_v2.ServiceScaling(current)
    if change.min_instances is not None:
        scaling.min_instance_count = change.min_instances
    if change.max_instances is not None:
        scaling.max_instance_count = change.max_instances
    return scaling


def _resized(current: run_v2.RevisionTemplate, change: ServiceChange) -> run_v2.RevisionTemplate:
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


def _target_message(target: TrafficTarget) -> run_v2.TrafficTarget:
    return run_v2.TrafficTarget(
        type_=LATEST if target.latest else REVISION,
        revision="" if target.latest else target.revision,
        percent=target.percent,
        tag=target.tag,
    )


def _label(ref: ServiceRef) -> str:
    return f"{ref.service} ({ref.project}, {ref.region})"
