"""Cloud Run traffic: what UpdateService accepts in `traffic`, and what `traffic_statuses` say."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

from google.cloud import run_v2

LATEST = int(run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST)
REVISION = int(run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION)
TrafficTargetPb: Any = run_v2.TrafficTarget.pb()
TrafficStatusPb: Any = run_v2.TrafficTargetStatus.pb()

_TAG = re.compile(r"[a-z]([-a-z0-9]{0,44}[a-z0-9])?")


def latest_100() -> Any:
    """What Cloud Run routes to when a service names no traffic."""
    return TrafficTargetPb(type_=LATEST, percent=100)


def traffic_problems(targets: Sequence[Any], existing: Collection[str], creating: str) -> list[str]:
    """Problems with `targets`; `creating` is the revision this update creates, or ""."""
    problems: list[str] = []
    tags: set[str] = set()
    for index, target in enumerate(targets):
        where = f"traffic[{index}]"
        problems += _target_problems(where, target, existing, creating)
        if target.tag:
            if target.tag in tags:
                problems.append(f"{where}.tag: tag '{target.tag}' is used by more than one target.")
            tags.add(target.tag)
    total = sum(t.percent for t in targets)
    if total != 100:
        problems.append(f"traffic: the percents of all targets must sum to 100, not {total}.")
    return problems


def _target_problems(
    where: str, target: Any, existing: Collection[str], creating: str
) -> list[str]:
    if target.type_ not in (LATEST, REVISION):
        return [f"{where}.type: set TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST or _REVISION."]
    if not 0 <= target.percent <= 100:
        return [f"{where}.percent: {target.percent} is not between 0 and 100."]
    if target.tag and not _TAG.fullmatch(target.tag):
        return [
            f"{where}.tag: '{target.tag}' must be lowercase letters, digits and hyphens,"
            " start with a letter and be at most 46 characters."
        ]
    if target.type_ == LATEST:
        if target.revision:
            return [f"{where}.revision: must be empty when the type is LATEST."]
        return []
    name = target.revision
    if not name:
        return [f"{where}.revision: name a revision when the type is REVISION."]
    if name != creating and name not in existing:
        return [f"{where}.revision: Revision '{name}' referenced in traffic not found."]
    return []


def statuses(targets: Sequence[Any], latest_ready: str, service_uri: str) -> list[Any]:
    """Observed traffic: LATEST resolved to the latest ready revision; tags get their URL."""
    out = []
    for target in targets:
        status = TrafficStatusPb(
            type_=target.type_,
            revision=latest_ready if target.type_ == LATEST else target.revision,
            percent=target.percent,
            tag=target.tag,
        )
        if target.tag:
            status.uri = tag_uri(service_uri, target.tag)
        out.append(status)
    return out


def tag_uri(service_uri: str, tag: str) -> str:
    """https://TAG---HOST, as Cloud Run addresses a tagged revision."""
    scheme, _, host = service_uri.partition("://")
    return f"{scheme}://{tag}---{host}"


def split(traffic_statuses: Sequence[Any]) -> dict[str, int]:
    """Percent per revision, summing entries that name the same revision."""
    out: dict[str, int] = {}
    for status in traffic_statuses:
        if status.percent and status.revision:
            out[status.revision] = out.get(status.revision, 0) + status.percent
    return out
