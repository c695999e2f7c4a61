"""The `fluxori` seed of Cloud Run: two services per project, each with a few days of revisions.

Instance limits are service-level (`Service.scaling` min/max); templates leave
`template.scaling` unset, so changing min/max creates no revision. Resources, concurrency,
env and secrets live in the template. The newest revision of each service was deployed
71 minutes before the seed (it took traffic a minute later, as the Logs seed assumes) and
serves 100% through LATEST; in prod the backend's newest revision is the unhealthy one.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.cloud import run_v2

from gcp.emulator import fluxori
from gcp.emulator.core import RevisionHealth
from gcp.emulator.run_template import READY, SUCCEEDED, ServicePb, build_revision, set_ready
from gcp.emulator.run_traffic import latest_100, statuses

HEALTHY = RevisionHealth(error_rate=0.002, latency_ms=120.0)
UNHEALTHY = RevisionHealth(error_rate=0.12, latency_ms=1800.0)
NEWEST_DEPLOYED = timedelta(minutes=71)
OLDER_AGES_DAYS = (1.2, 2.9, 4.6, 7.3, 11.0)  # age of the 2nd newest, 3rd newest, ...
PINNED_VERSION = "3"  # jwt-secret version consumed by fluxori-backend (Secret Manager seeds 1..3)
OLDEST_PINNED_VERSION = "2"  # the oldest backend revision predates the last rotation
REGION_CODES = {"africa-south1": "bq", "europe-west4": "ez"}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Shape:
    """What one Fluxori service looks like in every environment."""

    service: str
    image_name: str
    cpu: str
    memory: str
    concurrency: int
    min_instances: int
    max_instances: int
    revisions: int
    port: int
    env: dict[str, str] = field(default_factory=dict)
    consumes_secret: bool = False


BACKEND = Shape(
    "fluxori-backend", "backend", "1", "1Gi", 80, 2, 10, 5, 8080,
    {"LOG_LEVEL": "info", "FIRESTORE_DATABASE": "(default)"},
    consumes_secret=True,
)  # fmt: skip
FRONTEND = Shape("fluxori-frontend", "frontend", "1", "512Mi", 80, 1, 5, 4, 3000)
SHAPES = (BACKEND, FRONTEND)


@dataclass(frozen=True)
class SeededService:
    service: Any  # run_v2 Service protobuf
    revisions: list[Any]  # run_v2 Revision protobufs, oldest first
    health: dict[str, RevisionHealth]  # revision short name -> health


def fluxori_services(now: datetime) -> list[SeededService]:
    """Every Fluxori service in every project, deterministic but for `now`."""
    return [_seed_service(project, shape, now) for project in fluxori.PROJECTS for shape in SHAPES]


def service_uri(project: str, region: str, service: str) -> str:
    digest = hashlib.sha256(project.encode()).hexdigest()[:10]
    return f"https://{service}-{digest}-{REGION_CODES.get(region, 'uc')}.a.run.app"


def _seed_service(project: str, shape: Shape, now: datetime) -> SeededService:
    rng = random.Random(f"{project}/{shape.service}")
    region = fluxori.REGION
    service = _service_shell(project, region, shape)
    first = rng.randint(18, 60)
    ages = [NEWEST_DEPLOYED] + [timedelta(days=d) for d in OLDER_AGES_DAYS]
    revisions = []
    for index in range(shape.revisions):
        age = ages[shape.revisions - 1 - index]
        number = first + index
        name = f"{shape.service}-{number:05d}-{''.join(rng.choices(_LETTERS, k=3))}"
        sha = f"{rng.getrandbits(28):07x}"
        version = OLDEST_PINNED_VERSION if index == 0 else PINNED_VERSION
        _set_template(service.template, project, region, shape, sha, version)
        revision = build_revision(service, name, now - age, _etag(rng))
        set_ready(revision, SUCCEEDED, "", now - age + timedelta(seconds=40))
        revisions.append(revision)
    _finish(service, revisions, now, rng, first + shape.revisions - 1)
    degraded = project == "fluxori-prod" and shape is BACKEND
    health = {r.name.rsplit("/", 1)[-1]: HEALTHY for r in revisions}
    if degraded:
        health[revisions[-1].name.rsplit("/", 1)[-1]] = UNHEALTHY
    return SeededService(service, revisions, health)


def _service_shell(project: str, region: str, shape: Shape) -> Any:
    name = f"projects/{project}/locations/{region}/services/{shape.service}"
    service = ServicePb(
        name=name,
        uid=hashlib.sha256(name.encode()).hexdigest()[:32],
        ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
        uri=service_uri(project, region, shape.service),
        creator=f"deploy@{project}.iam.gserviceaccount.com",
        last_modifier=f"deploy@{project}.iam.gserviceaccount.com",
    )
    service.urls.append(service.uri)
    service.labels.update({"app": "fluxori", "component": shape.image_name})
    service.scaling.min_instance_count = shape.min_instances
    service.scaling.max_instance_count = shape.max_instances
    service.traffic.append(latest_100())
    return service


def _set_template(
    template: Any, project: str, region: str, shape: Shape, sha: str, version: str
) -> None:
    template.Clear()
    template.service_account = f"{shape.service}@{project}.iam.gserviceaccount.com"
    template.max_instance_request_concurrency = shape.concurrency
    template.timeout.FromSeconds(300)
    template.execution_environment = run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2
    container = template.containers.add(
        name=shape.image_name,
        image=f"{region}-docker.pkg.dev/{project}/fluxori/{shape.image_name}:{sha}",
    )
    container.ports.add(name="http1", container_port=shape.port)
    container.resources.limits.update({"cpu": shape.cpu, "memory": shape.memory})
    container.resources.cpu_idle = True
    env = {"NODE_ENV": "development" if project == "fluxori-dev" else "production", **shape.env}
    env["GCP_PROJECT"] = project
    if shape is FRONTEND:
        env["API_BASE_URL"] = service_uri(project, region, BACKEND.service)
    for key, value in env.items():
        container.env.add(name=key, value=value)
    if shape.consumes_secret:
        secret_env = container.env.add(name=fluxori.SECRET_ENV_VAR)
        secret_env.value_source.secret_key_ref.secret = fluxori.SECRET
        secret_env.value_source.secret_key_ref.version = version


def _finish(
    service: Any, revisions: list[Any], now: datetime, rng: random.Random, number: int
) -> None:
    newest = revisions[-1].name.rsplit("/", 1)[-1]
    service.generation = number
    service.observed_generation = number
    service.etag = _etag(rng)
    service.create_time.FromDatetime(now - timedelta(days=90))
    service.update_time.CopyFrom(revisions[-1].create_time)
    service.latest_created_revision = newest
    service.latest_ready_revision = newest
    service.traffic_statuses.extend(statuses(service.traffic, newest, service.uri))
    service.terminal_condition.type_ = READY
    service.terminal_condition.state = SUCCEEDED
    service.terminal_condition.last_transition_time.CopyFrom(revisions[-1].update_time)
    for kind in ("RoutesReady", "ConfigurationsReady"):
        condition = service.conditions.add(type_=kind, state=SUCCEEDED)
        condition.last_transition_time.CopyFrom(revisions[-1].update_time)


def _etag(rng: random.Random) -> str:
    return f'"{rng.getrandbits(64):016x}"'
