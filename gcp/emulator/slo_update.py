"""UpdateServiceLevelObjective as Google documents it, written from the documentation alone.

Sources:
- google/monitoring/v3/service_service.proto, `UpdateServiceLevelObjectiveRequest`
  (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/services.serviceLevelObjectives/patch):
  the SLO's `name` "specifies the resource to update"; `update_mask` is "a set of field paths
  defining which fields to use for the update".
- google/monitoring/v3/service.proto, `ServiceLevelObjective`: `goal` "0 < goal <= 0.9999";
  `rolling_period` "Must be an integer multiple of 1 day no larger than 30 days";
  `calendar_period` "only DAY, WEEK, FORTNIGHT, and MONTH are supported"; the two are one
  `period` oneof, so setting one clears the other.
- AIP-134 (https://google.aip.dev/134), standard Update: a mask path that names no updatable
  field is INVALID_ARGUMENT, the resource's name is not updated through the mask, and without
  a mask the fields populated in the request are the ones updated.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import field_mask_pb2
from google.type import calendar_period_pb2

from gcp.emulator.core import invalid

UPDATABLE = (
    "display_name",
    "service_level_indicator",
    "goal",
    "rolling_period",
    "calendar_period",
    "user_labels",
)
MAX_GOAL = 0.9999
DAY_SECONDS = 86400
MAX_ROLLING_DAYS = 30
CALENDAR_PERIODS = ("DAY", "WEEK", "FORTNIGHT", "MONTH")


def merged(current: Any, update: Any, paths: list[str]) -> Any:
    """`current` with the masked fields of `update`, checked; INVALID_ARGUMENT otherwise."""
    paths = paths or [f.name for f, _ in update.ListFields() if f.name != "name"]
    unknown = [p for p in paths if p not in UPDATABLE]
    if unknown:
        raise invalid(
            f"update_mask paths {', '.join(unknown)} are not updatable fields of a"
            f" ServiceLevelObjective ({', '.join(UPDATABLE)})"
        )
    result = type(current)()
    result.CopyFrom(current)
    mask = field_mask_pb2.FieldMask(paths=paths)
    mask.MergeMessage(update, result, replace_message_field=True, replace_repeated_field=True)
    _check_goal(result.goal)
    _check_period(result)
    return result


def _check_goal(goal: float) -> None:
    if not 0 < goal <= MAX_GOAL:
        raise invalid(f"goal must satisfy 0 < goal <= {MAX_GOAL}; got {goal}")


def _check_period(slo: Any) -> None:
    which = slo.WhichOneof("period")
    if which is None:
        raise invalid("one of rolling_period or calendar_period is required")
    if which == "calendar_period":
        name = calendar_period_pb2.CalendarPeriod.Name(slo.calendar_period)
        if name not in CALENDAR_PERIODS:
            raise invalid(
                f"calendar_period {name} is not supported; use one of DAY, WEEK, FORTNIGHT, MONTH"
            )
        return
    period = slo.rolling_period
    whole_days = period.nanos == 0 and period.seconds % DAY_SECONDS == 0
    if not whole_days or not DAY_SECONDS <= period.seconds <= MAX_ROLLING_DAYS * DAY_SECONDS:
        raise invalid(
            "rolling_period must be an integer multiple of 1 day no larger than"
            f" {MAX_ROLLING_DAYS} days; got {period.seconds}s"
        )
