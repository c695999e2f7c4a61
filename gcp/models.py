"""The project's own view of Google Cloud resources: frozen dataclasses, no protobufs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gcp.refs import ServiceRef as ServiceRef  # kept apart, for start-up: see gcp.refs


@dataclass(frozen=True)
class TrafficTarget:
    """One entry of a traffic split. `revision` is empty when `latest` is true."""

    percent: int
    revision: str = ""
    latest: bool = False
    tag: str = ""
    uri: str = ""


@dataclass(frozen=True)
class Scaling:
    min_instances: int
    max_instances: int


@dataclass(frozen=True)
class Resources:
    cpu: str
    memory: str


@dataclass(frozen=True)
class SecretRef:
    """A container's use of a Secret Manager secret, as an env var or a volume file."""

    secret: str
    version: str
    env_var: str = ""
    mount_path: str = ""

    @property
    def kind(self) -> str:
        return "env" if self.env_var else "volume"


@dataclass(frozen=True)
class Condition:
    type: str
    state: str
    message: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "CONDITION_SUCCEEDED"


@dataclass(frozen=True)
class Service:
    """A Cloud Run service as read from the Admin API v2."""

    ref: ServiceRef
    uri: str
    etag: str
    generation: int
    image: str
    latest_ready_revision: str
    latest_created_revision: str
    traffic: tuple[TrafficTarget, ...]
    traffic_statuses: tuple[TrafficTarget, ...]
    scaling: Scaling
    resources: Resources
    concurrency: int
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    ready: Condition | None = None
    conditions: tuple[Condition, ...] = ()
    update_time: datetime | None = None
    observed_generation: int = 0
    reconciling: bool = False
    execution_environment: str = ""  # "gen1", "gen2", or "" when Cloud Run chooses
    cpu_always_allocated: bool = False  # instance-based billing rather than request-based

    @property
    def secret_versions(self) -> dict[str, str]:
        return pinned_versions(self.secrets)

    @property
    def serving(self) -> dict[str, int]:
        """Percent of traffic per revision name, from the observed traffic statuses."""
        split: dict[str, int] = {}
        for target in self.traffic_statuses or self.traffic:
            name = target.revision or self.latest_ready_revision
            if target.percent:
                split[name] = split.get(name, 0) + target.percent
        return split

    @property
    def main_revision(self) -> str:
        """The revision serving the most traffic."""
        split = self.serving
        return max(split, key=lambda name: split[name]) if split else self.latest_ready_revision


@dataclass(frozen=True)
class Revision:
    name: str
    service: str
    create_time: datetime
    image: str
    ready: bool
    ready_message: str
    scaling: Scaling
    resources: Resources
    concurrency: int
    secrets: tuple[SecretRef, ...] = ()

    @property
    def secret_versions(self) -> dict[str, str]:
        return pinned_versions(self.secrets)


def pinned_versions(secrets: tuple[SecretRef, ...]) -> dict[str, str]:
    """Secret name -> the version its consumers pin ("latest" when unpinned)."""
    return {ref.secret: ref.version for ref in secrets}


@dataclass(frozen=True)
class ServiceChange:
    """Requested scaling/resources changes; None leaves a value as it is."""

    min_instances: int | None = None
    max_instances: int | None = None
    memory: str | None = None
    cpu: str | None = None
    concurrency: int | None = None

    @property
    def changes_template(self) -> bool:
        """Resources and concurrency live in the revision template: a new revision results."""
        return any(v is not None for v in (self.memory, self.cpu, self.concurrency))


@dataclass(frozen=True)
class OperationProgress:
    """Reported to a progress callback while a long-running operation is polled."""

    operation: str
    done: bool
    elapsed_seconds: float


@dataclass(frozen=True)
class LogEntry:
    timestamp: datetime
    severity: str
    message: str
    service: str
    revision: str
    log_name: str = ""
    insert_id: str = ""
    trace: str = ""
    status: int | None = None
    latency_ms: float | None = None
    payload: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Point:
    end_time: datetime
    value: float


@dataclass(frozen=True)
class Series:
    """One time series; `labels` merges metric and resource labels."""

    metric: str
    labels: dict[str, str]
    points: tuple[Point, ...]


@dataclass(frozen=True)
class RequestStats:
    """Request rate and latency of a service over a window."""

    window_seconds: int
    total_requests: float
    by_code_class: dict[str, float]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None

    @property
    def error_rate(self) -> float:
        if not self.total_requests:
            return 0.0
        return self.by_code_class.get("5xx", 0.0) / self.total_requests


@dataclass(frozen=True)
class SloStatus:
    name: str
    display_name: str
    goal: float
    rolling_period_seconds: int
    compliance: float | None
    error_budget_remaining: float | None
    burn_rate: float | None


@dataclass(frozen=True)
class SloTarget:
    """What an SLO promises, as Monitoring holds it: the part `slo-goal` changes."""

    name: str
    display_name: str
    goal: float  # a fraction: 0.995 is 99.5%
    rolling_period_seconds: int  # a calendar period's approximate length when it has one


@dataclass(frozen=True)
class SecretVersion:
    secret: str
    version: str
    state: str
    create_time: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.state == "ENABLED"
