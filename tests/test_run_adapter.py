"""The Cloud Run adapter over the real client library, against the emulator."""

from __future__ import annotations

import re

import grpc
import pytest
from google.cloud import run_v2
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport

from gcp import errors, run_rules
from gcp.clients import Clients
from gcp.emulator import Emulator
from gcp.models import OperationProgress, SecretRef, ServiceChange, ServiceRef, TrafficTarget
from gcp.run import CloudRunAdapter
from tests.support.models import PROD_BACKEND

PROD_FRONTEND = ServiceRef("fluxori-prod", "africa-south1", "fluxori-frontend")
GENERATED_NAME = re.compile(r"fluxori-backend-\d{5}-[a-z]{3}")


@pytest.fixture
def run(clients: Clients) -> CloudRunAdapter:
    return CloudRunAdapter(clients)


def revision_count(emulator: Emulator, ref: ServiceRef = PROD_BACKEND) -> int:
    return len(emulator.run.revisions(ref.name))


# --- reads ---------------------------------------------------------------------------------


def test_get_service_reads_every_field_of_the_seeded_backend(run: CloudRunAdapter) -> None:
    """get_service fills uri, etag, image, revisions, traffic, scaling, resources, env, secrets."""
    service = run.get_service(PROD_BACKEND)
    assert service.uri.startswith("https://fluxori-backend-")
    assert service.uri.endswith(".a.run.app")
    assert service.etag
    assert service.generation > 0
    assert service.image.startswith("africa-south1-docker.pkg.dev/fluxori-prod/fluxori/backend:")
    assert service.latest_ready_revision == service.latest_created_revision
    assert service.traffic == (TrafficTarget(percent=100, latest=True),)
    assert service.serving == {service.latest_ready_revision: 100}
    assert (service.scaling.min_instances, service.scaling.max_instances) == (2, 10)
    assert (service.resources.cpu, service.resources.memory) == ("1", "1Gi")
    assert service.concurrency == 80
    assert service.env["NODE_ENV"] == "production"
    assert service.secrets == (SecretRef("jwt-secret", "3", env_var="JWT_SECRET"),)
    assert service.ready is not None
    assert service.ready.ok
    assert {c.type for c in service.conditions} >= {"RoutesReady", "ConfigurationsReady"}
    assert service.update_time is not None


def test_get_service_reads_the_frontend_resources(run: CloudRunAdapter) -> None:
    """The frontend runs 1 CPU with 512Mi and consumes no secret."""
    service = run.get_service(PROD_FRONTEND)
    assert (service.resources.cpu, service.resources.memory) == ("1", "512Mi")
    assert service.secrets == ()
    assert service.image.rsplit("/", 1)[-1].startswith("frontend:")


def test_list_revisions_returns_ready_revisions_newest_first(run: CloudRunAdapter) -> None:
    """Revisions come newest first, the newest being the latest created, all Ready."""
    service = run.get_service(PROD_BACKEND)
    revisions = run.list_revisions(PROD_BACKEND)
    assert len(revisions) >= 3
    assert revisions[0].name == service.latest_created_revision
    times = [r.create_time for r in revisions]
    assert times == sorted(times, reverse=True)
    assert all(r.ready and r.service == "fluxori-backend" for r in revisions)
    assert len(run.list_revisions(PROD_BACKEND, limit=2)) == 2


def test_get_revision_reads_image_resources_and_secret_pin(run: CloudRunAdapter) -> None:
    """get_revision returns the revision's own image, resources and secret version."""
    newest = run.list_revisions(PROD_BACKEND, limit=1)[0]
    revision = run.get_revision(PROD_BACKEND, newest.name)
    assert revision == newest
    assert revision.resources.memory == "1Gi"
    assert revision.secrets[0].version == "3"


# --- traffic -------------------------------------------------------------------------------


def test_pin_older_revision_moves_all_traffic_without_a_new_revision(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """Pinning an older revision puts it at 100% in traffic_statuses; no revision is created."""
    before = run.get_service(PROD_BACKEND)
    older = run.list_revisions(PROD_BACKEND)[1].name
    count = revision_count(emulator)
    after = run.pin_revision(PROD_BACKEND, older, before.etag)
    assert after.serving == {older: 100}
    assert after.traffic == (TrafficTarget(percent=100, revision=older),)
    assert after.etag != before.etag
    assert after.generation == before.generation + 1
    assert revision_count(emulator) == count
    assert emulator.run.serving_split(PROD_BACKEND.name) == {older: 100}


def test_route_to_latest_follows_the_latest_ready_revision_again(run: CloudRunAdapter) -> None:
    """After a pin, route_to_latest sends 100% back to the latest ready revision."""
    start = run.get_service(PROD_BACKEND)
    older = run.list_revisions(PROD_BACKEND)[2].name
    pinned = run.pin_revision(PROD_BACKEND, older, start.etag)
    back = run.route_to_latest(PROD_BACKEND, pinned.etag)
    assert back.traffic == (TrafficTarget(percent=100, latest=True),)
    assert back.serving == {start.latest_ready_revision: 100}


def test_stale_etag_is_a_conflict_and_changes_nothing(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """A change planned on an etag that is no longer current raises Conflict, state untouched."""
    planned = run.get_service(PROD_BACKEND)
    revisions = run.list_revisions(PROD_BACKEND)
    moved = run.pin_revision(PROD_BACKEND, revisions[1].name, planned.etag)
    with pytest.raises(errors.Conflict, match="etag"):
        run.pin_revision(PROD_BACKEND, revisions[2].name, planned.etag)
    with pytest.raises(errors.Conflict):
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), planned.etag)
    assert run.get_service(PROD_BACKEND) == moved
    assert revision_count(emulator) == len(revisions)


def test_set_traffic_splits_between_revisions(run: CloudRunAdapter) -> None:
    """set_traffic applies an explicit split; serving reports both revisions."""
    service = run.get_service(PROD_BACKEND)
    old = run.list_revisions(PROD_BACKEND)[1].name
    targets = [
        TrafficTarget(percent=90, revision=service.latest_ready_revision),
        TrafficTarget(percent=10, revision=old, tag="canary"),
    ]
    after = run.set_traffic(PROD_BACKEND, targets, service.etag)
    assert after.serving == {service.latest_ready_revision: 90, old: 10}
    canary = next(t for t in after.traffic_statuses if t.tag == "canary")
    assert canary.uri.startswith("https://canary---fluxori-backend-")


def test_traffic_that_does_not_sum_to_100_is_invalid(run: CloudRunAdapter) -> None:
    """The emulator refuses a split of 90%, and the adapter says why."""
    service = run.get_service(PROD_BACKEND)
    targets = [TrafficTarget(percent=90, revision=service.latest_ready_revision)]
    with pytest.raises(errors.InvalidArgument, match="sum to 100"):
        run.set_traffic(PROD_BACKEND, targets, service.etag)


# --- scaling and resources -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (ServiceChange(memory="256Mi"), "Memory must be between 512Mi and 32Gi"),
        (ServiceChange(memory="64Gi", cpu="8"), "Memory must be between 512Mi and 32Gi"),
        (ServiceChange(cpu="3"), "Invalid value specified for cpu: '3'"),
        (ServiceChange(cpu="4"), "For 4 CPU, memory must be between 2Gi and 16Gi"),
        (ServiceChange(cpu="8", memory="2Gi"), "For 8 CPU, memory must be between 4Gi and 32Gi"),
        (ServiceChange(memory="8Gi"), "For 1 CPU, memory must be at most 4Gi"),
        (ServiceChange(cpu="6", memory="32Gi"), "For 6 CPU, memory must be between 4Gi and 24Gi"),
        (ServiceChange(cpu="0.5", memory="512Mi"), "max_instance_request_concurrency must be 1"),
        (ServiceChange(concurrency=0), "Concurrency 0 is out of range"),
        (ServiceChange(concurrency=1001), "It must be between 1 and 1000"),
        (ServiceChange(min_instances=12), "min_instance_count (12) must not be greater than"),
    ],
)
def test_each_validation_rule_is_refused_with_its_reason(
    run: CloudRunAdapter, emulator: Emulator, change: ServiceChange, reason: str
) -> None:
    """Invalid resources, concurrency or instances raise InvalidArgument naming the rule."""
    service = run.get_service(PROD_BACKEND)
    count = revision_count(emulator)
    with pytest.raises(errors.InvalidArgument, match=re.escape(reason)):
        run.update_scaling(PROD_BACKEND, change, service.etag)
    assert run.get_service(PROD_BACKEND) == service
    assert revision_count(emulator) == count


def test_template_change_creates_exactly_one_revision_that_takes_traffic(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """Memory/CPU/concurrency changes create one Ready revision; LATEST routes 100% to it."""
    before = run.get_service(PROD_BACKEND)
    count = revision_count(emulator)
    change = ServiceChange(memory="2Gi", cpu="2", concurrency=120)
    after = run.update_scaling(PROD_BACKEND, change, before.etag)
    assert revision_count(emulator) == count + 1
    assert GENERATED_NAME.fullmatch(after.latest_created_revision)
    assert after.latest_created_revision != before.latest_created_revision
    assert after.latest_ready_revision == after.latest_created_revision
    assert after.serving == {after.latest_created_revision: 100}
    assert (after.resources.cpu, after.resources.memory, after.concurrency) == ("2", "2Gi", 120)
    assert after.scaling == before.scaling
    assert after.secrets == before.secrets


def test_instance_limits_change_creates_no_revision(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """min/max are service-level: they change without a revision and traffic stays put."""
    before = run.get_service(PROD_BACKEND)
    count = revision_count(emulator)
    change = ServiceChange(min_instances=5, max_instances=20)
    after = run.update_scaling(PROD_BACKEND, change, before.etag)
    assert (after.scaling.min_instances, after.scaling.max_instances) == (5, 20)
    assert revision_count(emulator) == count
    assert after.latest_created_revision == before.latest_created_revision
    assert after.serving == before.serving


def test_template_change_while_pinned_gives_the_new_revision_no_traffic(
    run: CloudRunAdapter,
) -> None:
    """With traffic pinned to a revision, a new revision is created at 0%."""
    service = run.get_service(PROD_BACKEND)
    older = run.list_revisions(PROD_BACKEND)[1].name
    pinned = run.pin_revision(PROD_BACKEND, older, service.etag)
    after = run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), pinned.etag)
    assert after.latest_created_revision not in after.serving
    assert after.serving == {older: 100}


# --- long-running operations ---------------------------------------------------------------


def test_operation_delay_is_reported_through_progress(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """While the operation runs, progress is reported (not done, then done) and the service
    is reconciling; the new revision is Ready when the call returns."""
    emulator.run.operation_delay = 0.2
    seen: list[OperationProgress] = []
    service = run.get_service(PROD_BACKEND)
    after = run.update_scaling(
        PROD_BACKEND, ServiceChange(memory="2Gi"), service.etag, on_progress=seen.append
    )
    assert seen[0].done is False
    assert seen[-1].done is True
    assert seen[-1].elapsed_seconds >= seen[0].elapsed_seconds
    assert all(p.operation == seen[0].operation for p in seen)
    assert after.latest_ready_revision == after.latest_created_revision
    assert run.get_service(PROD_BACKEND).serving == {after.latest_created_revision: 100}


def test_operation_past_its_deadline_is_unavailable(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """An operation that outlives the deadline raises Unavailable, telling to check state."""
    emulator.run.operation_delay = 30.0
    service = run.get_service(PROD_BACKEND)
    with pytest.raises(errors.Unavailable, match="check the service's state"):
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), service.etag, deadline=0.1)
    assert emulator.run.get(PROD_BACKEND.name).reconciling


def test_failed_revision_raises_operation_failed_and_keeps_traffic(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """A revision that never becomes Ready fails the operation; traffic stays where it was."""
    before = run.get_service(PROD_BACKEND)
    emulator.run.fail_next_revision("container exited with code 1")
    with pytest.raises(errors.OperationFailed, match="container exited with code 1"):
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), before.etag)
    after = run.get_service(PROD_BACKEND)
    assert after.serving == before.serving
    assert after.latest_ready_revision == before.latest_ready_revision
    assert after.ready is not None
    assert not after.ready.ok
    failed = run.get_revision(PROD_BACKEND, after.latest_created_revision)
    assert not failed.ready
    assert "container exited with code 1" in failed.ready_message


# --- errors --------------------------------------------------------------------------------


def test_unknown_service_is_not_found(run: CloudRunAdapter) -> None:
    """A service that does not exist raises NotFound with Cloud Run's message."""
    with pytest.raises(errors.NotFound, match="fluxori-nope"):
        run.get_service(ServiceRef("fluxori-prod", "africa-south1", "fluxori-nope"))
    with pytest.raises(errors.NotFound):
        run.get_revision(PROD_BACKEND, "fluxori-backend-99999-zzz")


def test_permission_denied_maps_to_the_projects_error(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """PERMISSION_DENIED from Cloud Run becomes PermissionDenied, with a hint about roles."""
    emulator.faults.inject("GetService", code=grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(errors.PermissionDenied) as raised:
        run.get_service(PROD_BACKEND)
    assert "role" in raised.value.hint


def test_update_is_not_retried_on_unavailable(run: CloudRunAdapter, emulator: Emulator) -> None:
    """UpdateService is sent once: an UNAVAILABLE answer surfaces, and the next call works."""
    service = run.get_service(PROD_BACKEND)
    emulator.faults.inject("UpdateService", code=grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(errors.Unavailable):
        run.update_scaling(PROD_BACKEND, ServiceChange(max_instances=12), service.etag)
    after = run.update_scaling(PROD_BACKEND, ServiceChange(max_instances=12), service.etag)
    assert after.scaling.max_instances == 12


# --- redeploys for secret rotation ---------------------------------------------------------


def test_deploy_revision_pins_the_new_secret_at_zero_percent_under_a_tag(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """deploy_revision creates a named revision on the new secret version at 0% under the tag,
    pins LATEST so nothing moves, and pin_revision then moves 100% keeping the tag."""
    before = run.get_service(PROD_BACKEND)
    service, name = run.deploy_revision(
        PROD_BACKEND,
        etag=before.etag,
        secret_versions={"jwt-secret": "4"},
        tag="rotate-v4",
        revision_suffix="jwt-secret-v4",
    )
    assert name == "fluxori-backend-jwt-secret-v4"
    assert service.serving == before.serving
    assert TrafficTarget(percent=0, revision=name, tag="rotate-v4") in service.traffic
    assert not any(t.latest for t in service.traffic)
    assert run.get_revision(PROD_BACKEND, name).secrets[0].version == "4"
    assert service.secrets == (SecretRef("jwt-secret", "4", env_var="JWT_SECRET"),)
    moved = run.pin_revision(PROD_BACKEND, name, service.etag)
    assert moved.serving == {name: 100}
    assert any(t.tag == "rotate-v4" and t.revision == name for t in moved.traffic)
    assert emulator.run.serving_split(PROD_BACKEND.name) == {name: 100}


def test_template_change_after_a_named_deploy_gets_a_generated_name(
    run: CloudRunAdapter,
) -> None:
    """After deploy_revision named a revision, a resources change still creates a new one."""
    before = run.get_service(PROD_BACKEND)
    deployed, _ = run.deploy_revision(
        PROD_BACKEND,
        etag=before.etag,
        secret_versions={"jwt-secret": "4"},
        tag="rotate-v4",
        revision_suffix="jwt-secret-v4",
    )
    after = run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), deployed.etag)
    assert GENERATED_NAME.fullmatch(after.latest_created_revision)


def test_deploy_revision_of_a_service_without_the_secret_is_refused(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """Re-pinning a secret the service does not use is refused before anything is sent."""
    service = run.get_service(PROD_FRONTEND)
    with pytest.raises(errors.InvalidArgument, match="no container"):
        run.deploy_revision(
            PROD_FRONTEND,
            etag=service.etag,
            secret_versions={"jwt-secret": "4"},
            tag="rotate-v4",
            revision_suffix="jwt-secret-v4",
        )
    assert run.get_service(PROD_FRONTEND) == service


def test_deploy_from_a_base_revision_keeps_that_revisions_image(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """base_revision: the new revision has the base's image and secret pin, with change's
    memory on top, at 0% under the tag; no secret_versions needed."""
    before = run.get_service(PROD_BACKEND)
    oldest = run.list_revisions(PROD_BACKEND)[-1]
    assert oldest.image != before.image
    service, name = run.deploy_revision(
        PROD_BACKEND,
        etag=before.etag,
        tag="rebuild",
        revision_suffix="rebuild-1",
        base_revision=oldest.name,
        change=ServiceChange(memory="2Gi"),
    )
    built = run.get_revision(PROD_BACKEND, name)
    assert built.image == oldest.image
    assert built.secret_versions == oldest.secret_versions == {"jwt-secret": "2"}
    assert built.resources.memory == "2Gi"
    assert service.serving == before.serving
    assert TrafficTarget(percent=0, revision=name, tag="rebuild") in service.traffic


def test_a_taken_revision_name_is_already_exists_naming_it(run: CloudRunAdapter) -> None:
    """A revision-name collision is AlreadyExists (not Conflict) and names the revision."""
    before = run.get_service(PROD_BACKEND)
    deployed, name = run.deploy_revision(
        PROD_BACKEND, etag=before.etag, tag="v4", revision_suffix="jwt-secret-v4"
    )
    with pytest.raises(errors.AlreadyExists, match=f"revision {name} already exists") as raised:
        run.deploy_revision(
            PROD_BACKEND,
            etag=deployed.etag,
            tag="v4b",
            revision_suffix="jwt-secret-v4",
            change=ServiceChange(memory="2Gi"),
        )
    assert not isinstance(raised.value, errors.Conflict)
    assert run.get_service(PROD_BACKEND) == deployed


# --- defence in depth ----------------------------------------------------------------------


def test_validate_only_changes_nothing(run: CloudRunAdapter, emulator: Emulator) -> None:
    """Every change as a dry run returns None: no revision, same etag, same traffic."""
    service = run.get_service(PROD_BACKEND)
    older = run.list_revisions(PROD_BACKEND)[1].name
    count = revision_count(emulator)
    targets = [TrafficTarget(percent=100, revision=older)]
    dry_runs = [
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi", max_instances=20),
                           service.etag, validate_only=True),
        run.set_traffic(PROD_BACKEND, targets, service.etag, validate_only=True),
        run.pin_revision(PROD_BACKEND, older, service.etag, validate_only=True),
        run.route_to_latest(PROD_BACKEND, service.etag, validate_only=True),
        run.deploy_revision(PROD_BACKEND, etag=service.etag, tag="t", revision_suffix="dry",
                            secret_versions={"jwt-secret": "4"}, validate_only=True),
    ]  # fmt: skip
    assert dry_runs == [None] * 5
    assert run.get_service(PROD_BACKEND) == service
    assert revision_count(emulator) == count


def test_validate_only_reports_cloud_runs_refusal(run: CloudRunAdapter, emulator: Emulator) -> None:
    """A dry run of 6 CPU with 32Gi raises Cloud Run's own InvalidArgument; nothing changes."""
    service = run.get_service(PROD_BACKEND)
    change = ServiceChange(cpu="6", memory="32Gi")
    with pytest.raises(errors.InvalidArgument, match="For 6 CPU, memory must be between 4Gi"):
        run.update_scaling(PROD_BACKEND, change, service.etag, validate_only=True)
    assert run.get_service(PROD_BACKEND) == service


def test_a_change_between_plan_and_update_is_caught_without_etag_checks(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """With Cloud Run ignoring etags, the adapter's re-read still refuses a stale plan and
    sends nothing; the change made meanwhile stands."""
    emulator.run.enforce_etags = False
    planned = run.get_service(PROD_BACKEND)
    meanwhile = run.update_scaling(PROD_BACKEND, ServiceChange(max_instances=30), planned.etag)
    older = run.list_revisions(PROD_BACKEND)[1].name
    for attempt in (
        lambda: run.pin_revision(PROD_BACKEND, older, planned.etag),
        lambda: run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), planned.etag),
        lambda: run.pin_revision(PROD_BACKEND, older, planned.etag, validate_only=True),
    ):
        with pytest.raises(errors.Conflict, match="nothing was sent"):
            attempt()
    assert run.get_service(PROD_BACKEND) == meanwhile


def test_unreadable_operation_is_followed_through_the_service(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """GetOperation denied: the adapter follows the service's generation to the end and
    returns it as usual, reporting progress meanwhile."""
    emulator.run.operation_delay = 0.1
    emulator.run.operations_denied = grpc.StatusCode.PERMISSION_DENIED
    seen: list[OperationProgress] = []
    before = run.get_service(PROD_BACKEND)
    after = run.update_scaling(
        PROD_BACKEND, ServiceChange(memory="2Gi"), before.etag, on_progress=seen.append
    )
    assert after.latest_ready_revision == after.latest_created_revision
    assert after.latest_created_revision != before.latest_created_revision
    assert after.observed_generation == after.generation == before.generation + 1
    assert after.serving == {after.latest_created_revision: 100}
    assert [p.done for p in seen][-1] is True
    assert seen[0].done is False


def test_unreadable_operation_that_fails_raises_operation_failed(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """GetOperation not found and the revision fails: OperationFailed with the service."""
    emulator.run.operation_delay = 0.1
    emulator.run.operations_denied = grpc.StatusCode.NOT_FOUND
    emulator.run.fail_next_revision("container exited with code 1")
    before = run.get_service(PROD_BACKEND)
    with pytest.raises(errors.OperationFailed, match="exited with code 1") as raised:
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), before.etag)
    now = raised.value.service
    assert now is not None
    assert now.serving == before.serving
    assert now.observed_generation == before.generation


def test_traffic_to_a_revision_that_is_not_ready_fails_after_the_spec_changed(
    run: CloudRunAdapter, emulator: Emulator
) -> None:
    """Cloud Run accepts 100% to a failed revision, then fails: OperationFailed carries the
    service with the new spec but the old serving split, and pinning back works."""
    before = run.get_service(PROD_BACKEND)
    emulator.run.fail_next_revision("container exited with code 1")
    with pytest.raises(errors.OperationFailed):
        run.update_scaling(PROD_BACKEND, ServiceChange(memory="2Gi"), before.etag)
    failed = run.get_service(PROD_BACKEND)
    broken = failed.latest_created_revision
    with pytest.raises(errors.OperationFailed, match=f"'{broken}' is not ready") as raised:
        run.pin_revision(PROD_BACKEND, broken, failed.etag)
    now = raised.value.service
    assert now is not None
    assert now.traffic == (TrafficTarget(percent=100, revision=broken),)
    assert now.serving == before.serving
    assert now.ready is not None
    assert not now.ready.ok
    back = run.pin_revision(PROD_BACKEND, before.latest_ready_revision, now.etag)
    assert back.serving == before.serving
    assert back.ready is not None
    assert back.ready.ok


def test_max_instances_on_a_fractional_cpu_service(run: CloudRunAdapter, clients: Clients) -> None:
    """A 0.5 CPU service (concurrency 1, first generation, request-based CPU) takes max=20:
    the rules find nothing to refuse and Cloud Run applies it."""
    make_fractional(clients, PROD_FRONTEND)
    service = run.get_service(PROD_FRONTEND)
    assert (service.resources.cpu, service.concurrency) == ("0.5", 1)
    assert (service.execution_environment, service.cpu_always_allocated) == ("gen1", False)
    change = ServiceChange(max_instances=20)
    assert (
        run_rules.validate_change(run_rules.settings_of(service), run_rules.requested(change)) == []
    )
    after = run.update_scaling(PROD_FRONTEND, change, service.etag)
    assert after.scaling.max_instances == 20


def make_fractional(clients: Clients, ref: ServiceRef) -> None:
    """Give the service a valid fractional-CPU template with the plain run_v2 client."""
    services = clients.build(run_v2.ServicesClient, ServicesGrpcTransport)
    template = run_v2.RevisionTemplate(
        services.get_service(name=ref.name).template,
        execution_environment=run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1,
    )
    template.containers[0].resources.limits.update({"cpu": "0.5", "memory": "512Mi"})
    template.containers[0].resources.cpu_idle = True
    template.max_instance_request_concurrency = 1
    service = run_v2.Service(name=ref.name, template=template)
    request = run_v2.UpdateServiceRequest(service=service, update_mask={"paths": ["template"]})
    services.update_service(request=request).result(timeout=5)
