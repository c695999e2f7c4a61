"""Failures on demand: the next N calls of a method answer 429/5xx, take effect slowly, or
take effect at once and answer late."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from bot.dev.slack_emulator.wire import Response, json_response

ANY_METHOD = "*"


@dataclass
class Fault:
    status: int = 429
    retry_after: int | None = None
    delay: float = 0.0
    remaining: int = 1
    answer_delay: float = 0.0  # the call takes effect at once; its answer waits this long

    @property
    def error(self) -> str:
        if self.status == 429:
            return "ratelimited"
        return "internal_error" if self.status >= 500 else "invalid_request"

    def suffer(self) -> Response | None:
        """Wait out the delay; then the failure answer, or None to answer normally."""
        time.sleep(self.delay)
        if self.status == 200:
            return None
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return json_response({"ok": False, "error": self.error}, self.status, headers)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Fault]] = {}

    def add(self, method: str, fault: Fault) -> None:
        with self._lock:
            self._pending.setdefault(method, []).append(fault)

    def take(self, method: str) -> Fault | None:
        """The fault this call must suffer, if any; each fault lasts `remaining` calls."""
        with self._lock:
            for key in (method, ANY_METHOD):
                queue = self._pending.get(key, [])
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
