"""The metric part of ListTimeSeries: filters, alignment, cross-series sums, protobufs.

Supported: filters of `KEY="VALUE"` clauses joined by AND (metric.type, resource.type,
metric.label.X, resource.label.X, in any of their spellings); per-series aligners
ALIGN_NONE, ALIGN_DELTA and ALIGN_RATE; the cross-series reducer REDUCE_SUM with
group_by_fields. Anything else is INVALID_ARGUMENT.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api import distribution_pb2, metric_pb2
from google.cloud import monitoring_v3

from gcp.emulator.core import invalid
from gcp.emulator.traffic_model import (
    BUCKETS,
    METRICS,
    REQUEST_COUNT,
    REQUEST_LATENCIES,
    Dist,
    RequestModel,
    SeriesKey,
)

RAW_PERIOD = 60.0  # Cloud Run writes one point a minute
MAX_POINTS = 20_000

Aligner = monitoring_v3.Aggregation.Aligner
Reducer = monitoring_v3.Aggregation.Reducer
TimeSeriesPb: Any = monitoring_v3.TimeSeries.pb()

_AND = re.compile(r"\s+AND\s+")
_CLAUSE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*(?:"[A-Za-z0-9_]+")?)\s*=\s*"([^"\\]*)"')


@dataclass(frozen=True)
class MetricFilter:
    clauses: tuple[tuple[str, str], ...]  # (normalised key, value)

    @property
    def metric_type(self) -> str:
        return next((v for k, v in self.clauses if k == "metric.type"), "")

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.clauses)


def parse_metric_filter(text: str) -> MetricFilter:
    """`KEY="VALUE"` clauses joined by AND or juxtaposition, as Monitoring filters write them."""
    clauses: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        if clauses and (joined := _AND.match(text, pos)):
            pos = joined.end()
        match = _CLAUSE.match(text, pos)
        if match is None:
            raise invalid(
                f"unsupported filter near {text[pos : pos + 40]!r}; the emulator supports "
                'KEY="VALUE" clauses joined by AND, with KEY one of metric.type, resource.type, '
                "metric.label.NAME, resource.label.NAME"
            )
        clauses.append((normalise_key(match.group(1)), match.group(2)))
        pos = match.end()
    return MetricFilter(tuple(clauses))


def normalise_key(key: str) -> str:
    """`resource.labels.service_name`, `resource.label."service_name"` -> resource.label.X."""
    parts = key.replace('"', "").split(".")
    if parts in (["metric", "type"], ["resource", "type"]):
        return key
    if len(parts) == 3 and parts[0] in ("metric", "resource") and parts[1] in ("label", "labels"):
        return f"{parts[0]}.label.{parts[2]}"
    raise invalid(f"unsupported filter or grouping field {key!r}")


@dataclass(frozen=True)
class Alignment:
    period: float  # seconds per point
    aligner: int
    reducer: int
    group_by: tuple[str, ...]

    @classmethod
    def of(cls, aggregation: Any) -> Alignment:
        aligner = aggregation.per_series_aligner
        reducer = aggregation.cross_series_reducer
        if aligner not in (Aligner.ALIGN_NONE, Aligner.ALIGN_DELTA, Aligner.ALIGN_RATE):
            raise invalid("the emulator supports per_series_aligner ALIGN_DELTA and ALIGN_RATE")
        if reducer not in (Reducer.REDUCE_NONE, Reducer.REDUCE_SUM):
            raise invalid("the emulator supports cross_series_reducer REDUCE_SUM only")
        if reducer != Reducer.REDUCE_NONE and aligner == Aligner.ALIGN_NONE:
            raise invalid("cross_series_reducer needs a per_series_aligner")
        if aggregation.group_by_fields and reducer == Reducer.REDUCE_NONE:
            raise invalid("group_by_fields needs a cross_series_reducer")
        period = RAW_PERIOD
        if aligner != Aligner.ALIGN_NONE:
            period = aggregation.alignment_period.ToTimedelta().total_seconds()
            if period < 60:
                raise invalid("alignment_period must be at least 60s")
        group_by = tuple(normalise_key(k) for k in aggregation.group_by_fields)
        return cls(period, aligner, reducer, group_by)

    def windows(self, start: float, end: float) -> list[tuple[float, float]]:
        """[from, to) of each point, newest first; raw points sit on whole minutes."""
        raw = self.aligner == Aligner.ALIGN_NONE
        last = math.floor(end / RAW_PERIOD) * RAW_PERIOD if raw else end
        if (last - start) / self.period > MAX_POINTS:
            raise invalid(f"more than {MAX_POINTS} points requested; use a longer alignment_period")
        out = []
        while last > start:
            out.append((last - self.period, last))
            last -= self.period
        return out


def _group_key(labels: dict[str, str], group_by: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    kept = ("metric.type", "resource.type", *group_by)
    return tuple((k, labels[k]) for k in kept if k in labels)


def metric_series(model: RequestModel, request: Any, start: float, end: float) -> list[Any]:
    query = parse_metric_filter(request.filter)
    metric = query.metric_type
    if metric not in METRICS:
        raise invalid(f"filter must name metric.type; the emulator serves {', '.join(METRICS)}")
    alignment = Alignment.of(request.aggregation)
    if metric == REQUEST_LATENCIES and alignment.aligner == Aligner.ALIGN_RATE:
        raise invalid("ALIGN_RATE does not apply to a distribution; use ALIGN_DELTA")
    windows = alignment.windows(start, end)
    if not windows:
        return []
    keys = [k for k in model.keys(metric, windows[-1][0], end) if query.matches(k.labels)]
    groups: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for key in keys:
        values = [_window_value(model, key, lo, hi) for lo, hi in windows]
        group = (
            _group_key(key.labels, alignment.group_by)
            if alignment.reducer
            else tuple(key.labels.items())
        )
        if group in groups:
            groups[group] = [_merge(a, b) for a, b in zip(groups[group], values, strict=True)]
        else:
            groups[group] = values
    return [
        series
        for labels, values in groups.items()
        if (series := _series(dict(labels), alignment, windows, values)).points
    ]


def _window_value(model: RequestModel, key: SeriesKey, start: float, end: float) -> Any:
    if key.metric == REQUEST_COUNT:
        return model.count(key, start, end)
    return model.distribution(key, start, end)


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, Dist):
        merged = Dist(list(a.buckets), a.count, a.total_ms)
        merged.add(b)
        return merged
    return a + b


def _series(
    labels: dict[str, str],
    alignment: Alignment,
    windows: list[tuple[float, float]],
    values: list[Any],
) -> Any:
    metric = labels["metric.type"]
    rate = alignment.aligner == Aligner.ALIGN_RATE
    kinds = metric_pb2.MetricDescriptor
    series = TimeSeriesPb(
        metric_kind=kinds.MetricKind.GAUGE if rate else kinds.MetricKind.DELTA,
        value_type=_value_type(metric, rate),
        unit="ms" if metric == REQUEST_LATENCIES else ("1/s" if rate else "1"),
    )
    series.metric.type = metric
    series.resource.type = labels.get("resource.type", "cloud_run_revision")
    for key, value in labels.items():
        scope, _, name = key.partition(".label.")
        if name:
            target = series.metric.labels if scope == "metric" else series.resource.labels
            target[name] = value
    for (lo, hi), value in zip(windows, values, strict=True):
        if isinstance(value, Dist):
            if round(value.count) > 0:
                add_point(series, lo, hi, distribution=_distribution(value))
        elif rate and value > 0:
            add_point(series, lo, hi, double=value / (hi - lo))
        elif not rate and round(value) > 0:
            add_point(series, lo, hi, int64=round(value))
    return series


def _value_type(metric: str, rate: bool) -> int:
    types = metric_pb2.MetricDescriptor.ValueType
    if metric == REQUEST_LATENCIES:
        return int(types.DISTRIBUTION)
    return int(types.DOUBLE if rate else types.INT64)


def _distribution(dist: Dist) -> Any:
    out = distribution_pb2.Distribution()
    count, growth, scale = BUCKETS
    options = out.bucket_options.exponential_buckets
    options.num_finite_buckets, options.growth_factor, options.scale = count, growth, scale
    cumulative = 0.0
    previous = 0
    for expected in dist.buckets:
        cumulative += expected
        out.bucket_counts.append(round(cumulative) - previous)
        previous = round(cumulative)
    out.count = previous
    out.mean = dist.total_ms / dist.count if dist.count else 0.0
    return out


def add_point(
    series: Any,
    start: float,
    end: float,
    *,
    double: float | None = None,
    int64: int | None = None,
    distribution: Any = None,
) -> None:
    point = series.points.add()
    point.interval.start_time.FromDatetime(datetime.fromtimestamp(start, UTC))
    point.interval.end_time.FromDatetime(datetime.fromtimestamp(end, UTC))
    if double is not None:
        point.value.double_value = double
    elif int64 is not None:
        point.value.int64_value = int64
    else:
        point.value.distribution_value.CopyFrom(distribution)
