"""Cloud Run request traffic as Monitoring derives it: no series is stored.

Each service's traffic split history says which revisions served when; each revision's
`RevisionHealth` says how many requests it answers, how many fail, and how fast. Request
counts and latency distributions over any time range follow by integration.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from gcp.emulator.core import RevisionHealth, TrafficSource

REQUEST_COUNT = "run.googleapis.com/request_count"
REQUEST_LATENCIES = "run.googleapis.com/request_latencies"
METRICS = (REQUEST_COUNT, REQUEST_LATENCIES)
CODE_CLASSES = ("2xx", "4xx", "5xx")
CLIENT_ERROR_RATE = 0.002  # share of non-5xx answers that are 4xx
LATENCY_SIGMA = 0.5  # log-normal spread of request latency around a revision's median
BUCKETS = (80, 1.2, 1.0)  # exponential buckets: finite count, growth factor, scale (ms)

_SERVICE_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/services/([^/]+)")


@dataclass(frozen=True)
class SplitChange:
    at: float  # epoch seconds
    split: dict[str, int]


def segments(
    changes: Sequence[SplitChange], start: float, end: float
) -> Iterator[tuple[float, float, dict[str, int]]]:
    """(from, to, split) pieces covering [start, end); the first split extends backwards."""
    for index, change in enumerate(changes):
        since = -math.inf if index == 0 else change.at
        until = changes[index + 1].at if index + 1 < len(changes) else math.inf
        lo, hi = max(since, start), min(until, end)
        if lo < hi:
            yield lo, hi, change.split


@dataclass(frozen=True)
class SeriesKey:
    metric: str
    service_name: str  # projects/P/locations/R/services/S
    revision: str
    code_class: str = ""

    @property
    def labels(self) -> dict[str, str]:
        """Metric and resource labels, keyed as filters name them (resource.label.X)."""
        project, region, service = split_service_name(self.service_name)
        labels = {
            "metric.type": self.metric,
            "resource.type": "cloud_run_revision",
            "resource.label.project_id": project,
            "resource.label.location": region,
            "resource.label.service_name": service,
            "resource.label.configuration_name": service,
            "resource.label.revision_name": self.revision,
        }
        if self.code_class:
            labels["metric.label.response_code_class"] = self.code_class
        return labels


@dataclass
class Dist:
    """A latency distribution still in expected (fractional) counts."""

    buckets: list[float] = field(default_factory=lambda: [0.0] * (BUCKETS[0] + 2))
    count: float = 0.0
    total_ms: float = 0.0

    def add(self, other: Dist) -> None:
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.count += other.count
        self.total_ms += other.total_ms


class RequestModel:
    """Request counts and latencies of one project's services over any time range."""

    def __init__(
        self, source: TrafficSource, history: dict[str, list[SplitChange]], project: str
    ) -> None:
        self.source = source
        self.project = project
        self.history = {
            name: changes
            for name, changes in history.items()
            if split_service_name(name)[0] == project
        }
        self._health: dict[tuple[str, str], RevisionHealth] = {}

    def keys(self, metric: str, start: float, end: float) -> list[SeriesKey]:
        """Every series with traffic in [start, end)."""
        classes = CODE_CLASSES if metric == REQUEST_COUNT else ("",)
        keys = []
        for name, changes in sorted(self.history.items()):
            revisions = {r for _, _, split in segments(changes, start, end) for r in split}
            keys += [
                SeriesKey(metric, name, revision, code_class)
                for revision in sorted(revisions)
                for code_class in classes
            ]
        return keys

    def count(self, key: SeriesKey, start: float, end: float) -> float:
        total = 0.0
        for lo, hi, split in segments(self.history[key.service_name], start, end):
            rps = self._rps(key.service_name, key.revision, split)
            total += (hi - lo) * rps * self._class_share(key)
        return total

    def distribution(self, key: SeriesKey, start: float, end: float) -> Dist:
        dist = Dist()
        health = self._revision(key.service_name, key.revision)
        fractions = _bucket_fractions(health.latency_ms)
        mean = health.latency_ms * math.exp(LATENCY_SIGMA**2 / 2)
        for lo, hi, split in segments(self.history[key.service_name], start, end):
            requests = (hi - lo) * self._rps(key.service_name, key.revision, split)
            dist.add(Dist([f * requests for f in fractions], requests, requests * mean))
        return dist

    def _rps(self, service_name: str, revision: str, split: dict[str, int]) -> float:
        percent = split.get(revision, 0)
        if not percent:
            return 0.0
        return percent / 100 * self._revision(service_name, revision).requests_per_second

    def _class_share(self, key: SeriesKey) -> float:
        error_rate = self._revision(key.service_name, key.revision).error_rate
        shares = {
            "5xx": error_rate,
            "4xx": (1 - error_rate) * CLIENT_ERROR_RATE,
            "2xx": (1 - error_rate) * (1 - CLIENT_ERROR_RATE),
        }
        return shares[key.code_class]

    def _revision(self, service_name: str, revision: str) -> RevisionHealth:
        if (service_name, revision) not in self._health:
            self._health[service_name, revision] = self.source.revision_health(
                service_name, revision
            )
        return self._health[service_name, revision]


@lru_cache(maxsize=256)
def _bucket_fractions(median_ms: float) -> tuple[float, ...]:
    """Share of a log-normal latency distribution in each exponential bucket."""
    count, growth, scale = BUCKETS
    bounds = [scale * growth**i for i in range(count + 1)]
    cdf = [0.0] + [_lognormal_cdf(b, median_ms) for b in bounds] + [1.0]
    return tuple(hi - lo for lo, hi in itertools.pairwise(cdf))


def _lognormal_cdf(x: float, median: float) -> float:
    z = (math.log(x) - math.log(max(median, 1e-3))) / LATENCY_SIGMA
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def split_service_name(name: str) -> tuple[str, str, str]:
    match = _SERVICE_NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"not a Cloud Run service name: {name}")
    project, region, service = match.groups()
    return project, region, service
