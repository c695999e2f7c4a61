"""Identical reads that arrive together share one call.

A burst of `/ops status fluxori-backend` asks Google the same question many times over; the
first asker calls, the others wait for that call (or take its answer if it finished within
`window` seconds) and each still gets the answer in their own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self, window: float = 2.0) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._calls: dict[Hashable, tuple[Future[T], float]] = {}

    def call(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, or the result of an identical call in flight or just finished."""
        mine: Future[T] = Future()
        with self._lock:
            self._forget_stale()
            shared = self._calls.get(key)
            if shared is None:
                self._calls[key] = (mine, float("inf"))
        if shared is not None:
            return shared[0].result()
        try:
            mine.set_result(compute())
        except BaseException as err:
            mine.set_exception(err)
            with self._lock:
                self._calls.pop(key, None)  # a failure is not shared with later askers
            raise
        with self._lock:
            self._calls[key] = (mine, time.monotonic() + self._window)
        return mine.result()

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, until) in self._calls.items() if until < now]:
            del self._calls[key]
