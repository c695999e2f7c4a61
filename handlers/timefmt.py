"""Human-readable durations and ages."""

from __future__ import annotations

from datetime import datetime, timedelta


def human(delta: timedelta) -> str:
    """`3d 4h`, `2h 5m`, `45s`: the two largest units."""
    seconds = max(0, int(delta.total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def age(then: datetime, now: datetime) -> str:
    return f"{human(now - then)} ago"


def window(since: timedelta) -> str:
    """`1h`, `30m`, `2d`: the window as the user typed it."""
    return human(since).replace(" ", "")
