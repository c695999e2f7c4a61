"""Slack's rate limits, kept instead of discovered by 429s.

From Slack's documentation ("Rate limits", https://api.slack.com/docs/rate-limits, and each
method's page for its tier): `chat.postMessage` allows about one message per second per
channel with short bursts; other methods are limited per app and workspace by tier (Tier 2
"20+ per minute", Tier 3 "50+", Tier 4 "100+"). Slack publishes no burst sizes, so the bursts
here are small. Each instance keeps its own budget: several instances posting in one channel
can still meet a 429, which the outbox then honours (Retry-After).

Callers wait in priority order: what a change needs (plan cards, confirmations, progress,
results) goes before read answers, alert cards and App Home.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from bot.slack.keepalive import KeepAliveWebClient

POST_METHOD = "chat.postMessage"
POSTS_PER_SECOND = 1.0  # per channel
POST_BURST = 3.0
PER_MINUTE = {2: 20.0, 3: 50.0, 4: 100.0}
METHOD_TIERS = {
    "usergroups.users.list": 2,
    "conversations.list": 2,
    "chat.update": 3,
    "conversations.info": 3,
    "chat.postEphemeral": 4,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
}
TIER_BURST_SECONDS = 5.0  # a tier's burst: what it earns in this many seconds


class Priority(IntEnum):
    CHANGE = 0  # plan cards, confirmations, progress and results of changes
    NORMAL = 1  # read answers, alert cards, App Home


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "slack_priority", default=Priority.NORMAL
)


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Slack calls made inside this block wait with `level`."""
    token = _priority.set(level)
    try:
        yield
    finally:
        _priority.reset(token)


@dataclass
class Budget:
    """One kind of call as a schedule (the generic cell rate algorithm): one call every
    `interval` seconds, and up to `burst` calls ahead of the schedule."""

    interval: float
    burst: float
    due: float = 0.0  # when the schedule would place the next call

    def delay(self, now: float) -> float:
        """Seconds until a call may go (0: now)."""
        return max(0.0, self.due - (self.burst - 1) * self.interval - now)

    def take(self, now: float) -> None:
        self.due = max(self.due, now) + self.interval


class Pacer:
    """One budget per (method, channel) for chat.postMessage and per method for the tiers.
    `scale` multiplies every limit (1: Slack's; raise it only where the limits are higher,
    such as an emulator in a benchmark)."""

    def __init__(self, scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._scale, self._clock = scale, clock
        self._budgets: dict[tuple[str, str], Budget] = {}
        self._waiters: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    def wait(self, method: str, channel: str = "", level: Priority | None = None) -> None:
        """Block until a call of `method` (in `channel`) may go, after any caller of a higher
        or equal priority that was waiting first; the call is counted."""
        key = self._key(method, channel)
        if key is None:
            return
        ticket = (int(_priority.get() if level is None else level), next(self._tickets))
        with self._changed:
            waiting = self._waiters.setdefault(key, [])
            heapq.heappush(waiting, ticket)
            try:
                while True:
                    now = self._clock()
                    delay = self._budget(key).delay(now)
                    if waiting[0] == ticket and not delay:
                        self._budget(key).take(now)
                        return
                    self._changed.wait(delay or None)
            finally:
                waiting.remove(ticket)
                heapq.heapify(waiting)
                self._changed.notify_all()

    def try_take(self, method: str, channel: str, level: Priority) -> float:
        """Take a call now if nobody as urgent is waiting and the budget allows (0.0), else
        the seconds to wait before asking again."""
        key = self._key(method, channel)
        if key is None:
            return 0.0
        with self._changed:
            now, budget = self._clock(), self._budget(key)
            delay = budget.delay(now)
            waiting = self._waiters.get(key)
            if delay or (waiting and any(prio <= level for prio, _ in waiting)):
                return max(delay, budget.interval / 4)
            budget.take(now)
            return 0.0

    def seconds_for(self, posts: int) -> float:
        """How long `posts` more messages in one channel take at the paced rate."""
        return max(0, posts) / (POSTS_PER_SECOND * self._scale)

    def _key(self, method: str, channel: str) -> tuple[str, str] | None:
        if method == POST_METHOD:
            return method, channel
        return (method, "") if method in METHOD_TIERS else None

    def _budget(self, key: tuple[str, str]) -> Budget:
        if key not in self._budgets:
            self._budgets[key] = self._allowance(key[0])
        return self._budgets[key]

    def _allowance(self, method: str) -> Budget:
        if method == POST_METHOD:  # the burst spans the same time at any scale, as a tier's
            return Budget(1 / (POSTS_PER_SECOND * self._scale), max(1.0, POST_BURST * self._scale))
        per_second = PER_MINUTE[METHOD_TIERS[method]] / 60 * self._scale
        return Budget(1 / per_second, max(2.0, per_second * TIER_BURST_SECONDS))


class PacedWebClient(KeepAliveWebClient):
    """A keep-alive WebClient whose every call waits for its budget (see Pacer)."""

    def __init__(self, *args: Any, pacer: Pacer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        self.pacer.wait(api_method, _channel_of(api_method, kwargs))
        return super().api_call(api_method, **kwargs)


def _channel_of(method: str, call: dict[str, Any]) -> str:
    if method != POST_METHOD:
        return ""
    for part in ("json", "data", "params"):
        arguments = call.get(part) or {}
        if isinstance(arguments, dict) and arguments.get("channel"):
            return str(arguments["channel"])
    return ""
