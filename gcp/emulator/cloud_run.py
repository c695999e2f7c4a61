"""Cloud Run Admin API v2: Services, Revisions and their long-running operations.

Behaves like Cloud Run where the bot's safety depends on it: a template change creates one
revision (`<service>-000NN-xyz`, or the name in `template.revision`), a traffic or
service-level scaling change does not; `traffic` is validated; every update changes `etag`
and `generation`, and an update carrying a stale `etag` is refused with ABORTED (unless
`enforce_etags` is off, like a Cloud Run that ignores them); resources are checked against
the emulator's own reading of the documentation (`run_limits`). `validate_only` runs every
check and answers a done operation carrying the service as it would be, changing nothing.

UpdateService answers a google.longrunning Operation that completes `operation_delay`
seconds later (checked lazily on every call, no threads). Then the new revision becomes
Ready and `traffic_statuses` follow, or the change fails with the spec already changed: the
revision fails (`fail_next_revision`), or traffic names a revision that is not Ready (Cloud
Run accepts such an update and fails its operation); `traffic_statuses`,
`observed_generation` and `latest_ready_revision` then keep the last serving state and
`terminal_condition` says why (Service.reconciling in run/v2/service.proto).
`operations_denied` makes GetOperation answer as it does without `run.operations.get`.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud import run_v2
from google.longrunning import operations_pb2
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from gcp.emulator import run_seed, run_traffic
from gcp.emulator.core import (
    EmulatorError,
    Faults,
    Handler,
    Method,
    RevisionHealth,
    TrafficSource,
    invalid,
    not_found,
    paginate,
    service_handler,
)
from gcp.emulator.run_template import (
    FAILED,
    READY,
    RECONCILING,
    SUCCEEDED,
    ConditionPb,
    ServicePb,
    apply_defaults,
    build_revision,
    ready_state,
    scaling_problems,
    set_ready,
    template_problems,
)

if TYPE_CHECKING:
    from gcp.emulator.audit import AuditTrail

SERVICES_API = "google.cloud.run.v2.Services"
REVISIONS_API = "google.cloud.run.v2.Revisions"
OPERATIONS_API = "google.longrunning.Operations"
# Fields a caller sets; everything else on a Service is output only.
SPEC_FIELDS = (
    "description",
    "labels",
    "annotations",
    "client",
    "client_version",
    "ingress",
    "launch_stage",
    "binary_authorization",
    "template",
    "traffic",
    "scaling",
    "invoker_iam_disabled",
    "default_uri_disabled",
    "custom_audiences",
    "iap_enabled",
)
DEFAULT_FAILURE = (
    "The user-provided container failed to start and listen on the port defined provided by"
    " the PORT=8080 environment variable within the allocated timeout."
)
_SERVICE = re.compile(r"projects/([^/]+)/locations/([^/]+)/services/([^/]+)")
_REVISION = re.compile(r"(projects/[^/]+/locations/[^/]+/services/[^/]+)/revisions/([^/]+)")
_PARENT = re.compile(r"projects/([^/]+)/locations/([^/]+)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _pb(proto_plus_cls: Any) -> Any:
    return proto_plus_cls.pb()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Rollout:
    """An accepted update whose operation is not done yet."""

    operation: str
    service: str
    revision: str  # the revision it creates, or ""
    due: float  # time.monotonic() when it completes
    failure: str  # why the revision fails to become Ready, or ""


class CloudRun(TrafficSource):
    """Services and revisions per full name; tests and the sandbox read them directly."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, seed: int | None = None) -> None:
        self.clock = clock
        self.operation_delay = 0.0
        self.enforce_etags = True
        self.operations_denied: grpc.StatusCode | None = None
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._services: dict[str, Any] = {}
        self._revisions: dict[str, dict[str, Any]] = {}  # service name -> short name -> pb
        self._numbers: dict[str, int] = {}
        self._operations: dict[str, Any] = {}
        self._rollouts: list[_Rollout] = []
        self._health: dict[tuple[str, str], RevisionHealth] = {}
        self._failures: list[str] = []
        self._split_changed: dict[str, datetime] = {}
        self.audit: AuditTrail | None = None  # where changes are audit-logged, if anywhere

    # --- state, for the seed, tests and the sandbox ----------------------------------------

    def seed_fluxori(self) -> None:
        for seeded in run_seed.fluxori_services(self.clock()):
            self.add_service(seeded.service, seeded.revisions)
            for revision, health in seeded.health.items():
                self.set_health(seeded.service.name, revision, health)

    def add_service(self, service: Any, revisions: Sequence[Any]) -> None:
        """Store copies of a Service protobuf and its Revision protobufs (oldest first)."""
        with self._lock:
            self._services[service.name] = _copy(service)
            self._revisions[service.name] = {_short(r.name): _copy(r) for r in revisions}
            self._numbers[service.name] = service.generation

    def get(self, service_name: str) -> Any:
        """A copy of the Service protobuf named projects/P/locations/R/services/S."""
        with self._lock:
            self._settle()
            return _copy(self._service(service_name))

    def revisions(self, service_name: str) -> list[Any]:
        """Copies of the service's Revision protobufs, newest first."""
        with self._lock:
            self._settle()
            self._service(service_name)
            found = self._revisions[service_name].values()
            return [_copy(r) for r in sorted(found, key=_created, reverse=True)]

    def revision_names(self) -> dict[str, list[str]]:
        """Short revision names per service full name, oldest first (for the Logs seed)."""
        with self._lock:
            return {
                name: [_short(r.name) for r in sorted(revisions.values(), key=_created)]
                for name, revisions in self._revisions.items()
            }

    def fail_next_revision(self, message: str = DEFAULT_FAILURE) -> None:
        """The next revision created fails to become Ready with `message`."""
        with self._lock:
            self._failures.append(message)

    def set_health(self, service_name: str, revision: str, health: RevisionHealth) -> None:
        with self._lock:
            self._health[service_name, revision] = health

    # --- TrafficSource ---------------------------------------------------------------------

    def service_names(self) -> list[str]:
        with self._lock:
            return sorted(self._services)

    def serving_split(self, service_name: str) -> dict[str, int]:
        with self._lock:
            self._settle()
            return run_traffic.split(self._service(service_name).traffic_statuses)

    def split_changed_at(self, service_name: str) -> datetime | None:
        with self._lock:
            self._settle()
            return self._split_changed.get(service_name)

    def revision_health(self, service_name: str, revision: str) -> RevisionHealth:
        with self._lock:
            return self._health.get((service_name, revision), run_seed.HEALTHY)

    # --- gRPC ------------------------------------------------------------------------------

    def handlers(self, faults: Faults) -> list[Handler]:
        services = {
            "GetService": Method(_pb(run_v2.GetServiceRequest), self.get_service),
            "ListServices": Method(_pb(run_v2.ListServicesRequest), self.list_services),
            "UpdateService": Method(_pb(run_v2.UpdateServiceRequest), self.update_service),
        }
        revisions = {
            "GetRevision": Method(_pb(run_v2.GetRevisionRequest), self.get_revision),
            "ListRevisions": Method(_pb(run_v2.ListRevisionsRequest), self.list_revisions),
        }
        operations = {
            "GetOperation": Method(operations_pb2.GetOperationRequest, self.get_operation),
        }
        return [
            service_handler(SERVICES_API, services, faults),
            service_handler(REVISIONS_API, revisions, faults),
            service_handler(OPERATIONS_API, operations, faults),
        ]

    def get_service(self, request: Any) -> Message:
        return self.get(request.name)  # type: ignore[no-any-return]

    def list_services(self, request: Any) -> Message:
        project, region = _parent(request.parent)
        with self._lock:
            self._settle()
            found = [
                _copy(s)
                for name, s in sorted(self._services.items())
                if _matches(name, project, region)
            ]
        page, token = paginate(found, request.page_size, request.page_token, 100)
        response = _pb(run_v2.ListServicesResponse)(next_page_token=token)
        response.services.extend(page)
        return response  # type: ignore[no-any-return]

    def get_revision(self, request: Any) -> Message:
        match = _REVISION.fullmatch(request.name)
        if match is None:
            raise invalid(
                f"name {request.name!r} must be projects/P/locations/L/services/S/revisions/R"
            )
        service_name, short = match.groups()
        with self._lock:
            self._settle()
            self._service(service_name)
            revision = self._revisions[service_name].get(short)
            if revision is None:
                raise not_found(_missing("REVISION", short, service_name))
            return _copy(revision)  # type: ignore[no-any-return]

    def list_revisions(self, request: Any) -> Message:
        found = self.revisions(request.parent)
        page, token = paginate(found, request.page_size, request.page_token, 100)
        response = _pb(run_v2.ListRevisionsResponse)(next_page_token=token)
        response.revisions.extend(page)
        return response  # type: ignore[no-any-return]

    def get_operation(self, request: Any) -> Message:
        if self.operations_denied is not None:
            raise EmulatorError(
                self.operations_denied,
                f"Permission 'run.operations.get' denied on resource '{request.name}'"
                " (or it may not exist).",
            )
        with self._lock:
            self._settle()
            operation = self._operations.get(request.name)
            if operation is None:
                raise not_found(f"Operation {request.name} was not found.")
            return _copy(operation)  # type: ignore[no-any-return]

    def update_service(self, request: Any) -> Message:
        with self._lock:
            self._settle()
            current = self._service(request.service.name)
            stale = request.service.etag and request.service.etag != current.etag
            if stale and self.enforce_etags:
                raise EmulatorError(
                    grpc.StatusCode.ABORTED,
                    f"The resource '{_service_id(current.name)}' has changed since it was read"
                    f" (etag mismatch: the request has {request.service.etag}, the service is"
                    f" at {current.etag}). Read it again and retry.",
                )
            proposed = _merged(current, request.service, request.update_mask)
            if request.validate_only:
                return self._dry_run(current, proposed)
            creating = self._check(current, proposed)
            operation = self._apply(current, proposed, creating)
        if self.audit is not None:
            self.audit.run_change("UpdateService", current.name)
        return operation

    def _dry_run(self, current: Any, proposed: Any) -> Message:
        """Every check, and nothing changes: not even the names the next update generates."""
        names = self._rng.getstate()
        try:
            self._check(current, proposed)
        finally:
            self._rng.setstate(names)
        return _done_operation(_operation_name(current.name), proposed)

    # --- updates ---------------------------------------------------------------------------

    def _check(self, current: Any, proposed: Any) -> str:
        """Validates `proposed`; returns the name of the revision it creates, or ""."""
        apply_defaults(proposed.template)
        if not proposed.traffic:
            proposed.traffic.append(run_traffic.latest_100())
        creating = self._creating(current, proposed)
        revisions = self._revisions[current.name]
        problems = template_problems(proposed.template, _service_id(current.name))
        problems += scaling_problems("scaling", proposed.scaling)
        # A target on a revision that is not Ready is accepted: the operation fails later.
        problems += run_traffic.traffic_problems(proposed.traffic, revisions, creating)
        if problems:
            raise invalid(" ".join(problems))
        if creating in revisions:
            raise EmulatorError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Revision named '{creating}' with different configuration already exists."
                " Leave template.revision empty, or name a new revision.",
            )
        return creating

    def _creating(self, current: Any, proposed: Any) -> str:
        if proposed.template == current.template:
            return ""
        if proposed.template.revision:
            return str(proposed.template.revision)
        number = self._numbers[current.name] + 1
        suffix = "".join(self._rng.choices(_LETTERS, k=3))
        return f"{_service_id(current.name)}-{number:05d}-{suffix}"

    def _apply(self, current: Any, proposed: Any, creating: str) -> Message:
        now = self.clock()
        proposed.generation = current.generation + 1
        proposed.etag = f'"{self._rng.getrandbits(64):016x}"'
        proposed.update_time.FromDatetime(now)
        proposed.reconciling = True
        _set_terminal(proposed, RECONCILING, "Deploying." if creating else "Routing traffic.", now)
        failure = ""
        if creating:
            self._numbers[current.name] += 1
            revision = build_revision(proposed, creating, now, proposed.etag)
            self._revisions[current.name][creating] = revision
            proposed.latest_created_revision = creating
            failure = self._failures.pop(0) if self._failures else ""
        self._services[current.name] = proposed
        operation = operations_pb2.Operation(name=_operation_name(current.name))
        operation.metadata.Pack(proposed)
        self._operations[operation.name] = operation
        due = time.monotonic() + self.operation_delay
        self._rollouts.append(_Rollout(operation.name, current.name, creating, due, failure))
        self._settle()
        return _copy(self._operations[operation.name])  # type: ignore[no-any-return]

    def _settle(self) -> None:
        """Completes every rollout whose delay has passed, oldest first."""
        now = time.monotonic()
        due = [r for r in self._rollouts if r.due <= now]
        for rollout in due:
            self._rollouts.remove(rollout)
            self._complete(rollout)

    def _complete(self, rollout: _Rollout) -> None:
        service = self._services[rollout.service]
        operation = self._operations[rollout.operation]
        at = self.clock()
        service.reconciling = any(r.service == rollout.service for r in self._rollouts)
        if rollout.revision:
            self._finish_revision(rollout, service, at)
        failure = self._failure(rollout, service)
        operation.done = True
        if failure:
            _set_terminal(service, FAILED, failure, at)
            operation.metadata.Pack(service)
            operation.error.code = grpc.StatusCode.FAILED_PRECONDITION.value[0]
            operation.error.message = failure
            return
        before = self._split(service)
        del service.traffic_statuses[:]
        service.traffic_statuses.extend(
            run_traffic.statuses(service.traffic, service.latest_ready_revision, service.uri)
        )
        if self._split(service) != before:
            self._split_changed[rollout.service] = at
        service.observed_generation = service.generation
        _set_terminal(service, SUCCEEDED, "", at)
        operation.metadata.Pack(service)
        operation.response.Pack(service)

    def _finish_revision(self, rollout: _Rollout, service: Any, at: datetime) -> None:
        revision = self._revisions[rollout.service][rollout.revision]
        if rollout.failure:
            set_ready(revision, FAILED, rollout.failure, at)
            return
        set_ready(revision, SUCCEEDED, "", at)
        service.latest_ready_revision = rollout.revision

    def _failure(self, rollout: _Rollout, service: Any) -> str:
        """Why the rollout cannot serve: its revision failed, or traffic names one not Ready."""
        if rollout.failure:
            return (
                f"Revision '{rollout.revision}' is not ready and cannot serve traffic."
                f" {rollout.failure}"
            )
        revisions = self._revisions[rollout.service]
        for target in service.traffic:
            named = revisions.get(target.revision)
            if target.percent and named is not None and ready_state(named) != SUCCEEDED:
                return f"Revision '{target.revision}' is not ready and cannot serve traffic."
        return ""

    @staticmethod
    def _split(service: Any) -> dict[str, int]:
        return run_traffic.split(service.traffic_statuses)

    def _service(self, name: str) -> Any:
        match = _SERVICE.fullmatch(name)
        if match is None:
            raise invalid(f"name {name!r} must be projects/PROJECT/locations/REGION/services/ID")
        service = self._services.get(name)
        if service is None:
            project, region, service_id = match.groups()
            raise not_found(
                f"Resource '{service_id}' of kind 'SERVICE' in region '{region}' in project"
                f" '{project}' does not exist."
            )
        return service


def _merged(current: Any, requested: Any, mask: Any) -> Any:
    """The service as the update asks: masked paths from the request, or every spec field."""
    paths = list(mask.paths) or list(SPEC_FIELDS)
    for path in paths:
        if path.split(".")[0] not in SPEC_FIELDS:
            raise invalid(f"update_mask path {path!r} is not a field that can be updated.")
    field_mask = field_mask_pb2.FieldMask(paths=paths)
    if not field_mask.IsValidForDescriptor(ServicePb.DESCRIPTOR):
        raise invalid(f"update_mask {', '.join(paths)} names a field Service does not have.")
    proposed = _copy(current)
    field_mask.MergeMessage(
        requested, proposed, replace_message_field=True, replace_repeated_field=True
    )
    return proposed


def _set_terminal(service: Any, state: int, message: str, at: datetime) -> None:
    condition = service.terminal_condition
    condition.Clear()
    condition.type_ = READY
    condition.state = state
    condition.message = message
    condition.last_transition_time.FromDatetime(at)
    if state == FAILED:
        condition.severity = ConditionPb.Severity.Value("ERROR")
        condition.reason = ConditionPb.CommonReason.Value("REVISION_FAILED")
    for other in service.conditions:
        other.state = state
        other.last_transition_time.FromDatetime(at)


def _done_operation(name: str, service: Any) -> Message:
    operation = operations_pb2.Operation(name=name, done=True)
    operation.metadata.Pack(service)
    operation.response.Pack(service)
    return operation  # type: ignore[no-any-return]


def _operation_name(service_name: str) -> str:
    parent = service_name.split("/services/")[0]
    return f"{parent}/operations/{uuid.uuid4()}"


def _parent(parent: str) -> tuple[str, str]:
    match = _PARENT.fullmatch(parent)
    if match is None:
        raise invalid(f"parent {parent!r} must be projects/PROJECT/locations/REGION")
    return match.group(1), match.group(2)


def _matches(service_name: str, project: str, region: str) -> bool:
    match = _SERVICE.fullmatch(service_name)
    assert match is not None
    return match.group(1) == project and region in ("-", match.group(2))


def _missing(kind: str, short: str, service_name: str) -> str:
    match = _SERVICE.fullmatch(service_name)
    assert match is not None
    project, region, _ = match.groups()
    return (
        f"Resource '{short}' of kind '{kind}' in region '{region}' in project '{project}'"
        " does not exist."
    )


def _copy(message: Any) -> Any:
    copied = type(message)()
    copied.CopyFrom(message)
    return copied


def _short(revision_name: str) -> str:
    return revision_name.rsplit("/", 1)[-1]


def _service_id(service_name: str) -> str:
    return service_name.rsplit("/", 1)[-1]


def _created(revision: Any) -> tuple[int, int]:
    return revision.create_time.seconds, revision.create_time.nanos
