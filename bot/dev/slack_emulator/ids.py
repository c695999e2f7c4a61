"""Identifiers shaped like Slack's: message timestamps, view ids, trigger ids, hashes."""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
_ALPHABET = string.ascii_uppercase + string.digits


class TsClock:
    """Message timestamps: epoch seconds with 6 decimals, strictly increasing, never reused."""

    def __init__(self, now: Clock = time.time) -> None:
        self._now = now
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            micros = max(int(self._now() * 1_000_000), self._last + 1)
            self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class ManualClock:
    """A clock that only moves when told: lets tests expire triggers without sleeping."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def short_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def trigger_id() -> str:
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def view_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def block_id() -> str:
    """Slack gives blocks without a block_id a short random one."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(5))
