"""Did the trouble start after a change? Pure reasoning over what Google and the bot recorded.

Inputs are facts read elsewhere: per-revision health from Cloud Monitoring, revisions from
Cloud Run, Admin Activity entries from Cloud Audit Logs, and the bot's own change records.
The answer names the revision whose arrival preceded the trouble, who brought it, and the last
revision that served healthily before it; or says that no change explains it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from gcp.diagnosis_models import AuditEntry, RevisionHealth
from gcp.models import Revision

HEALTHY_ERROR_RATE = 0.01  # above 1% 5xx a revision is not healthy (the seeded SLO is 99%)
SLOWER_FACTOR = 2.0  # a p95 twice its predecessor's counts as a latency regression
MATCH_WITHIN = timedelta(minutes=5)  # how far a change's record may be from what it caused
T = TypeVar("T")


@dataclass(frozen=True)
class BotChange:
    """A change made through the bot, from its own record."""

    at: datetime  # when it ran (or was requested, if it never ran)
    verb: str
    requested_by: str  # Slack user id
    approved_by: str  # Slack user id, "" if none
    outcome: str  # the record's state, e.g. succeeded
    summary: str = ""


@dataclass(frozen=True)
class Origin:
    """Who brought a revision: the bot's record or an audit entry (or neither)."""

    bot: BotChange | None = None
    audit: AuditEntry | None = None


@dataclass(frozen=True)
class Finding:
    """What the data show. `suspect` is None when no change explains the trouble."""

    trouble: str  # "errors", "latency" or "" (nothing abnormal in the window)
    suspect: RevisionHealth | None = None
    took_traffic: datetime | None = None
    trouble_began: datetime | None = None
    origin: Origin = Origin()
    last_healthy: RevisionHealth | None = None
    last_healthy_image: str = ""
    troubled: RevisionHealth | None = None  # the revision with the trouble, suspect or not


def unhealthy(health: RevisionHealth) -> bool:
    return health.error_rate > HEALTHY_ERROR_RATE


def slower(health: RevisionHealth, before: RevisionHealth | None) -> bool:
    if before is None or health.latency_p95_ms is None or before.latency_p95_ms is None:
        return False
    return health.latency_p95_ms >= SLOWER_FACTOR * before.latency_p95_ms


def diagnose(
    served: tuple[RevisionHealth, ...],
    window_start: datetime,
    revisions: list[Revision],
    audit: list[AuditEntry],
    changes: list[BotChange],
    resolution: timedelta = timedelta(minutes=1),
) -> Finding:
    """`served`: every revision with requests in the window, ordered by when it first served;
    `resolution`: the metrics' window, below which two moments cannot be told apart."""
    for index in range(len(served) - 1, -1, -1):
        health = served[index]
        before = _last_healthy_before(served[:index])
        trouble = "errors" if unhealthy(health) else ("latency" if slower(health, before) else "")
        if not trouble:
            continue
        arrived = health.first_served is not None and health.first_served > window_start
        took = took_traffic_at(health, revisions) if arrived else None
        if took is None:
            return Finding(trouble, troubled=health)
        began = _trouble_began(health, trouble)
        return Finding(
            trouble,
            suspect=health,
            took_traffic=took,
            trouble_began=_not_before(began, took, resolution),
            origin=origin_of(health.revision, took, revisions, audit, changes),
            last_healthy=before,
            last_healthy_image=_image(before, revisions),
            troubled=health,
        )
    return Finding("")


def took_traffic_at(health: RevisionHealth, revisions: list[Revision]) -> datetime | None:
    """When a revision began serving: its first window with requests, not before it existed."""
    created = next((r.create_time for r in revisions if r.name == health.revision), None)
    first = health.first_served
    return max(first, created) if first and created else first


def _not_before(began: datetime | None, took: datetime, resolution: timedelta) -> datetime | None:
    """When the trouble began, as seen at `resolution`: within one window of `took` is `took`."""
    if began is None:
        return None
    return took if began - took <= resolution else began


def _last_healthy_before(earlier: tuple[RevisionHealth, ...]) -> RevisionHealth | None:
    healthy = [h for h in earlier if not unhealthy(h)]
    return healthy[-1] if healthy else None


def _trouble_began(health: RevisionHealth, trouble: str) -> datetime | None:
    if trouble != "errors":
        return health.first_served
    erroring = [w for w in health.windows if w.error_rate > HEALTHY_ERROR_RATE]
    return erroring[0].start if erroring else None


def _image(health: RevisionHealth | None, revisions: list[Revision]) -> str:
    if health is None:
        return ""
    return next((r.image for r in revisions if r.name == health.revision), "")


def origin_of(
    revision: str,
    took_traffic: datetime,
    revisions: list[Revision],
    audit: list[AuditEntry],
    changes: list[BotChange],
) -> Origin:
    """The bot change or audit entry nearest to when `revision` was created or took traffic."""
    created = next((r.create_time for r in revisions if r.name == revision), None)
    moments = [m for m in (created, took_traffic) if m is not None]
    bot = _nearest(changes, moments, lambda c: c.at)
    entry = _nearest(audit, moments, lambda e: e.timestamp)
    return Origin(bot=bot, audit=None if bot else entry)


def bot_change_for(entry: AuditEntry, changes: list[BotChange]) -> BotChange | None:
    """The bot's record of the change an audit entry logged, if the bot made it."""
    return _nearest(changes, [entry.timestamp], lambda c: c.at)


def _nearest(items: list[T], moments: list[datetime], when: Callable[[T], datetime]) -> T | None:
    best: tuple[timedelta, T] | None = None
    for item in items:
        gap = min(abs(when(item) - moment) for moment in moments) if moments else None
        if gap is not None and gap <= MATCH_WITHIN and (best is None or gap < best[0]):
            best = (gap, item)
    return best[1] if best else None
