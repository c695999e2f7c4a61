"""gcp/emulator's Cloud Run v2, driven by the generated run_v2 clients over gRPC."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import run_v2
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.protobuf import field_mask_pb2

from gcp.clients import Clients
from gcp.emulator import Emulator, fluxori
from tests.support.models import PROD_BACKEND

BACKEND = PROD_BACKEND.name
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION


@pytest.fixture
def services(clients: Clients) -> Any:
    return clients.build(run_v2.ServicesClient, ServicesGrpcTransport)


@pytest.fixture
def revisions(clients: Clients) -> Any:
    return clients.build(run_v2.RevisionsClient, RevisionsGrpcTransport)


def update(services: Any, service: run_v2.Service, *paths: str, validate_only: bool = False) -> Any:
    request = run_v2.UpdateServiceRequest(
        service=service,
        update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
        validate_only=validate_only,
    )
    return services.update_service(request=request)


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def revision_target(name: str, percent: int, tag: str = "") -> run_v2.TrafficTarget:
    return run_v2.TrafficTarget(type_=REVISION, revision=name, percent=percent, tag=tag)


def with_memory(service: Any, memory: str) -> run_v2.RevisionTemplate:
    template = run_v2.RevisionTemplate(service.template)
    template.containers[0].resources.limits["memory"] = memory
    return template


# --- the fluxori seed ----------------------------------------------------------------------


def test_seed_has_both_services_in_every_project(emulator: Emulator) -> None:
    """Every project has fluxori-backend and fluxori-frontend with at least 4 Ready revisions,
    the newest serving 100% through LATEST."""
    for project in fluxori.PROJECTS:
        for service_id in fluxori.SERVICES:
            name = f"projects/{project}/locations/{fluxori.REGION}/services/{service_id}"
            service = emulator.run.get(name)
            found = emulator.run.revisions(name)
            assert len(found) >= 4
            newest = found[0].name.rsplit("/", 1)[-1]
            assert service.latest_ready_revision == newest
            assert [t.type_ for t in service.traffic] == [LATEST]
            assert emulator.run.serving_split(name) == {newest: 100}
            image = service.template.containers[0].image
            assert image.startswith(f"{fluxori.REGION}-docker.pkg.dev/{project}/fluxori/")


def test_seed_marks_only_the_prod_backends_newest_revision_unhealthy(emulator: Emulator) -> None:
    """revision_health: prod backend's newest revision errors (~12%, ~1800 ms), others do not."""
    for name in emulator.run.service_names():
        names = emulator.run.revision_names()[name]
        for revision in names:
            health = emulator.run.revision_health(name, revision)
            unhealthy = name == BACKEND and revision == names[-1]
            assert health.error_rate == (0.12 if unhealthy else 0.002)
            assert health.latency_ms == (1800.0 if unhealthy else 120.0)


def test_seed_pins_the_backend_to_jwt_secret_version_3(services: Any) -> None:
    """The backend's container reads jwt-secret as JWT_SECRET pinned to version 3."""
    service = services.get_service(name=BACKEND)
    refs = {
        e.name: e.value_source.secret_key_ref
        for e in service.template.containers[0].env
        if "value_source" in e
    }
    assert (refs["JWT_SECRET"].secret, refs["JWT_SECRET"].version) == ("jwt-secret", "3")
    assert (service.scaling.min_instance_count, service.scaling.max_instance_count) == (2, 10)


# --- reads ---------------------------------------------------------------------------------


def test_list_services_and_revisions_page_through_results(services: Any, revisions: Any) -> None:
    """ListServices lists a project's services; ListRevisions pages newest first."""
    listed = services.list_services(parent="projects/fluxori-prod/locations/africa-south1")
    assert sorted(s.name.rsplit("/", 1)[-1] for s in listed) == list(fluxori.SERVICES)
    pager = revisions.list_revisions(request={"parent": BACKEND, "page_size": 2})
    all_revisions = list(pager)
    assert len(all_revisions) >= 4
    times = [r.create_time for r in all_revisions]
    assert times == sorted(times, reverse=True)


def test_unknown_names_are_not_found_in_cloud_runs_words(services: Any, revisions: Any) -> None:
    """NOT_FOUND names the resource, its kind, region and project, as Cloud Run does."""
    missing = "projects/fluxori-prod/locations/africa-south1/services/nope"
    with pytest.raises(gexc.NotFound, match="Resource 'nope' of kind 'SERVICE' in region"):
        services.get_service(name=missing)
    with pytest.raises(gexc.NotFound, match="of kind 'REVISION'"):
        revisions.get_revision(name=f"{BACKEND}/revisions/fluxori-backend-99999-abc")


# --- updates -------------------------------------------------------------------------------


def test_update_returns_an_operation_whose_result_is_the_service(services: Any) -> None:
    """UpdateService answers an Operation the client unpacks: metadata and result are Services."""
    current = services.get_service(name=BACKEND)
    scaling = run_v2.ServiceScaling(min_instance_count=3, max_instance_count=10)
    operation = update(services, run_v2.Service(name=BACKEND, scaling=scaling), "scaling")
    result = operation.result(timeout=5)
    assert result.scaling.min_instance_count == 3
    assert result.generation == current.generation + 1
    assert result.etag != current.etag
    assert operation.metadata.name == BACKEND


def test_stale_etag_is_aborted_and_changes_nothing(services: Any, emulator: Emulator) -> None:
    """An update carrying an old etag is ABORTED with an etag-mismatch message."""
    old = services.get_service(name=BACKEND)
    update(services, run_v2.Service(name=BACKEND, etag=old.etag, template=with_memory(old, "2Gi")))
    current = emulator.run.get(BACKEND)
    stale = run_v2.Service(name=BACKEND, etag=old.etag, template=with_memory(old, "4Gi"))
    with pytest.raises(gexc.Aborted, match=r"has changed.*etag mismatch"):
        update(services, stale, "template")
    assert emulator.run.get(BACKEND) == current


def test_template_change_creates_one_revision_with_a_cloud_run_name(
    services: Any, emulator: Emulator
) -> None:
    """A template change creates one revision <service>-000NN-xyz, numbered after the last."""
    current = services.get_service(name=BACKEND)
    before = emulator.run.revision_names()[BACKEND]
    update(services, run_v2.Service(name=BACKEND, template=with_memory(current, "2Gi")), "template")
    after = emulator.run.revision_names()[BACKEND]
    assert after[:-1] == before
    number = int(before[-1].split("-")[2]) + 1
    assert re.fullmatch(rf"fluxori-backend-{number:05d}-[a-z]{{3}}", after[-1])


def test_traffic_and_service_scaling_changes_create_no_revision(
    services: Any, emulator: Emulator
) -> None:
    """Traffic-only and Service.scaling-only updates leave the revisions as they were."""
    names = emulator.run.revision_names()[BACKEND]
    pinned = run_v2.Service(name=BACKEND, traffic=[revision_target(names[0], 100)])
    update(services, pinned, "traffic")
    scaling = run_v2.ServiceScaling(min_instance_count=0, max_instance_count=4)
    update(services, run_v2.Service(name=BACKEND, scaling=scaling), "scaling")
    assert emulator.run.revision_names()[BACKEND] == names
    assert emulator.run.serving_split(BACKEND) == {names[0]: 100}


def test_template_scaling_is_a_template_change(services: Any, emulator: Emulator) -> None:
    """template.scaling (revision-level instance limits) creates a revision, unlike
    Service.scaling."""
    count = len(emulator.run.revision_names()[BACKEND])
    template = run_v2.RevisionTemplate(
        scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=5)
    )
    result = update(
        services, run_v2.Service(name=BACKEND, template=template), "template.scaling"
    ).result(timeout=5)
    assert len(emulator.run.revision_names()[BACKEND]) == count + 1
    newest = emulator.run.revisions(BACKEND)[0]
    assert (newest.scaling.min_instance_count, newest.scaling.max_instance_count) == (1, 5)
    assert result.template.containers[0].image  # the rest of the template is kept


def test_named_revision_must_carry_the_service_prefix_and_be_new(
    services: Any, emulator: Emulator
) -> None:
    """template.revision names the new revision; a foreign prefix or a reused name is refused."""
    current = services.get_service(name=BACKEND)
    template = with_memory(current, "2Gi")
    template.revision = "backend-v2"
    with pytest.raises(gexc.InvalidArgument, match="must be prefixed by the name"):
        update(services, run_v2.Service(name=BACKEND, template=template), "template")
    template.revision = "fluxori-backend-v2"
    update(services, run_v2.Service(name=BACKEND, template=template), "template")
    assert emulator.run.revision_names()[BACKEND][-1] == "fluxori-backend-v2"
    template.containers[0].resources.limits["memory"] = "4Gi"
    with pytest.raises(gexc.AlreadyExists, match="'fluxori-backend-v2'"):
        update(services, run_v2.Service(name=BACKEND, template=template), "template")


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([("", 90, "")], "must sum to 100, not 90"),
        ([("fluxori-backend-99999-zzz", 100, "")], "referenced in traffic not found"),
        ([("", 100, "blue"), ("", 0, "blue")], "tag 'blue' is used by more than one target"),
        ([("", 100, "Not_A_Tag")], "must be lowercase letters"),
        ([("", 150, "")], "is not between 0 and 100"),
    ],
)
def test_invalid_traffic_is_refused_with_a_reason(
    services: Any, emulator: Emulator, targets: list[tuple[str, int, str]], message: str
) -> None:
    """Traffic must sum to 100, name existing revisions and use distinct, well-formed tags."""
    newest = emulator.run.revision_names()[BACKEND][-1]
    traffic = [revision_target(name or newest, percent, tag) for name, percent, tag in targets]
    before = emulator.run.get(BACKEND)
    with pytest.raises(gexc.InvalidArgument, match=re.escape(message)):
        update(services, run_v2.Service(name=BACKEND, traffic=traffic), "traffic")
    assert emulator.run.get(BACKEND) == before


def test_traffic_may_name_the_revision_the_update_creates(
    services: Any, emulator: Emulator
) -> None:
    """A pinned split can include the revision being created, at 0% under a tag."""
    current = services.get_service(name=BACKEND)
    serving = current.latest_ready_revision
    template = with_memory(current, "2Gi")
    template.revision = "fluxori-backend-canary"
    traffic = [revision_target(serving, 100), revision_target(template.revision, 0, "canary")]
    result = update(
        services,
        run_v2.Service(name=BACKEND, template=template, traffic=traffic),
        "template",
        "traffic",
    ).result(timeout=5)
    assert emulator.run.serving_split(BACKEND) == {serving: 100}
    tagged = next(s for s in result.traffic_statuses if s.tag == "canary")
    assert tagged.revision == "fluxori-backend-canary"
    assert tagged.uri.startswith("https://canary---fluxori-backend-")


def test_invalid_resources_are_refused_with_cloud_runs_reason(services: Any) -> None:
    """Memory outside the CPU's range is INVALID_ARGUMENT naming the field and the range."""
    current = services.get_service(name=BACKEND)
    template = with_memory(current, "6Gi")
    with pytest.raises(gexc.InvalidArgument) as raised:
        update(services, run_v2.Service(name=BACKEND, template=template), "template")
    assert "template.containers[0].resources.limits" in raised.value.message
    assert "For 1 CPU, memory must be at most 4Gi inclusive" in raised.value.message


def test_service_scaling_min_above_max_is_refused(services: Any) -> None:
    """Service.scaling with min above max is INVALID_ARGUMENT."""
    scaling = run_v2.ServiceScaling(min_instance_count=8, max_instance_count=4)
    with pytest.raises(gexc.InvalidArgument, match=r"min_instance_count \(8\) must not be greater"):
        update(services, run_v2.Service(name=BACKEND, scaling=scaling), "scaling")


def test_update_without_mask_replaces_the_whole_service(services: Any, emulator: Emulator) -> None:
    """Without update_mask every settable field is replaced: unset traffic means LATEST 100%."""
    current = services.get_service(name=BACKEND)
    pinned = run_v2.Service(
        name=BACKEND, traffic=[revision_target(current.latest_ready_revision, 100)]
    )
    update(services, pinned, "traffic")
    replacement = services.get_service(name=BACKEND)
    replacement.labels = {"app": "fluxori"}
    del replacement.traffic[:]
    update(services, replacement)
    after = emulator.run.get(BACKEND)
    assert dict(after.labels) == {"app": "fluxori"}
    assert [t.type_ for t in after.traffic] == [LATEST]
    assert after.uri == current.uri


def test_unknown_mask_paths_are_refused(services: Any) -> None:
    """A mask naming an output-only or unknown field is INVALID_ARGUMENT."""
    with pytest.raises(gexc.InvalidArgument, match="not a field that can be updated"):
        update(services, run_v2.Service(name=BACKEND, uri="https://x"), "uri")
    with pytest.raises(gexc.InvalidArgument, match="does not have"):
        update(services, run_v2.Service(name=BACKEND), "template.nonsense")


def test_validate_only_checks_without_changing(services: Any, emulator: Emulator) -> None:
    """validate_only answers a done operation and changes nothing."""
    before = emulator.run.get(BACKEND)
    scaling = run_v2.ServiceScaling(min_instance_count=1, max_instance_count=3)
    result = update(
        services, run_v2.Service(name=BACKEND, scaling=scaling), "scaling", validate_only=True
    ).result(timeout=5)
    assert result.scaling.max_instance_count == 3
    assert emulator.run.get(BACKEND) == before


# --- long-running operations ---------------------------------------------------------------


def test_delayed_operation_reconciles_then_routes_to_the_new_revision(
    services: Any, emulator: Emulator
) -> None:
    """With operation_delay, the service is reconciling and traffic stays on the old revision
    until the operation is done; then the new revision is Ready and takes LATEST's 100%."""
    emulator.run.operation_delay = 0.2
    current = services.get_service(name=BACKEND)
    old = current.latest_ready_revision
    operation = update(
        services, run_v2.Service(name=BACKEND, template=with_memory(current, "2Gi")), "template"
    )
    assert not operation.done()
    during = services.get_service(name=BACKEND)
    assert during.reconciling
    assert during.latest_ready_revision == old
    assert emulator.run.serving_split(BACKEND) == {old: 100}
    wait_until(operation.done)
    after = services.get_service(name=BACKEND)
    assert not after.reconciling
    assert after.latest_ready_revision == after.latest_created_revision != old
    assert emulator.run.serving_split(BACKEND) == {after.latest_created_revision: 100}


def test_failed_revision_fails_the_operation_and_keeps_traffic(
    services: Any, emulator: Emulator
) -> None:
    """fail_next_revision: the operation ends in error, the revision's Ready condition failed,
    traffic on the previous revision."""
    emulator.run.fail_next_revision("listen on port 8080 failed")
    current = services.get_service(name=BACKEND)
    operation = update(
        services, run_v2.Service(name=BACKEND, template=with_memory(current, "2Gi")), "template"
    )
    with pytest.raises(gexc.GoogleAPICallError, match="is not ready and cannot serve traffic"):
        operation.result(timeout=5)
    failed = emulator.run.revisions(BACKEND)[0]
    ready = next(c for c in failed.conditions if c.type_ == "Ready")
    assert ready.state == run_v2.Condition.State.CONDITION_FAILED
    assert ready.message == "listen on port 8080 failed"
    assert emulator.run.serving_split(BACKEND) == {current.latest_ready_revision: 100}
    assert emulator.run.get(BACKEND).latest_ready_revision == current.latest_ready_revision


def test_operations_are_found_by_name(services: Any, emulator: Emulator) -> None:
    """GetOperation serves operations by name and answers NOT_FOUND for others; with
    operations_denied it answers that code, naming the missing permission."""
    emulator.run.operation_delay = 0.05
    scaling = run_v2.ServiceScaling(min_instance_count=1, max_instance_count=10)
    operation = update(services, run_v2.Service(name=BACKEND, scaling=scaling), "scaling")
    name = operation.operation.name
    assert name.startswith("projects/fluxori-prod/locations/africa-south1/operations/")
    wait_until(operation.done)
    assert services.get_operation({"name": name}).done
    with pytest.raises(gexc.NotFound):
        services.get_operation({"name": f"{name}-missing"})
    emulator.run.operations_denied = grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(gexc.PermissionDenied, match=re.escape("run.operations.get")):
        services.get_operation({"name": name})


# --- Cloud Run's documented limits (the emulator's own table) ------------------------------


def with_resources(service: Any, cpu: str, memory: str, **fields: Any) -> run_v2.RevisionTemplate:
    template = run_v2.RevisionTemplate(service.template, **fields)
    template.containers[0].resources.limits.update({"cpu": cpu, "memory": memory})
    return template


def memory_of(service: Any) -> str:
    return str(service.template.containers[0].resources.limits["memory"])


FRACTION_OK = {
    "max_instance_request_concurrency": 1,
    "execution_environment": run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1,
}


def test_six_cpu_with_32gi_is_refused(services: Any) -> None:
    """6 vCPU allows 4 to 24 GiB: 32Gi is INVALID_ARGUMENT, 24Gi is accepted."""
    current = services.get_service(name=BACKEND)
    refused = run_v2.Service(name=BACKEND, template=with_resources(current, "6", "32Gi"))
    with pytest.raises(
        gexc.InvalidArgument, match="For 6 CPU, memory must be between 4Gi and 24Gi"
    ):
        update(services, refused, "template")
    accepted = run_v2.Service(name=BACKEND, template=with_resources(current, "6", "24Gi"))
    assert memory_of(update(services, accepted, "template").result(timeout=5)) == "24Gi"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (FRACTION_OK, ""),
        ({**FRACTION_OK, "max_instance_request_concurrency": 80}, "must be 1, not 80"),
        ({**FRACTION_OK, "execution_environment": 2}, "must be the first generation"),
        ({"max_instance_request_concurrency": 1}, "must be the first generation"),  # seed: gen2
    ],
)
def test_a_fraction_of_a_cpu_needs_concurrency_1_and_the_first_generation(
    services: Any, fields: dict[str, Any], message: str
) -> None:
    """0.5 CPU is accepted with concurrency 1 on the first generation, refused otherwise."""
    current = services.get_service(name=BACKEND)
    template = with_resources(current, "0.5", "512Mi", **fields)
    request = run_v2.Service(name=BACKEND, template=template)
    if not message:
        assert memory_of(update(services, request, "template").result(timeout=5)) == "512Mi"
        return
    with pytest.raises(gexc.InvalidArgument, match=message):
        update(services, request, "template")


def test_a_fraction_of_a_cpu_always_allocated_is_refused(services: Any) -> None:
    """Below 1 CPU, CPU must be request-based: cpu_idle false is INVALID_ARGUMENT."""
    current = services.get_service(name=BACKEND)
    template = with_resources(current, "250m", "512Mi", **FRACTION_OK)
    template.containers[0].resources.cpu_idle = False
    with pytest.raises(gexc.InvalidArgument, match=r"only during requests \(cpu_idle\)"):
        update(services, run_v2.Service(name=BACKEND, template=template), "template")


def test_concurrency_left_unset_defaults_to_1_below_one_cpu(services: Any) -> None:
    """Unset concurrency is 80 from 1 CPU up and 1 below (RevisionTemplate's documentation)."""
    current = services.get_service(name=BACKEND)
    template = with_resources(current, "0.5", "512Mi", **FRACTION_OK)
    template.max_instance_request_concurrency = 0
    result = update(services, run_v2.Service(name=BACKEND, template=template), "template")
    assert result.result(timeout=5).template.max_instance_request_concurrency == 1


def test_the_first_generation_takes_less_memory(services: Any) -> None:
    """128Mi is refused on the second generation and accepted on the first."""
    current = services.get_service(name=BACKEND)
    second = run_v2.Service(name=BACKEND, template=with_resources(current, "1", "128Mi"))
    with pytest.raises(gexc.InvalidArgument, match="between 512Mi and 32Gi"):
        update(services, second, "template")
    gen1 = {"execution_environment": run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1}
    first = run_v2.Service(name=BACKEND, template=with_resources(current, "1", "128Mi", **gen1))
    assert memory_of(update(services, first, "template").result(timeout=5)) == "128Mi"


# --- validate_only, etags, operations ------------------------------------------------------


def test_validate_only_of_a_template_change_creates_no_revision(
    services: Any, emulator: Emulator
) -> None:
    """A dry-run template change is done at once, with defaults filled in, and creates nothing."""
    current = services.get_service(name=BACKEND)
    before, names = emulator.run.get(BACKEND), emulator.run.revision_names()[BACKEND]
    template = with_memory(current, "2Gi")
    template.max_instance_request_concurrency = 0
    request = run_v2.Service(name=BACKEND, etag=current.etag, template=template)
    operation = update(services, request, "template", validate_only=True)
    assert operation.done()
    assert operation.result().template.max_instance_request_concurrency == 80
    assert emulator.run.get(BACKEND) == before
    assert emulator.run.revision_names()[BACKEND] == names


def test_validate_only_refuses_what_an_update_would(services: Any, emulator: Emulator) -> None:
    """A dry run answers ABORTED for a stale etag and ALREADY_EXISTS for a taken name."""
    current = services.get_service(name=BACKEND)
    stale = run_v2.Service(name=BACKEND, etag='"stale"', template=with_memory(current, "2Gi"))
    with pytest.raises(gexc.Aborted, match="etag mismatch"):
        update(services, stale, "template", validate_only=True)
    taken = with_memory(current, "2Gi")
    taken.revision = emulator.run.revision_names()[BACKEND][0]
    with pytest.raises(gexc.AlreadyExists, match=f"'{taken.revision}'"):
        update(
            services, run_v2.Service(name=BACKEND, template=taken), "template", validate_only=True
        )


def test_etags_can_be_ignored_like_a_cloud_run_that_does_not_check_them(
    services: Any, emulator: Emulator
) -> None:
    """enforce_etags off: an update carrying a stale etag is applied."""
    old = services.get_service(name=BACKEND)
    update(services, run_v2.Service(name=BACKEND, template=with_memory(old, "2Gi")), "template")
    emulator.run.enforce_etags = False
    stale = run_v2.Service(name=BACKEND, etag=old.etag, template=with_memory(old, "4Gi"))
    update(services, stale, "template").result(timeout=5)
    limits = emulator.run.get(BACKEND).template.containers[0].resources.limits
    assert limits["memory"] == "4Gi"


def test_traffic_to_a_revision_that_is_not_ready_is_accepted_then_fails(
    services: Any, emulator: Emulator
) -> None:
    """Cloud Run accepts the split, then fails the operation: the spec names the revision,
    traffic_statuses and observed_generation keep the last serving state."""
    emulator.run.fail_next_revision("listen on port 8080 failed")
    current = services.get_service(name=BACKEND)
    serving = current.latest_ready_revision
    failing = update(
        services, run_v2.Service(name=BACKEND, template=with_memory(current, "2Gi")), "template"
    )
    with pytest.raises(gexc.GoogleAPICallError):
        failing.result(timeout=5)
    broken = emulator.run.get(BACKEND).latest_created_revision
    accepted = update(
        services, run_v2.Service(name=BACKEND, traffic=[revision_target(broken, 100)]), "traffic"
    )
    with pytest.raises(gexc.GoogleAPICallError, match=f"'{broken}' is not ready"):
        accepted.result(timeout=5)
    after = emulator.run.get(BACKEND)
    assert [t.revision for t in after.traffic] == [broken]
    assert emulator.run.serving_split(BACKEND) == {serving: 100}
    assert after.observed_generation == current.generation
    assert after.generation == current.generation + 2
    assert after.terminal_condition.state == run_v2.Condition.State.CONDITION_FAILED
    assert not after.reconciling
