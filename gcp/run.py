"""Cloud Run Admin API v2 adapter: services, revisions, traffic, scaling and redeploys.

Reads retry on transient errors; UpdateService is never retried (it is guarded by the etag
the caller planned with, and a blind retry could apply a change twice). Instance limits are
written at the service level (`Service.scaling`, no new revision); memory, CPU, concurrency
and secret versions live in the revision template, so changing them creates a revision.

Every change is guarded twice: the service is read right before the update and nothing is
sent if its etag is not the one planned with (Conflict), and the update carries that etag
for Cloud Run's own check. With `validate_only=True` the same update is sent as a dry run:
Cloud Run judges it and nothing changes (None when accepted, the translated error if not).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from google.cloud import run_v2
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.protobuf import field_mask_pb2

from gcp.clients import Clients
from gcp.errors import (
    AlreadyExists,
    Conflict,
    GcpError,
    InvalidArgument,
    OperationFailed,
    Unavailable,
    translated,
)
from gcp.models import (
    OperationProgress,
    Revision,
    Service,
    ServiceChange,
    ServiceRef,
    TrafficTarget,
)
from gcp.run_convert import short_name, to_revision, to_service
from gcp.run_follow import Follow, generation_after
from gcp.run_specs import (
    repin_secrets,
    resized,
    scaled,
    target_message,
    template_of,
    traffic_for_deploy,
    with_tags,
    zero_means_default,
)

Progress = Callable[[OperationProgress], None]
MAX_PAGE_SIZE = 100
DEADLINE = 300.0
TEMPLATE_PATHS = [
    "template.containers",
    "template.max_instance_request_concurrency",
    "template.revision",
]


@dataclass(frozen=True)
class _Options:
    on_progress: Progress | None
    deadline: float
    validate_only: bool


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
        return to_revision(self._read_revision(ref, name))

    # --- changes ---------------------------------------------------------------------------
    # The overloads say what validate_only returns: None for a dry run, else the result.
    # fmt: off
    @overload
    def set_traffic(
        self, ref: ServiceRef, targets: Sequence[TrafficTarget], etag: str, *,
        on_progress: Progress | None = None, deadline: float = DEADLINE,
        validate_only: Literal[False] = False,
    ) -> Service: ...
    @overload
    def set_traffic(
        self, ref: ServiceRef, targets: Sequence[TrafficTarget], etag: str, *,
        on_progress: Progress | None = None, deadline: float = DEADLINE,
        validate_only: Literal[True],
    ) -> None: ...
    def set_traffic(
        self,
        ref: ServiceRef,
        targets: Sequence[TrafficTarget],
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = DEADLINE,
        validate_only: bool = False,
    ) -> Service | None:
        """Replace the whole traffic split; Conflict if the service is no longer at `etag`."""
        what = f"Moving traffic of {_label(ref)}"
        current = self._current(ref, etag, what)
        options = _Options(on_progress, deadline, validate_only)
        return self._send_traffic(ref, current, targets, what, options)

    @overload
    def pin_revision(
        self, ref: ServiceRef, revision: str, etag: str, *, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[False] = False,
    ) -> Service: ...
    @overload
    def pin_revision(
        self, ref: ServiceRef, revision: str, etag: str, *, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[True],
    ) -> None: ...
    def pin_revision(
        self,
        ref: ServiceRef,
        revision: str,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = DEADLINE,
        validate_only: bool = False,
    ) -> Service | None:
        """100% of traffic to `revision`; tagged targets stay, at 0%, so their URLs work."""
        main = TrafficTarget(percent=100, revision=revision)
        return self._route(ref, main, etag, _Options(on_progress, deadline, validate_only))

    @overload
    def route_to_latest(
        self, ref: ServiceRef, etag: str, *, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[False] = False,
    ) -> Service: ...
    @overload
    def route_to_latest(
        self, ref: ServiceRef, etag: str, *, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[True],
    ) -> None: ...
    def route_to_latest(
        self,
        ref: ServiceRef,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = DEADLINE,
        validate_only: bool = False,
    ) -> Service | None:
        """100% of traffic to the latest ready revision, following future deploys again."""
        main = TrafficTarget(percent=100, latest=True)
        return self._route(ref, main, etag, _Options(on_progress, deadline, validate_only))

    @overload
    def update_scaling(
        self, ref: ServiceRef, change: ServiceChange, etag: str, *,
        on_progress: Progress | None = None, deadline: float = DEADLINE,
        validate_only: Literal[False] = False,
    ) -> Service: ...
    @overload
    def update_scaling(
        self, ref: ServiceRef, change: ServiceChange, etag: str, *,
        on_progress: Progress | None = None, deadline: float = DEADLINE,
        validate_only: Literal[True],
    ) -> None: ...
    def update_scaling(
        self,
        ref: ServiceRef,
        change: ServiceChange,
        etag: str,
        *,
        on_progress: Progress | None = None,
        deadline: float = DEADLINE,
        validate_only: bool = False,
    ) -> Service | None:
        """Min/max on the service (no revision); memory, CPU, concurrency on the template."""
        what = f"Scaling {_label(ref)}"
        problems = zero_means_default(change)
        if problems:
            raise InvalidArgument(what, " ".join(problems))
        current = self._current(ref, etag, what)
        service = run_v2.Service(name=ref.name, etag=etag)
        paths: list[str] = []
        if change.min_instances is not None or change.max_instances is not None:
            service.scaling = scaled(current.scaling, change)
            paths.append("scaling")
        if change.changes_template:
            service.template = resized(current.template, change)
            paths += TEMPLATE_PATHS
        if not paths:
            raise InvalidArgument(what, "the change names no value to set")
        options = _Options(on_progress, deadline, validate_only)
        return self._send(ref, current, service, paths, what, options)

    @overload
    def deploy_revision(
        self, ref: ServiceRef, *, etag: str, tag: str, revision_suffix: str,
        secret_versions: Mapping[str, str] | None = None, base_revision: str | None = None,
        change: ServiceChange | None = None, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[False] = False,
    ) -> tuple[Service, str]: ...
    @overload
    def deploy_revision(
        self, ref: ServiceRef, *, etag: str, tag: str, revision_suffix: str,
        secret_versions: Mapping[str, str] | None = None, base_revision: str | None = None,
        change: ServiceChange | None = None, on_progress: Progress | None = None,
        deadline: float = DEADLINE, validate_only: Literal[True],
    ) -> None: ...
    def deploy_revision(
        self,
        ref: ServiceRef,
        *,
        etag: str,
        tag: str,
        revision_suffix: str,
        secret_versions: Mapping[str, str] | None = None,
        base_revision: str | None = None,
        change: ServiceChange | None = None,
        on_progress: Progress | None = None,
        deadline: float = DEADLINE,
        validate_only: bool = False,
    ) -> tuple[Service, str] | None:
        """A revision named `<service>-<revision_suffix>`, at 0% under `tag`.

        Built from `base_revision`'s template (image, env, secrets, resources, concurrency,
        scaling) or else the service's, with `secret_versions` re-pinned and `change`'s
        memory, CPU and concurrency on top. Traffic stays where it is: a LATEST target is
        pinned to the revision it serves now, so the new revision takes none until moved.
        """
        what = f"Deploying a new revision of {_label(ref)}"
        versions = secret_versions or {}
        _check_deploy_change(change, what)
        current = self._current(ref, etag, what)
        template = self._template_from(ref, current, base_revision)
        if versions and not repin_secrets(template, versions):
            wanted = ", ".join(sorted(versions))
            raise InvalidArgument(what, f"no container of {ref.service} uses {wanted}")
        if change is not None:
            template = resized(template, change)
        name = f"{ref.service}-{revision_suffix}"
        template.revision = name
        traffic = traffic_for_deploy(to_service(ref, current), name, tag)
        service = run_v2.Service(
            name=ref.name,
            etag=etag,
            template=template,
            traffic=[target_message(t) for t in traffic],
        )
        options = _Options(on_progress, deadline, validate_only)
        updated = self._send(ref, current, service, ["template", "traffic"], what, options, name)
        return None if updated is None else (updated, name)

    # fmt: on

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

    def _read_revision(self, ref: ServiceRef, name: str) -> Any:
        full = name if "/" in name else f"{ref.name}/revisions/{name}"
        settings = self._clients.settings
        with translated(f"Reading revision {short_name(name)} of {_label(ref)}"):
            return self._revisions().get_revision(
                name=full, retry=settings.retry(), timeout=settings.timeout
            )

    def _current(self, ref: ServiceRef, etag: str, what: str) -> Any:
        """The service read now; Conflict, with nothing sent, if it moved past `etag`.

        Cloud Run checks the etag too, but its API only says an etag "may be used to detect
        modification conflict", so the adapter does not rely on it alone.
        """
        current = self._read(ref)
        if current.etag != etag:
            raise Conflict(
                what,
                f"{ref.service} changed since the plan was made (etag {etag} is now"
                f" {current.etag}); nothing was sent",
            )
        return current

    def _template_from(
        self, ref: ServiceRef, current: Any, base_revision: str | None
    ) -> run_v2.RevisionTemplate:
        if base_revision is None:
            return run_v2.RevisionTemplate(current.template)
        return template_of(self._read_revision(ref, base_revision))

    def _route(
        self, ref: ServiceRef, main: TrafficTarget, etag: str, options: _Options
    ) -> Service | None:
        what = f"Moving traffic of {_label(ref)}"
        current = self._current(ref, etag, what)
        targets = with_tags(main, to_service(ref, current).traffic)
        return self._send_traffic(ref, current, targets, what, options)

    def _send_traffic(
        self,
        ref: ServiceRef,
        current: Any,
        targets: Sequence[TrafficTarget],
        what: str,
        options: _Options,
    ) -> Service | None:
        service = run_v2.Service(
            name=ref.name, etag=current.etag, traffic=[target_message(t) for t in targets]
        )
        return self._send(ref, current, service, ["traffic"], what, options)

    def _send(
        self,
        ref: ServiceRef,
        current: Any,
        service: run_v2.Service,
        paths: list[str],
        what: str,
        options: _Options,
        revision: str = "",
    ) -> Service | None:
        """UpdateService, then its outcome: None for a dry run, else the service when done."""
        request = run_v2.UpdateServiceRequest(
            service=service,
            update_mask=field_mask_pb2.FieldMask(paths=paths),
            validate_only=options.validate_only,
        )
        try:
            with translated(what):
                operation = self._services().update_service(
                    request=request, retry=None, timeout=self._clients.settings.timeout
                )
        except AlreadyExists as err:
            if not revision:
                raise
            raise AlreadyExists(what, f"revision {revision} already exists: {err.detail}") from err
        if options.validate_only:
            # Cloud Run refuses a dry run in the call itself; a done operation may still
            # carry an error, which result() raises. Nothing was persisted either way.
            if operation.operation.done:
                with translated(what):
                    operation.result()
            return None
        return self._follow(ref, current, operation, options, what)

    def _follow(
        self, ref: ServiceRef, current: Any, operation: Any, options: _Options, what: str
    ) -> Service:
        """Polls the operation (or the service, if the operation cannot be read) to the end."""
        generation = generation_after(operation, int(current.generation))
        follow = Follow(
            operation, lambda: self._read(ref), generation, self._clients.settings, what
        )
        name = operation.operation.name
        started = time.monotonic()
        while True:
            done = follow.done()
            elapsed = time.monotonic() - started
            if options.on_progress is not None:
                options.on_progress(OperationProgress(name, done, elapsed))
            if done:
                break
            self._pause(name, elapsed, options, what)
        service, failure = follow.outcome()
        if failure:
            raise OperationFailed(what, failure, service=self._now(ref, service))
        return to_service(ref, service)

    def _pause(self, operation: str, elapsed: float, options: _Options, what: str) -> None:
        """Sleeps until the next poll; Unavailable once the deadline has passed."""
        if elapsed >= options.deadline:
            raise Unavailable(
                what,
                f"operation {operation} was not done after {options.deadline:.0f}s; it may"
                " still finish, so check the service's state before trying again",
            )
        poll = self._clients.settings.operation_poll
        time.sleep(min(poll, max(options.deadline - elapsed, 0.0)))

    def _now(self, ref: ServiceRef, service: Any) -> Service | None:
        """The service after a failed change: as already read, or read now if it can be."""
        if service is not None:
            return to_service(ref, service)
        try:
            return to_service(ref, self._read(ref))
        except GcpError:
            return None


def _check_deploy_change(change: ServiceChange | None, what: str) -> None:
    """A deploy changes the template only: instance limits belong to update_scaling."""
    if change is None:
        return
    if change.min_instances is not None or change.max_instances is not None:
        raise InvalidArgument(what, "a deploy sets memory, CPU or concurrency, not instances")
    problems = zero_means_default(change)
    if problems:
        raise InvalidArgument(what, " ".join(problems))


def _label(ref: ServiceRef) -> str:
    return f"{ref.service} ({ref.project}, {ref.region})"
