"""Per-revision health from Cloud Monitoring: 5xx rate, p95 latency, when each revision served.

Cloud Run's `run.googleapis.com/request_count` (labelled `response_code_class`) and
`run.googleapis.com/request_latencies` are written per `cloud_run_revision` resource, whose
`revision_name` label tells the revisions apart
(https://cloud.google.com/monitoring/api/metrics_gcp#gcp-run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from google.cloud import monitoring_v3

from gcp.diagnosis_models import HealthReport, Query, RevisionHealth, Window
from gcp.log_queries import SERVICE_NAME
from gcp.models import ServiceRef
from gcp.monitoring import REQUEST_COUNT, REQUEST_LATENCIES, MonitoringAdapter, percentile

CONSOLE_METRICS = "https://console.cloud.google.com/monitoring/metrics-explorer"
POINTS = 24  # windows per diagnosis: fine enough to date a change, few enough to read fast
REVISION = "resource.label.revision_name"
CODE_CLASS = "metric.label.response_code_class"

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer


def step_for(span: timedelta) -> int:
    """Seconds per window: whole minutes, at least one."""
    return max(60, int(span.total_seconds() / POINTS) // 60 * 60)


def metric_filter(metric: str, ref: ServiceRef) -> str:
    for value in (ref.service, ref.region):
        if not SERVICE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid Cloud Run service or region name")
    return (
        f'metric.type="{metric}" AND resource.type="cloud_run_revision" AND '
        f'resource.labels.service_name="{ref.service}" AND '
        f'resource.labels.location="{ref.region}"'
    )


def explorer_url(project: str, filter_: str, aggregation: dict[str, Any], span: timedelta) -> str:
    """A Metrics Explorer link charting `filter_` with `aggregation` over the last `span`.

    The console keeps its chart in the `pageState` parameter (its own link format): the
    filter and aggregation are the ones the API was asked.
    """
    data_set = {
        "timeSeriesFilter": {
            "filter": filter_,
            "perSeriesAligner": "ALIGN_DELTA",
            "crossSeriesReducer": "REDUCE_SUM",
            "groupByFields": aggregation["group_by_fields"],
            "minAlignmentPeriod": f"{aggregation['alignment_period']['seconds']}s",
        }
    }
    state = {
        "xyChart": {"dataSets": [data_set]},
        "timeSelection": {"timeRange": f"{int(span.total_seconds())}s"},
    }
    return f"{CONSOLE_METRICS}?project={project}&pageState={quote(json.dumps(state), safe='')}"


class RevisionHealthAdapter(MonitoringAdapter):
    """Monitoring's time series read per revision (the same client and calls as its parent)."""

    def report(self, ref: ServiceRef, span: timedelta, end: datetime | None = None) -> HealthReport:
        """Every revision with requests in (end - span, end], oldest first."""
        finish = end or datetime.now(UTC)
        step = step_for(span)
        whole = step * max(1, int(span.total_seconds()) // step)
        interval = {"start_time": finish - timedelta(seconds=whole), "end_time": finish}
        counts_query = _aggregation(step, REVISION, CODE_CLASS)
        latency_query = _aggregation(whole, REVISION)
        counts_filter = metric_filter(REQUEST_COUNT, ref)
        latency_filter = metric_filter(REQUEST_LATENCIES, ref)
        counts = self._series(ref.project, counts_filter, interval, counts_query)
        latencies = self._series(ref.project, latency_filter, interval, latency_query)
        windows = _windows_by_revision(counts, step)
        p95 = _p95_by_revision(latencies)
        revisions = [
            RevisionHealth(name, tuple(found), p95.get(name)) for name, found in windows.items()
        ]
        revisions.sort(key=lambda r: r.first_served or finish)
        queries = (
            Query(counts_filter, explorer_url(ref.project, counts_filter, counts_query, span)),
            Query(latency_filter, explorer_url(ref.project, latency_filter, latency_query, span)),
        )
        return HealthReport(tuple(revisions), queries, step)


def _aggregation(seconds: int, *group_by: str) -> dict[str, Any]:
    return {
        "alignment_period": {"seconds": seconds},
        "per_series_aligner": Aligner.ALIGN_DELTA,
        "cross_series_reducer": Reducer.REDUCE_SUM,
        "group_by_fields": list(group_by),
    }


def _windows_by_revision(series: Iterable[Any], step: int) -> dict[str, list[Window]]:
    """Requests and 5xx per revision and window; windows without requests are left out."""
    cells: dict[str, dict[datetime, list[float]]] = {}
    for one in series:
        revision = one.resource.labels.get("revision_name", "")
        failed = one.metric.labels.get("response_code_class") == "5xx"
        for point in one.points:
            end = point.interval.end_time.ToDatetime(UTC)
            cell = cells.setdefault(revision, {}).setdefault(end, [0.0, 0.0])
            value = float(point.value.int64_value or point.value.double_value)
            cell[0] += value
            cell[1] += value if failed else 0.0
    return {
        revision: [
            Window(end - timedelta(seconds=step), end, total, errors)
            for end, (total, errors) in sorted(by_end.items())
            if total > 0
        ]
        for revision, by_end in cells.items()
    }


def _p95_by_revision(series: Iterable[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for one in series:
        for point in one.points:
            dist = point.value.distribution_value
            value = percentile(list(dist.bucket_counts), dist.bucket_options, 0.95)
            if value is not None:
                out[one.resource.labels.get("revision_name", "")] = value
    return out
