"""Cloud Monitoring's documented limits on an SLO's goal and rolling window.

The bot's own reading of Google's documentation, used to refuse a plan before anything is
sent (the emulator checks independently, `gcp.emulator.slo_update`). Source: the
`ServiceLevelObjective` message of google/monitoring/v3/service.proto, as published in
https://cloud.google.com/monitoring/api/ref_v3/rest/v3/services.serviceLevelObjectives:
`goal` "0 < goal <= 0.9999"; `rolling_period` "Must be an integer multiple of 1 day no
larger than 30 days".
"""

from __future__ import annotations

MAX_GOAL_PERCENT = 99.99
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 30


def goal_problem(percent: float) -> str:
    """Why Monitoring would refuse this goal (a percentage), or ''."""
    if 0 < percent <= MAX_GOAL_PERCENT:
        return ""
    return f"Cloud Monitoring takes a goal above 0% and at most {MAX_GOAL_PERCENT:g}%."


def window_problem(days: int) -> str:
    """Why Monitoring would refuse this rolling window (whole days), or ''."""
    if MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        return ""
    return (
        "Cloud Monitoring takes a rolling window of whole days from"
        f" {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS}."
    )
