"""The outbox's paced sender: messages that Slack's budget cannot take right now wait here, in
memory, and one thread sends them as the budget allows, most urgent first. They are already
recorded in the store, so a dead instance loses nothing: another instance's sweep sends them.

Within one queue (a thread's posts, or one message's updates) the order of creation is kept.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.runtime import logs
from bot.slack.pacing import POST_METHOD, Pacer, Priority
from bot.store.outbox import Kind, OutboxEntry

log = logs.get(__name__)
_LEVELS = tuple(int(level) for level in Priority)


@dataclass(order=True)
class Waiting:
    priority: int
    seq: int
    key: str = field(compare=False)
    queue: str = field(compare=False)
    method: str = field(compare=False)
    channel: str = field(compare=False)
    held: OutboxEntry | None = field(default=None, compare=False)  # kept here only, unrecorded

    @property
    def budget(self) -> tuple[str, str]:
        return self.method, self.channel


def waiting(entry: OutboxEntry, seq: int, held: bool = False) -> Waiting:
    method = "chat.update" if entry.kind is Kind.UPDATE else POST_METHOD
    kept = entry if held else None
    return Waiting(entry.priority, seq, entry.key, entry.queue, method, entry.channel, kept)


class PacedSender:
    def __init__(self, pacer: Pacer, deliver: Callable[[str, OutboxEntry | None], bool]) -> None:
        """`deliver(key, held)` sends one entry (`held`: its content, when it is kept here and
        not in the store): True once it is finished, False when it is left pending (for the
        sweep, which keeps the order of its queue)."""
        self._pacer, self._deliver = pacer, deliver
        self._items: dict[str, Waiting] = {}
        # The same items, most urgent first, and counted by queue and by budget and priority:
        # each answer asks whether anything waits before it, so that must not cost a scan.
        self._order: list[Waiting] = []
        self._in_queue: Counter[str] = Counter()
        self._in_budget: Counter[tuple[str, str, int]] = Counter()
        self._seq = itertools.count()
        self._sending = ""
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def send_now(self, entry: OutboxEntry) -> bool:
        """True when `entry` may be sent by the caller right now: nothing of its queue or of
        its budget waits here before it, and the budget has room (which is then taken)."""
        item = waiting(entry, 0)
        if self._items:  # most answers find nothing waiting, and skip the look
            with self._changed:
                if self._in_queue[item.queue] or any(
                    self._in_budget[(*item.budget, level)] for level in range(item.priority + 1)
                ):
                    return False
        return self._pacer.try_take(item.method, item.channel, Priority(item.priority)) == 0

    def add(self, entry: OutboxEntry, held: bool = False) -> None:
        """Wait for the budget, then send; an entry being sent now is sent again after.
        `held`: the entry is not in the store, only here."""
        with self._changed:
            present = self._items.get(entry.key)
            if present is None or present.key == self._sending:
                if present is not None:
                    self._remove(present)
                self._put(waiting(entry, next(self._seq), held))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slack-sender", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def posts_waiting(self, channel: str) -> int:
        if not self._items:
            return 0
        with self._changed:
            return sum(self._in_budget.get((POST_METHOD, channel, p), 0) for p in _LEVELS)

    def drain(self, timeout: float) -> bool:
        """Wait until nothing waits here; False at the timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _put(self, item: Waiting) -> None:
        self._items[item.key] = item
        bisect.insort(self._order, item)
        self._in_queue[item.queue] += 1
        self._in_budget[(*item.budget, item.priority)] += 1

    def _remove(self, item: Waiting) -> None:
        del self._items[item.key]
        self._order.pop(bisect.bisect_left(self._order, item))
        _uncount(self._in_queue, item.queue)
        _uncount(self._in_budget, (*item.budget, item.priority))

    def _run(self) -> None:
        while True:
            with self._changed:
                item = self._next()
                if self._closed:
                    return
                if item is None:
                    continue
                self._sending = item.key
            try:
                finished = self._deliver(item.key, item.held)
            except Exception:  # recorded: the sweep delivers it
                log.exception("slack_delivery_failed", key=item.key)
                finished = False
            with self._changed:
                self._sending = ""
                if self._items.get(item.key) is item:
                    self._remove(item)
                if not finished:  # what follows in its queue must not overtake it
                    for other in [w for w in self._order if w.queue == item.queue]:
                        self._remove(other)
                self._changed.notify_all()

    def _next(self) -> Waiting | None:
        """The most urgent item whose budget has room (taken), else wait for one (None)."""
        heads: set[str] = set()
        full: set[tuple[str, str]] = set()  # a budget that refused an item refuses any after it
        wait: float | None = None
        for item in self._order:
            if item.queue in heads or item.budget in full:
                heads.add(item.queue)
                continue
            heads.add(item.queue)
            delay = self._pacer.try_take(item.method, item.channel, Priority(item.priority))
            if not delay:
                return item
            full.add(item.budget)
            wait = delay if wait is None else min(wait, delay)
        if not self._closed:
            self._changed.wait(wait)
        return None


def _uncount(counter: Counter[Any], key: Any) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
