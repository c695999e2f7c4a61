"""Cloud Monitoring v3: Cloud Run request metrics derived from traffic, and request-based SLOs.

No time series is stored. `run.googleapis.com/request_count` and `.../request_latencies`
are computed from the Cloud Run state (the `TrafficSource`): each revision receives its share
of the service's traffic and answers with its own error rate and latency. Monitoring keeps a
history of each service's traffic split (polled on every ListTimeSeries, or recorded by
`observe`), so a traffic change changes the series from the moment it was seen; before the
first observation, the first split seen is assumed. SLO compliance, error budget and burn
rate (the `select_slo_*` selectors) are computed from the same derived request counts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api import metric_pb2
from google.cloud import monitoring_v3
from google.protobuf.message import Message

from gcp.emulator import fluxori, slo_update
from gcp.emulator.core import (
    Faults,
    Handler,
    Method,
    TrafficSource,
    invalid,
    not_found,
    paginate,
    service_handler,
)
from gcp.emulator.time_series import (
    RAW_PERIOD,
    Aligner,
    MetricFilter,
    TimeSeriesPb,
    add_point,
    metric_series,
    parse_metric_filter,
)
from gcp.emulator.traffic_model import REQUEST_COUNT, RequestModel, SplitChange

METRIC_SERVICE = "google.monitoring.v3.MetricService"
SLO_SERVICE = "google.monitoring.v3.ServiceMonitoringService"
SLO_ID = "availability-24h"
SELECTORS = {  # name -> number of arguments
    "select_slo_compliance": 1,
    "select_slo_budget_fraction": 1,
    "select_slo_burn_rate": 2,
}
_SLO_ALIGNERS = (Aligner.ALIGN_NONE, Aligner.ALIGN_NEXT_OLDER, Aligner.ALIGN_MEAN)
_SELECTOR = re.compile(r'\s*(select_slo_\w+)\(\s*"([^"]+)"\s*(?:,\s*"([^"]+)"\s*)?\)\s*')


def _pb(proto_plus_cls: Any) -> Any:
    """The raw protobuf class behind a proto-plus class (gRPC handlers speak raw protobuf)."""
    return proto_plus_cls.pb()


ServicePb = _pb(monitoring_v3.Service)
SloPb = _pb(monitoring_v3.ServiceLevelObjective)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Monitoring:
    """MetricService.ListTimeSeries and ServiceMonitoringService over derived data."""

    def __init__(self, run: TrafficSource, clock: Callable[[], datetime] = utc_now) -> None:
        self.run = run
        self.clock = clock
        self._lock = threading.Lock()
        self._history: dict[str, list[SplitChange]] = {}
        self._services: dict[str, Message] = {}
        self._slos: dict[str, Any] = {}

    # state

    def seed_fluxori(self) -> None:
        """A Monitoring service and the runbook's availability SLO per Fluxori service."""
        for project in fluxori.PROJECTS:
            for service in fluxori.SERVICES:
                self.define_request_slo(project, service)

    def define_request_slo(
        self,
        project: str,
        service: str,
        *,
        slo_id: str = SLO_ID,
        goal: float = 0.99,
        rolling_period: timedelta = timedelta(days=1),
        display_name: str = fluxori.SLO_DISPLAY_NAME,
        region: str = fluxori.REGION,
        service_id: str = "",
    ) -> str:
        """Defines (or replaces) a request-based SLO on a Cloud Run service; returns its name.
        `service_id` is the Monitoring Service's id (default: the Cloud Run service's name)."""
        parent = self._define_service(project, service, region, service_id or service)
        slo = SloPb(name=f"{parent}/serviceLevelObjectives/{slo_id}", display_name=display_name)
        slo.goal = goal
        slo.rolling_period.FromTimedelta(rolling_period)
        ratio = slo.service_level_indicator.request_based.good_total_ratio
        total = (
            f'metric.type="{REQUEST_COUNT}" resource.type="cloud_run_revision" '
            f'resource.label."service_name"="{service}"'
        )
        ratio.total_service_filter = total
        ratio.good_service_filter = f'{total} metric.label."response_code_class"="2xx"'
        with self._lock:
            self._slos[slo.name] = slo
        return str(slo.name)

    def _define_service(self, project: str, service: str, region: str, service_id: str) -> str:
        name = f"projects/{project}/services/{service_id}"
        entry = ServicePb(name=name, display_name=service)
        entry.cloud_run.service_name = service
        entry.cloud_run.location = region
        entry.telemetry.resource_name = (
            f"//run.googleapis.com/projects/{project}/locations/{region}/services/{service}"
        )
        with self._lock:
            self._services.setdefault(name, entry)
        return name

    def slos_of(self, project: str, service: str) -> list[Any]:
        """Copies of the SLOs on the Monitoring services that watch a Cloud Run service."""
        with self._lock:
            parents = {
                f"{name}/serviceLevelObjectives/"
                for name, entry in self._services.items()
                if name.startswith(f"projects/{project}/")
                and entry.cloud_run.service_name == service  # type: ignore[attr-defined]
            }
            found = [
                s for n, s in sorted(self._slos.items()) if n.rsplit("/", 1)[0] + "/" in parents
            ]
            return [SloPb.FromString(s.SerializeToString()) for s in found]

    def observe(self, at: datetime | None = None) -> None:
        """Record every service's current traffic split as in effect from `at`.

        Without `at`: from when Cloud Run says the split changed, else from now.
        """
        now = self.clock()
        for name in self.run.service_names():
            split = self.run.serving_split(name)
            self.note_split_change(name, split, at or self._changed_at(name, now))

    def _changed_at(self, service_name: str, now: datetime) -> datetime:
        reported = self.run.split_changed_at(service_name) or now
        with self._lock:
            changes = self._history.get(service_name, [])
            last = changes[-1].at if changes else float("-inf")
        # Never before the last recorded change, never in the future.
        when = min(max(reported.timestamp(), last), now.timestamp())
        return datetime.fromtimestamp(when, UTC)

    def note_split_change(self, service_name: str, split: dict[str, int], at: datetime) -> None:
        """Record that `service_name` served `split` from `at` on (no-op if unchanged)."""
        when = at.timestamp()
        with self._lock:
            changes = self._history.setdefault(service_name, [])
            before = [c for c in changes if c.at <= when]
            if before and before[-1].split == split:
                return
            later = [c for c in changes if c.at > when]
            self._history[service_name] = [*before, SplitChange(when, dict(split)), *later]

    # RPCs

    def handlers(self, faults: Faults) -> list[Handler]:
        metric = {
            "ListTimeSeries": Method(
                _pb(monitoring_v3.ListTimeSeriesRequest), self.list_time_series
            )
        }
        slo = {
            "ListServices": Method(_pb(monitoring_v3.ListServicesRequest), self.list_services),
            "GetService": Method(_pb(monitoring_v3.GetServiceRequest), self.get_service),
            "ListServiceLevelObjectives": Method(
                _pb(monitoring_v3.ListServiceLevelObjectivesRequest), self.list_slos
            ),
            "GetServiceLevelObjective": Method(
                _pb(monitoring_v3.GetServiceLevelObjectiveRequest), self.get_slo
            ),
            "UpdateServiceLevelObjective": Method(
                _pb(monitoring_v3.UpdateServiceLevelObjectiveRequest), self.update_slo
            ),
        }
        return [
            service_handler(METRIC_SERVICE, metric, faults),
            service_handler(SLO_SERVICE, slo, faults),
        ]

    def list_time_series(self, request: Any) -> Message:
        project = _project(request.name)
        now = self.clock()
        self.observe()
        _refuse_unsupported(request)
        start, end = _interval(request.interval, now.timestamp())
        model = self._model(project)
        if request.filter.lstrip().startswith("select_slo_"):
            series = self._slo_series(model, request, start, end)
        else:
            series = metric_series(model, request, start, end)
        if request.view == monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.HEADERS:
            for one in series:
                del one.points[:]
        page, token = paginate(series, request.page_size, request.page_token, len(series) or 1)
        response = _pb(monitoring_v3.ListTimeSeriesResponse)()
        response.time_series.extend(page)
        response.next_page_token = token
        return response  # type: ignore[no-any-return]

    def list_services(self, request: Any) -> Message:
        _refuse_filter(request.filter)
        prefix = f"projects/{_project(request.parent)}/services/"
        with self._lock:
            found = [s for name, s in sorted(self._services.items()) if name.startswith(prefix)]
        page, token = paginate(found, request.page_size, request.page_token, len(found) or 1)
        response = _pb(monitoring_v3.ListServicesResponse)(next_page_token=token)
        response.services.extend(page)
        return response  # type: ignore[no-any-return]

    def get_service(self, request: Any) -> Message:
        with self._lock:
            found = self._services.get(request.name)
        if found is None:
            raise not_found(f"Monitoring service {request.name} does not exist")
        return found

    def list_slos(self, request: Any) -> Message:
        _refuse_filter(request.filter)
        with self._lock:
            if request.parent not in self._services:
                raise not_found(f"Monitoring service {request.parent} does not exist")
            prefix = f"{request.parent}/serviceLevelObjectives/"
            found = [s for name, s in sorted(self._slos.items()) if name.startswith(prefix)]
        page, token = paginate(found, request.page_size, request.page_token, len(found) or 1)
        response = _pb(monitoring_v3.ListServiceLevelObjectivesResponse)(next_page_token=token)
        response.service_level_objectives.extend(page)
        return response  # type: ignore[no-any-return]

    def get_slo(self, request: Any) -> Message:
        with self._lock:
            found = self._slos.get(request.name)
        if found is None:
            raise not_found(f"service level objective {request.name} does not exist")
        return found  # type: ignore[no-any-return]

    def update_slo(self, request: Any) -> Message:
        """Compliance, budget and burn rate follow the new goal and window from now on."""
        name = request.service_level_objective.name
        with self._lock:
            current = self._slos.get(name)
            if current is None:
                raise not_found(f"service level objective {name} does not exist")
            updated = slo_update.merged(
                current, request.service_level_objective, list(request.update_mask.paths)
            )
            self._slos[name] = updated
        return updated  # type: ignore[no-any-return]

    # SLO selectors

    def _model(self, project: str) -> RequestModel:
        with self._lock:
            history = {name: list(changes) for name, changes in self._history.items()}
        return RequestModel(self.run, history, project)

    def _slo_series(self, model: RequestModel, request: Any, start: float, end: float) -> list[Any]:
        query = self._slo_query(request.filter)
        if not query.slo_name.startswith(f"projects/{model.project}/"):
            raise invalid(f"{query.slo_name} is not in projects/{model.project}")
        step = _slo_step(request.aggregation)
        series = TimeSeriesPb(
            metric_kind=metric_pb2.MetricDescriptor.MetricKind.GAUGE,
            value_type=metric_pb2.MetricDescriptor.ValueType.DOUBLE,
        )
        series.metric.type = query.selector
        series.metric.labels["service_level_objective"] = query.slo_name
        at = end
        while at >= start:
            value = query.value(model, at)
            if value is not None:
                add_point(series, at, at, double=value)
            at -= step
        return [series] if series.points else []

    def _slo_query(self, text: str) -> SloQuery:
        selector, slo_name, lookback = _parse_selector(text)
        with self._lock:
            slo = self._slos.get(slo_name)
        if slo is None:
            raise not_found(f"service level objective {slo_name} does not exist")
        ratio = slo.service_level_indicator.request_based.good_total_ratio
        if not (ratio.total_service_filter and ratio.good_service_filter):
            raise invalid("the emulator computes request-based goodTotalRatio SLOs only")
        rolling = slo.rolling_period.ToTimedelta().total_seconds()
        return SloQuery(
            selector=selector,
            slo_name=slo_name,
            goal=slo.goal,
            window=lookback if selector == "select_slo_burn_rate" else rolling,
            good=parse_metric_filter(ratio.good_service_filter),
            total=parse_metric_filter(ratio.total_service_filter),
        )


@dataclass(frozen=True)
class SloQuery:
    """One `select_slo_*` selector applied to one request-based SLO."""

    selector: str
    slo_name: str
    goal: float
    window: float  # seconds the ratio is computed over: the rolling period or the lookback
    good: MetricFilter
    total: MetricFilter

    def value(self, model: RequestModel, at: float) -> float | None:
        requests = _sum(model, self.total, at - self.window, at)
        if requests <= 0:
            return None
        compliance = _sum(model, self.good, at - self.window, at) / requests
        budget = 1 - self.goal
        if self.selector == "select_slo_compliance":
            return compliance
        if self.selector == "select_slo_budget_fraction":
            return 1 - (1 - compliance) / budget
        return (1 - compliance) / budget  # burn rate: 1.0 spends the budget exactly on time


def _sum(model: RequestModel, query: MetricFilter, start: float, end: float) -> float:
    if query.metric_type != REQUEST_COUNT:
        raise invalid(f"SLO filters must select {REQUEST_COUNT}")
    return sum(
        model.count(key, start, end)
        for key in model.keys(REQUEST_COUNT, start, end)
        if query.matches(key.labels)
    )


def _parse_selector(text: str) -> tuple[str, str, float]:
    match = _SELECTOR.fullmatch(text)
    if match is None or match.group(1) not in SELECTORS:
        raise invalid(
            f"unsupported time series selector in {text!r}; the emulator supports "
            + ", ".join(
                f"{name}(SLO_NAME{', LOOKBACK' * (n - 1)})" for name, n in SELECTORS.items()
            )
        )
    selector, slo_name, lookback = match.groups()
    if (lookback is not None) != (SELECTORS[selector] == 2):
        raise invalid(f"{selector} takes {SELECTORS[selector]} argument(s)")
    return selector, slo_name, _duration(lookback) if lookback else 0.0


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m|h)", text)
    if match is None:
        raise invalid(f"lookback period {text!r} must look like 3600s, 60m or 1h")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def _slo_step(aggregation: Any) -> float:
    if aggregation.per_series_aligner not in _SLO_ALIGNERS or aggregation.cross_series_reducer:
        raise invalid("SLO selectors support no aggregation, or ALIGN_NEXT_OLDER / ALIGN_MEAN")
    period = aggregation.alignment_period.ToTimedelta().total_seconds()
    return period if period >= 60 else RAW_PERIOD


def _project(name: str) -> str:
    match = re.fullmatch(r"projects/([^/]+)", name)
    if match is None:
        raise invalid(f"name {name!r} must be projects/PROJECT_ID")
    return match.group(1)


def _refuse_unsupported(request: Any) -> None:
    if request.HasField("secondary_aggregation"):
        raise invalid("secondary_aggregation is not supported by the emulator")
    if request.order_by:
        raise invalid("order_by is not supported by the emulator")


def _refuse_filter(text: str) -> None:
    if text:
        raise invalid("filters on services and SLOs are not supported by the emulator")


def _interval(interval: Any, now: float) -> tuple[float, float]:
    """[start, end] clamped to now: no point describes the future."""
    if not interval.HasField("end_time"):
        raise invalid("interval.end_time is required")
    end = interval.end_time.ToDatetime(UTC).timestamp()
    start = (
        interval.start_time.ToDatetime(UTC).timestamp() if interval.HasField("start_time") else end
    )
    if start > end:
        raise invalid("interval.start_time is after interval.end_time")
    return start, min(end, now)
