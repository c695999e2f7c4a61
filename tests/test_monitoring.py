"""Monitoring: request stats and SLO status derived from Cloud Run traffic, over gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service import MetricServiceClient
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)
from google.cloud.monitoring_v3.services.service_monitoring_service.transports import (
    ServiceMonitoringServiceGrpcTransport,
)

from gcp import errors
from gcp.clients import FAST_SETTINGS, Clients
from gcp.emulator import Emulator
from gcp.emulator.cloud_run import CloudRun
from gcp.emulator.core import Faults, RevisionHealth, TrafficSource
from gcp.emulator.monitoring import Monitoring
from gcp.models import ServiceRef
from gcp.monitoring import MonitoringAdapter

REGION = "africa-south1"
BACKEND = ServiceRef("fluxori-prod", REGION, "fluxori-backend")
FRONTEND = ServiceRef("fluxori-prod", REGION, "fluxori-frontend")
BROKEN, STABLE, WEB = "fluxori-backend-00042-new", "fluxori-backend-00041-old", "fluxori-frontend-7"
HEALTH = {
    BROKEN: RevisionHealth(error_rate=0.12, latency_ms=1800),
    STABLE: RevisionHealth(error_rate=0.001, latency_ms=120),
    WEB: RevisionHealth(error_rate=0.001, latency_ms=80),
}
REQUESTS_PER_HALF_HOUR = 20 * 1800  # RevisionHealth's default 20 requests a second


class FixedTraffic(TrafficSource):
    """Cloud Run reduced to fixed revisions; a test moves traffic with `route`."""

    def __init__(self) -> None:
        self.splits = {BACKEND.name: {BROKEN: 100}, FRONTEND.name: {WEB: 100}}
        self.changed_at: dict[str, datetime] = {}

    def route(self, ref: ServiceRef, split: dict[str, int], at: datetime | None = None) -> None:
        self.splits[ref.name] = split
        if at is not None:
            self.changed_at[ref.name] = at

    def service_names(self) -> list[str]:
        return list(self.splits)

    def serving_split(self, service_name: str) -> dict[str, int]:
        return dict(self.splits[service_name])

    def revision_health(self, service_name: str, revision: str) -> RevisionHealth:
        return HEALTH[revision]

    def split_changed_at(self, service_name: str) -> datetime | None:
        return self.changed_at.get(service_name)


@pytest.fixture
def traffic() -> FixedTraffic:
    """Prod backend on its broken newest revision, frontend healthy."""
    return FixedTraffic()


@pytest.fixture
def monitoring(traffic: FixedTraffic) -> Monitoring:
    """Monitoring over the fixed traffic, with the Fluxori services and SLOs defined."""
    emulated = Monitoring(traffic)
    emulated.seed_fluxori()
    return emulated


@pytest.fixture
def faults() -> Faults:
    """Fault injection for the Monitoring server below."""
    return Faults()


@pytest.fixture
def monitoring_clients(monitoring: Monitoring, faults: Faults) -> Iterator[Clients]:
    """Clients over a gRPC server that serves only this Monitoring."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(tuple(monitoring.handlers(faults)))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    shared = Clients(emulator_host=f"127.0.0.1:{port}", settings=FAST_SETTINGS)
    yield shared
    shared.close()
    server.stop(None).wait()


@pytest.fixture
def adapter(monitoring_clients: Clients) -> MonitoringAdapter:
    """The bot's Monitoring adapter over that server."""
    return MonitoringAdapter(monitoring_clients)


def _roll_back_an_hour_ago(monitoring: Monitoring, traffic: FixedTraffic, now: datetime) -> None:
    monitoring.observe(at=now - timedelta(hours=2))
    traffic.route(BACKEND, {STABLE: 100})
    monitoring.observe(at=now - timedelta(hours=1))


def test_request_stats_reflect_a_traffic_change(
    adapter: MonitoringAdapter, monitoring: Monitoring, traffic: FixedTraffic
) -> None:
    """After traffic moves to the healthy revision, the 5xx rate and latency drop from then on."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _roll_back_an_hour_ago(monitoring, traffic, now)
    half_hour = timedelta(minutes=30)
    before = adapter.request_stats(BACKEND, half_hour, end=now - timedelta(minutes=90))
    across = adapter.request_stats(BACKEND, half_hour, end=now - timedelta(minutes=45))
    after = adapter.request_stats(BACKEND, half_hour, end=now - timedelta(minutes=10))
    assert before.total_requests == after.total_requests == REQUESTS_PER_HALF_HOUR
    assert before.error_rate == pytest.approx(0.12, abs=0.001)
    assert across.error_rate == pytest.approx((0.12 + 0.001) / 2, abs=0.001)
    assert after.error_rate == pytest.approx(0.001, abs=0.0005)
    assert before.latency_p50_ms == pytest.approx(1800, rel=0.05)
    assert after.latency_p50_ms == pytest.approx(120, rel=0.05)


def test_traffic_change_is_dated_by_cloud_run_not_by_the_first_query(
    adapter: MonitoringAdapter, monitoring: Monitoring, traffic: FixedTraffic
) -> None:
    """A change Cloud Run dates an hour ago counts from then, though Monitoring sees it now."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    monitoring.observe(at=now - timedelta(hours=2))
    traffic.route(BACKEND, {STABLE: 100}, at=now - timedelta(hours=1))
    half_hour = timedelta(minutes=30)
    before = adapter.request_stats(BACKEND, half_hour, end=now - timedelta(minutes=60))
    after = adapter.request_stats(BACKEND, half_hour, end=now - timedelta(minutes=30))
    assert before.error_rate == pytest.approx(0.12, abs=0.001)
    assert after.error_rate == pytest.approx(0.001, abs=0.0005)


def test_request_stats_split_codes_and_order_percentiles(adapter: MonitoringAdapter) -> None:
    """Requests split into 2xx/4xx/5xx and latency percentiles rise p50 < p95 < p99."""
    stats = adapter.request_stats(BACKEND, timedelta(minutes=10))
    assert set(stats.by_code_class) == {"2xx", "4xx", "5xx"}
    assert stats.window_seconds == 600
    assert stats.total_requests == pytest.approx(20 * 600, abs=2)
    p50, p95, p99 = stats.latency_p50_ms, stats.latency_p95_ms, stats.latency_p99_ms
    assert p50 is not None
    assert p95 is not None
    assert p99 is not None
    assert 1700 < p50 < p95 < p99 < 8000


def test_request_stats_of_a_service_without_traffic_are_empty(adapter: MonitoringAdapter) -> None:
    """A service Cloud Run does not know has no requests and no latency."""
    stats = adapter.request_stats(ServiceRef("fluxori-prod", REGION, "nope"), timedelta(hours=1))
    assert (stats.total_requests, stats.error_rate, stats.latency_p99_ms) == (0, 0.0, None)


def test_unhealthy_service_burns_its_error_budget(adapter: MonitoringAdapter) -> None:
    """With 12% errors for a day, compliance is far below 99% and the budget is overspent."""
    (slo,) = adapter.slos(BACKEND)
    assert (slo.goal, slo.rolling_period_seconds) == (0.99, 86400)
    assert slo.display_name == "99% of requests are successful over 24h"
    assert slo.compliance == pytest.approx(0.88 * 0.998, abs=0.001)
    assert slo.error_budget_remaining is not None
    assert slo.error_budget_remaining < -10
    assert slo.burn_rate == pytest.approx(12.2, abs=0.1)


def test_healthy_service_keeps_most_of_its_budget(adapter: MonitoringAdapter) -> None:
    """A healthy service is compliant, keeps budget and burns slower than sustainable."""
    (slo,) = adapter.slos(FRONTEND)
    assert slo.compliance is not None
    assert slo.compliance > 0.99
    assert slo.error_budget_remaining == pytest.approx(0.7, abs=0.01)
    assert slo.burn_rate is not None
    assert slo.burn_rate < 1


def test_rollback_stops_the_burn_but_not_the_spent_budget(
    adapter: MonitoringAdapter, monitoring: Monitoring, traffic: FixedTraffic
) -> None:
    """An hour after moving traffic the 1h burn rate is low while the 24h budget stays spent."""
    _roll_back_an_hour_ago(monitoring, traffic, datetime.now(UTC))
    (slo,) = adapter.slos(BACKEND)
    assert slo.burn_rate is not None
    assert slo.burn_rate < 0.5
    assert slo.error_budget_remaining is not None
    assert slo.error_budget_remaining < -5


def test_slos_of_a_service_without_monitoring_service_are_empty(
    adapter: MonitoringAdapter,
) -> None:
    """No Monitoring service for it means no SLO, not an error."""
    assert adapter.slos(ServiceRef("fluxori-prod", REGION, "nope")) == []


def test_slos_are_found_by_the_cloud_run_service_not_by_the_monitoring_id(
    monitoring: Monitoring, adapter: MonitoringAdapter
) -> None:
    """An auto-detected Monitoring Service has a generated id; it is matched on what it
    watches (service name and location), and one in another region does not match."""
    checkout = ServiceRef("fluxori-prod", REGION, "fluxori-checkout")
    monitoring.define_request_slo(
        "fluxori-prod", checkout.service, service_id="gs-ZZ5q1Yv3Tfy0", display_name="checkout"
    )
    monitoring.define_request_slo(
        "fluxori-prod", "fluxori-search", service_id="fluxori-search-eu", region="europe-west1"
    )
    assert [slo.display_name for slo in adapter.slos(checkout)] == ["checkout"]
    assert adapter.slos(ServiceRef("fluxori-prod", REGION, "fluxori-search")) == []


def test_slo_definition_matches_the_runbook(monitoring_clients: Clients) -> None:
    """The seeded SLO is request-based goodTotalRatio over request_count, 99% over 24h."""
    client = monitoring_clients.build(
        monitoring_v3.ServiceMonitoringServiceClient,
        ServiceMonitoringServiceGrpcTransport,
    )
    services = list(client.list_services(parent="projects/fluxori-staging"))
    assert [s.name for s in services] == [
        "projects/fluxori-staging/services/fluxori-backend",
        "projects/fluxori-staging/services/fluxori-frontend",
    ]
    assert services[0].cloud_run.service_name == "fluxori-backend"
    (slo,) = client.list_service_level_objectives(parent=services[0].name)
    assert client.get_service_level_objective(name=slo.name).name == slo.name
    ratio = slo.service_level_indicator.request_based.good_total_ratio
    assert 'metric.label."response_code_class"="2xx"' in ratio.good_service_filter
    assert 'resource.label."service_name"="fluxori-backend"' in ratio.total_service_filter
    assert (slo.goal, slo.rolling_period) == (0.99, timedelta(days=1))
    with pytest.raises(gexc.NotFound):
        client.get_service_level_objective(name=f"{services[0].name}/serviceLevelObjectives/x")


def _metric_client(clients: Clients) -> Any:
    return clients.build(MetricServiceClient, MetricServiceGrpcTransport)


def _list_series(client: Any, filter_: str, **extra: Any) -> list[Any]:
    now = datetime.now(UTC)
    request = {
        "name": "projects/fluxori-prod",
        "filter": filter_,
        "interval": {"start_time": now - timedelta(minutes=10), "end_time": now},
        **extra,
    }
    return list(client.list_time_series(request=request, timeout=5))


def test_raw_series_have_one_point_a_minute_per_revision_and_class(
    monitoring_clients: Clients,
) -> None:
    """Unaggregated request_count has a labelled series per code class, a point per minute."""
    series = _list_series(
        _metric_client(monitoring_clients),
        'metric.type="run.googleapis.com/request_count" '
        'resource.label."service_name"="fluxori-backend"',
    )
    assert sorted(s.metric.labels["response_code_class"] for s in series) == ["2xx", "4xx", "5xx"]
    assert {s.resource.labels["revision_name"] for s in series} == {BROKEN}
    assert all(len(s.points) in (9, 10) for s in series)
    five_xx = next(s for s in series if s.metric.labels["response_code_class"] == "5xx")
    assert five_xx.points[0].value.int64_value == 144  # 20/s * 60 s * 12%


def test_rate_alignment_sums_across_revisions(
    monitoring_clients: Clients, monitoring: Monitoring, traffic: FixedTraffic
) -> None:
    """ALIGN_RATE + REDUCE_SUM over a 50/50 split gives one requests-per-second series."""
    traffic.route(BACKEND, {BROKEN: 50, STABLE: 50})
    monitoring.observe(at=datetime.now(UTC) - timedelta(hours=1))
    series = _list_series(
        _metric_client(monitoring_clients),
        'metric.type="run.googleapis.com/request_count" AND '
        'resource.labels.service_name="fluxori-backend"',
        aggregation={
            "alignment_period": {"seconds": 300},
            "per_series_aligner": monitoring_v3.Aggregation.Aligner.ALIGN_RATE,
            "cross_series_reducer": monitoring_v3.Aggregation.Reducer.REDUCE_SUM,
        },
    )
    (total,) = series
    assert dict(total.metric.labels) == {}
    assert [p.value.double_value for p in total.points] == pytest.approx([20.0, 20.0])


@pytest.mark.parametrize(
    ("filter_", "extra", "named"),
    [
        ('metric.type="run.googleapis.com/request_count" OR x="y"', {}, "unsupported filter"),
        ('metric.type="compute.googleapis.com/instance/cpu"', {}, "emulator serves"),
        ('resource.type="cloud_run_revision"', {}, "metric.type"),
        (
            'metric.type=starts_with("run.googleapis.com/")',
            {},
            "unsupported filter",
        ),
        (
            'metric.type="run.googleapis.com/request_count" project="x"',
            {},
            "unsupported filter or grouping field",
        ),
        (
            'metric.type="run.googleapis.com/request_count"',
            {"aggregation": {"alignment_period": {"seconds": 60}, "per_series_aligner": 11}},
            "ALIGN_DELTA",
        ),
        (
            'metric.type="run.googleapis.com/request_count"',
            {
                "aggregation": {
                    "alignment_period": {"seconds": 60},
                    "per_series_aligner": 1,
                    "cross_series_reducer": 1,
                }
            },
            "REDUCE_SUM",
        ),
        (
            'metric.type="run.googleapis.com/request_latencies"',
            {"aggregation": {"alignment_period": {"seconds": 60}, "per_series_aligner": 2}},
            "distribution",
        ),
        (
            'select_slo_health("projects/fluxori-prod/services/x/serviceLevelObjectives/y")',
            {},
            "selector",
        ),
        (
            'select_slo_burn_rate("projects/fluxori-prod/services/fluxori-backend/'
            'serviceLevelObjectives/availability-24h")',
            {},
            "takes 2",
        ),
    ],
)
def test_unsupported_queries_are_invalid_argument(
    monitoring_clients: Clients, filter_: str, extra: dict[str, Any], named: str
) -> None:
    """Filters, aligners, reducers and selectors the emulator lacks are INVALID_ARGUMENT."""
    with pytest.raises(gexc.InvalidArgument, match=named):
        _list_series(_metric_client(monitoring_clients), filter_, **extra)


def test_quota_exhaustion_is_reported_as_quota_exceeded(
    adapter: MonitoringAdapter, faults: Faults
) -> None:
    """RESOURCE_EXHAUSTED from ListTimeSeries becomes QuotaExceeded once retries run out."""
    faults.inject("ListTimeSeries", code=grpc.StatusCode.RESOURCE_EXHAUSTED, times=10_000)
    with pytest.raises(errors.QuotaExceeded, match="Cloud Monitoring"):
        adapter.request_stats(BACKEND, timedelta(minutes=10))


CLOUD_RUN_LANDED = CloudRun.service_names is not TrafficSource.service_names


@pytest.mark.skipif(not CLOUD_RUN_LANDED, reason="the CloudRun emulator is still a placeholder")
def test_seeded_emulator_shows_the_unhealthy_prod_backend(clients: Clients) -> None:
    """Through the full emulator, prod backend's newest revision drives ~12% 5xx and slow p50."""
    adapter = MonitoringAdapter(clients)
    stats = adapter.request_stats(BACKEND, timedelta(minutes=30))
    assert stats.error_rate == pytest.approx(0.12, abs=0.02)
    assert stats.latency_p50_ms is not None
    assert stats.latency_p50_ms > 1000
    (slo,) = adapter.slos(BACKEND)
    assert slo.burn_rate is not None
    assert slo.burn_rate > 2


@pytest.mark.skipif(not CLOUD_RUN_LANDED, reason="the CloudRun emulator is still a placeholder")
def test_seeded_emulator_has_healthy_frontend(emulator: Emulator, clients: Clients) -> None:
    """Through the full emulator, prod frontend serves with few errors within its SLO."""
    stats = MonitoringAdapter(clients).request_stats(FRONTEND, timedelta(minutes=30))
    assert stats.total_requests > 0
    assert stats.error_rate < 0.01
