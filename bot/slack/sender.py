"""The outbox's paced sender: messages that Slack's budget cannot take right now wait here, in
memory, and one thread sends them as the budget allows, most urgent first. They are already
recorded in the store, so a dead instance loses nothing: another instance's sweep sends them.

Within one queue (a thread's posts, or one message's updates) the order of creation is kept.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.runtime import logs
from bot.slack.pacing import POST_METHOD, Pacer, Priority
from bot.store.outbox import Kind, OutboxEntry

log = logs.get(__name__)


@dataclass(order=True)
class Waiting:
    priority: int
    seq: int
    key: str = field(compare=False)
    queue: str = field(compare=False)
    method: str = field(compare=False)
    channel: str = field(compare=False)
    held: OutboxEntry | None = field(default=None, compare=False)  # kept here only, unrecorded


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
        self._seq = itertools.count()
        self._sending = ""
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def send_now(self, entry: OutboxEntry) -> bool:
        """True when `entry` may be sent by the caller right now: nothing of its queue or of
        its budget waits here before it, and the budget has room (which is then taken)."""
        item = waiting(entry, 0)
        with self._changed:
            if any(self._ahead(other, item) for other in self._items.values()):
                return False
        return self._pacer.try_take(item.method, item.channel, Priority(item.priority)) == 0

    def add(self, entry: OutboxEntry, held: bool = False) -> None:
        """Wait for the budget, then send; an entry being sent now is sent again after.
        `held`: the entry is not in the store, only here."""
        with self._changed:
            present = self._items.get(entry.key)
            if present is None or present.key == self._sending:
                self._items[entry.key] = waiting(entry, next(self._seq), held)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="slack-sender", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def posts_waiting(self, channel: str) -> int:
        with self._changed:
            return sum(
                1 for w in self._items.values() if w.channel == channel and w.method == POST_METHOD
            )

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

    def _ahead(self, other: Waiting, item: Waiting) -> bool:
        same_budget = (other.method, other.channel) == (item.method, item.channel)
        return other.queue == item.queue or (same_budget and other.priority <= item.priority)

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
                    del self._items[item.key]
                if not finished:  # what follows in its queue must not overtake it
                    for key in [k for k, w in self._items.items() if w.queue == item.queue]:
                        del self._items[key]
                self._changed.notify_all()

    def _next(self) -> Waiting | None:
        """The most urgent item whose budget has room (taken), else wait for one (None)."""
        heads: dict[str, Waiting] = {}
        for item in sorted(self._items.values()):
            heads.setdefault(item.queue, item)
        wait: float | None = None
        for item in sorted(heads.values()):
            delay = self._pacer.try_take(item.method, item.channel, Priority(item.priority))
            if not delay:
                return item
            wait = delay if wait is None else min(wait, delay)
        if not self._closed:
            self._changed.wait(wait)
        return None
