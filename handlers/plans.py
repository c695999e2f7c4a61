"""What every change has in common: a plan to preview, a refusal, a result to report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers import blocks as bk

if TYPE_CHECKING:
    from gcp.models import Service


class Refusal(Exception):
    """The change cannot be planned; the message says why and what to do instead."""


@dataclass(frozen=True)
class Change:
    """One line of a plan's before -> after table."""

    what: str
    before: str
    after: str


@dataclass(frozen=True)
class Plan:
    verb: str
    env: str
    target: str
    title: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)  # JSON-safe; what execute needs

    @property
    def summary(self) -> str:
        return self.title


@dataclass(frozen=True)
class Result:
    ok: bool
    summary: str
    details: tuple[str, ...] = ()
    undo: dict[str, Any] | None = None  # params of a plan that reverses this change
    followup: dict[str, Any] | None = None  # a suggested next change (e.g. disable old version)
    stale: bool = False  # nothing was done: the target changed since the plan
    watch: bool = False  # compare the service's 5xx rate and latency before → after


Progress = Callable[[str], None]


def diff_table(changes: tuple[Change, ...]) -> str:
    lines = [f"• *{c.what}*: `{c.before}` → `{c.after}`" for c in changes]
    return "\n".join(lines) or "_nothing changes_"


def plan_blocks(plan: Plan, requester: str) -> list[bk.Block]:
    """The body of a plan card (the buttons are added by the card's owner)."""
    env_badge = ":rotating_light: *PRODUCTION*" if plan.env == "prod" else f"*{plan.env}*"
    out = [
        bk.header(f"Plan: {plan.title}"),
        bk.section(f"{env_badge} · requested by <@{requester}>\n{diff_table(plan.changes)}"),
    ]
    if plan.notes:
        out.append(bk.context(*[bk.clip(n, 300) for n in plan.notes]))
    return out


def snapshot(service: Service) -> dict[str, str]:
    """What a plan was made from, to tell the user what changed if the etag no longer matches."""
    return {
        "traffic": ", ".join(f"{n} {p}%" for n, p in service.serving.items()),
        "latest revision": service.latest_created_revision,
        "instances": f"min {service.scaling.min_instances} max {service.scaling.max_instances}",
        "resources": f"{service.resources.cpu} CPU {service.resources.memory}",
        "concurrency": str(service.concurrency),
    }


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{key}: `{before.get(key, '?')}` → `{value}`"
        for key, value in after.items()
        if before.get(key) != value
    ]
