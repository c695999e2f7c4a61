"""Cloud Monitoring v3 adapter: a Cloud Run service's request stats and its SLOs' status."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.metric_service import MetricServiceClient
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)
from google.cloud.monitoring_v3.services.service_monitoring_service import (
    ServiceMonitoringServiceClient,
)
from google.cloud.monitoring_v3.services.service_monitoring_service.transports import (
    ServiceMonitoringServiceGrpcTransport,
)

from gcp import errors
from gcp.clients import Clients
from gcp.errors import translated
from gcp.models import RequestStats, ServiceRef, SloStatus, SloTarget

REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
BURN_RATE_LOOKBACK = "3600s"
SLO_LOOKBACK = timedelta(minutes=5)  # SLO series are read over the last few minutes
CALENDAR_SECONDS = {"DAY": 86400, "WEEK": 7 * 86400, "FORTNIGHT": 14 * 86400, "MONTH": 30 * 86400}
_LABEL_VALUE = re.compile(r"[a-z0-9][-a-z0-9]{0,62}")

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer


class MonitoringAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _metrics(self) -> Any:
        return self._clients.get(
            "monitoring.metrics",
            lambda: self._clients.build(MetricServiceClient, MetricServiceGrpcTransport),
        )

    def _services(self) -> Any:
        return self._clients.get(
            "monitoring.services",
            lambda: self._clients.build(
                ServiceMonitoringServiceClient, ServiceMonitoringServiceGrpcTransport
            ),
        )

    def request_stats(
        self, ref: ServiceRef, window: timedelta, end: datetime | None = None
    ) -> RequestStats:
        """Requests by response code class and latency percentiles over (end - window, end]."""
        seconds = max(60, int(window.total_seconds()))
        finish = end or datetime.now(UTC)
        interval = {"start_time": finish - timedelta(seconds=seconds), "end_time": finish}
        where = _resource_filter(ref)
        counts = self._series(
            ref.project,
            f'metric.type="{REQUEST_COUNT}" AND {where}',
            interval,
            _sum_over(seconds, "metric.label.response_code_class"),
        )
        latencies = self._series(
            ref.project,
            f'metric.type="{REQUEST_LATENCIES}" AND {where}',
            interval,
            _sum_over(seconds),
        )
        by_class = _count_by_class(counts)
        buckets, options = _merged_buckets(latencies)
        return RequestStats(
            window_seconds=seconds,
            total_requests=float(sum(by_class.values())),
            by_code_class=by_class,
            latency_p50_ms=percentile(buckets, options, 0.50),
            latency_p95_ms=percentile(buckets, options, 0.95),
            latency_p99_ms=percentile(buckets, options, 0.99),
        )

    def slos(self, ref: ServiceRef) -> list[SloStatus]:
        """The service's SLOs with compliance, remaining error budget and 1-hour burn rate."""
        parent = self._monitoring_service(ref)
        if parent is None:
            return []  # no Monitoring service watches it: no SLO is defined
        settings = self._clients.settings
        try:
            with translated(f"Listing the SLOs of {ref.service} in {ref.project}"):
                found = list(
                    self._services().list_service_level_objectives(
                        request={"parent": parent},
                        retry=settings.retry(),
                        timeout=settings.timeout,
                    )
                )
        except errors.NotFound:
            return []  # no Monitoring service for it: no SLO is defined
        return [self._status(ref.project, monitoring_v3.ServiceLevelObjective.pb(s)) for s in found]

    def slo_target(self, name: str) -> SloTarget:
        """One SLO's goal and window, read by its full name."""
        settings = self._clients.settings
        with translated(f"Reading the SLO {name}"):
            found = self._services().get_service_level_objective(
                request={"name": name}, retry=settings.retry(), timeout=settings.timeout
            )
        return _target(monitoring_v3.ServiceLevelObjective.pb(found))

    def set_slo_target(
        self, name: str, goal: float | None = None, rolling_days: int | None = None
    ) -> SloTarget:
        """UpdateServiceLevelObjective with an update mask of exactly the fields given."""
        fields: dict[str, Any] = {"name": name}
        if goal is not None:
            fields["goal"] = goal
        if rolling_days is not None:
            fields["rolling_period"] = timedelta(days=rolling_days)
        slo = monitoring_v3.ServiceLevelObjective(**fields)
        paths = [path for path in fields if path != "name"]
        request = {"service_level_objective": slo, "update_mask": {"paths": paths}}
        with translated(f"Updating the SLO {name}"):
            updated = self._services().update_service_level_objective(
                request=request, timeout=self._clients.settings.timeout
            )
        return _target(monitoring_v3.ServiceLevelObjective.pb(updated))

    def _monitoring_service(self, ref: ServiceRef) -> str | None:
        """The name of the Monitoring Service that watches this Cloud Run service.

        Its id is whoever created it chose (auto-detected services get generated ids), so it
        is found by what it identifies; an id equal to the service's name is the fallback.
        """
        settings = self._clients.settings
        with translated(f"Listing the Monitoring services of {ref.project}"):
            found = [
                monitoring_v3.Service.pb(s)
                for s in self._services().list_services(
                    request={"parent": f"projects/{ref.project}"},
                    retry=settings.retry(),
                    timeout=settings.timeout,
                )
            ]
        watching = [s.name for s in found if _watches(s, ref)]
        named = [s.name for s in found if s.name.rsplit("/", 1)[-1] == ref.service]
        return next(iter(watching + named), None)

    def _status(self, project: str, slo: Any) -> SloStatus:
        return SloStatus(
            name=slo.name,
            display_name=slo.display_name or slo.name.rsplit("/", 1)[-1],
            goal=slo.goal,
            rolling_period_seconds=_period_seconds(slo),
            compliance=self._latest(project, f'select_slo_compliance("{slo.name}")'),
            error_budget_remaining=self._latest(
                project, f'select_slo_budget_fraction("{slo.name}")'
            ),
            burn_rate=self._latest(
                project, f'select_slo_burn_rate("{slo.name}", "{BURN_RATE_LOOKBACK}")'
            ),
        )

    def _latest(self, project: str, selector: str) -> float | None:
        now = datetime.now(UTC)
        interval = {"start_time": now - SLO_LOOKBACK, "end_time": now}
        points = [p for s in self._series(project, selector, interval, None) for p in s.points]
        if not points:
            return None
        newest = max(points, key=lambda p: p.interval.end_time.ToDatetime())
        return float(newest.value.double_value)

    def _series(
        self, project: str, filter_: str, interval: dict[str, datetime], aggregation: Any
    ) -> list[Any]:
        """Raw `TimeSeries` protobufs (all pages) matching `filter_`."""
        request: dict[str, Any] = {
            "name": f"projects/{project}",
            "filter": filter_,
            "interval": interval,
            "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        }
        if aggregation is not None:
            request["aggregation"] = aggregation
        settings = self._clients.settings
        with translated(f"Reading Cloud Monitoring data of {project}"):
            pager = self._metrics().list_time_series(
                request=request, retry=settings.retry(), timeout=settings.timeout
            )
            return [monitoring_v3.TimeSeries.pb(series) for series in pager]


def _target(slo: Any) -> SloTarget:
    return SloTarget(
        name=slo.name,
        display_name=slo.display_name or slo.name.rsplit("/", 1)[-1],
        goal=slo.goal,
        rolling_period_seconds=_period_seconds(slo),
    )


def _watches(service: Any, ref: ServiceRef) -> bool:
    """A Monitoring Service identifying this Cloud Run service (location may be left out)."""
    if service.HasField("cloud_run"):
        run = service.cloud_run
        return bool(run.service_name == ref.service and run.location in ("", ref.region))
    if service.HasField("basic_service") and service.basic_service.service_type == "CLOUD_RUN":
        labels = service.basic_service.service_labels
        return bool(
            labels.get("service_name") == ref.service
            and labels.get("location", ref.region) == ref.region
        )
    return False


def _resource_filter(ref: ServiceRef) -> str:
    for value in (ref.service, ref.region):
        if not _LABEL_VALUE.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid Cloud Run service or region name")
    return (
        'resource.type="cloud_run_revision" AND '
        f'resource.labels.service_name="{ref.service}" AND '
        f'resource.labels.location="{ref.region}"'
    )


def _sum_over(seconds: int, *group_by: str) -> dict[str, Any]:
    """One point per series covering the whole window, summed across revisions."""
    return {
        "alignment_period": {"seconds": seconds},
        "per_series_aligner": Aligner.ALIGN_DELTA,
        "cross_series_reducer": Reducer.REDUCE_SUM,
        "group_by_fields": list(group_by),
    }


def _count_by_class(series: Iterable[Any]) -> dict[str, float]:
    by_class: dict[str, float] = {}
    for one in series:
        code_class = one.metric.labels.get("response_code_class", "unknown")
        total = sum(p.value.int64_value or p.value.double_value for p in one.points)
        by_class[code_class] = by_class.get(code_class, 0.0) + total
    return by_class


def _merged_buckets(series: Iterable[Any]) -> tuple[list[int], Any]:
    """Bucket counts of every distribution point added up, with their bucket options."""
    counts: list[int] = []
    options = None
    for one in series:
        for point in one.points:
            dist = point.value.distribution_value
            options = dist.bucket_options
            counts += [0] * (len(dist.bucket_counts) - len(counts))
            for index, count in enumerate(dist.bucket_counts):
                counts[index] += count
    return counts, options


def percentile(counts: list[int], options: Any, quantile: float) -> float | None:
    """The `quantile` of a histogram, interpolated linearly inside its bucket."""
    total = sum(counts)
    if not total or options is None:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low, high = bucket_bounds(options, index)
            if high == float("inf"):
                return low
            return low + (high - low) * (rank - seen) / count
        seen += count
    return None


def bucket_bounds(options: Any, index: int) -> tuple[float, float]:
    """[low, high) of bucket `index`; bucket 0 is the underflow, the last the overflow."""
    if options.HasField("exponential_buckets"):
        exp = options.exponential_buckets
        edges = [exp.scale * exp.growth_factor**i for i in range(exp.num_finite_buckets + 1)]
    elif options.HasField("linear_buckets"):
        lin = options.linear_buckets
        edges = [lin.offset + lin.width * i for i in range(lin.num_finite_buckets + 1)]
    else:
        edges = list(options.explicit_buckets.bounds)
    bounds = [0.0, *edges, float("inf")]
    index = min(index, len(bounds) - 2)
    return bounds[index], bounds[index + 1]


def _period_seconds(slo: Any) -> int:
    if slo.HasField("rolling_period"):
        return int(slo.rolling_period.ToTimedelta().total_seconds())
    field = slo.DESCRIPTOR.fields_by_name["calendar_period"].enum_type
    return CALENDAR_SECONDS.get(field.values_by_number[slo.calendar_period].name, 0)
