"""Slack's Web API rate limits, written from Slack's documentation ("Rate limits",
https://api.slack.com/docs/rate-limits, and each method's page for its tier):

- limits apply per method, per app, per workspace, in tiers: Tier 1 "1+ per minute", Tier 2
  "20+ per minute", Tier 3 "50+ per minute", Tier 4 "100+ per minute", each tolerating some
  burst;
- `chat.postMessage` is a special tier: "generally allows posting one message per second per
  channel", short bursts allowed (a workspace-wide limit exists too; Slack publishes no
  figure for it, so it is not modelled);
- over a limit Slack answers HTTP 429 with a `Retry-After` header (seconds) and
  `{"ok": false, "error": "ratelimited"}`.

Slack publishes no burst sizes; the ones below are modest and named, so tests can state what
they rely on. Off unless the emulator is told (`SlackEmulator(rate_limits=True)`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.dev.slack_emulator.wire import Response, json_response

PER_MINUTE = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
METHOD_TIERS = {  # each method's page on api.slack.com names its tier
    "apps.connections.open": 1,
    "usergroups.users.list": 2,
    "conversations.list": 2,
    "chat.update": 3,
    "conversations.info": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
}
POST_PER_SECOND = 1.0  # chat.postMessage, per channel
POST_BURST = 4  # "short bursts >1 allowed"
TIER_BURST_SECONDS = 6.0  # a tier's burst: what it earns in this many seconds, at least 2 calls


@dataclass
class Bucket:
    """A token bucket: `capacity` calls at once, refilled at `rate` calls per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a call may go now (and it is counted), else the seconds until one may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimits:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    def refusal(self, method: str, args: dict[str, object]) -> Response | None:
        """Slack's 429 for this call when it is over its limit, else None (and it counts)."""
        limit = _limit(method)
        if limit is None:
            return None
        key = (method, str(args.get("channel", "")) if method == "chat.postMessage" else "")
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = Bucket(limit[0], limit[1], limit[0], now)
            wait = bucket.take(now)
        if not wait:
            return None
        headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        return json_response({"ok": False, "error": "ratelimited"}, 429, headers)


def _limit(method: str) -> tuple[float, float] | None:
    """(burst capacity, calls per second) for `method`, or None when it is not limited."""
    if method == "chat.postMessage":
        return float(POST_BURST), POST_PER_SECOND
    tier = METHOD_TIERS.get(method)
    if tier is None:
        return None
    rate = PER_MINUTE[tier] / 60
    return max(2.0, rate * TIER_BURST_SECONDS), rate
