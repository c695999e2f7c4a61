"""`/ops slo-goal SERVICE [SLO] --goal 99.5 [--window 28d]`: the runbook's "Adjusting SLO
Thresholds" as a confirmed change of an SLO's goal and rolling window in Cloud Monitoring."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from gcp import slo_rules
from gcp.errors import GcpError
from gcp.models import SloStatus, SloTarget
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.slo import budget_text, slo_text
from handlers.timefmt import human

DAY = 86400
LISTED = 10  # SLOs named in a refusal
NO_DRY_RUN = (
    "Cloud Monitoring has no dry run for SLOs: the values were checked against its documented"
    f" limits (goal above 0% and at most {slo_rules.MAX_GOAL_PERCENT:g}%, a window of"
    f" {slo_rules.MIN_WINDOW_DAYS} to {slo_rules.MAX_WINDOW_DAYS} whole days)."
)


def plan_change(ctx: ChangeContext) -> Plan:
    slo = chosen(ctx.platform.monitoring.slos(ctx.service_ref), ctx)
    goal = ctx.params.get("goal_percent")
    days = ctx.params.get("window_days")
    after = SloTarget(
        slo.name,
        slo.display_name,
        round(float(goal) / 100, 6) if goal is not None else slo.goal,
        int(days) * DAY if days is not None else slo.rolling_period_seconds,
    )
    changes = _changes(slo, after)
    if not changes:
        raise Refusal(f"`{slo_id(slo)}` of `{ctx.target}` already is {_promise(after)}.")
    return Plan(
        verb="slo-goal",
        env=ctx.env,
        target=ctx.target,
        title=f"Set the SLO {slo_id(slo)} of {ctx.target}",
        changes=changes,
        notes=(*_budget_notes(ctx, slo, after), NO_DRY_RUN),
        params={
            "name": slo.name,
            "goal": after.goal if goal is not None else None,
            "window_days": days,
            "before": {"goal": slo.goal, "period": slo.rolling_period_seconds},
        },
    )


def chosen(slos: list[SloStatus], ctx: ChangeContext) -> SloStatus:
    """The SLO the request names, or the service's only one; else a refusal naming them."""
    named = str(ctx.params.get("slo") or "")
    if not slos:
        raise Refusal(f"`{ctx.target}` has no SLO in Cloud Monitoring; nothing to adjust.")
    if named:
        match = [s for s in slos if slo_id(s) == named]
        if not match:
            raise Refusal(f"`{ctx.target}` has no SLO {bk.code(named)}. {_listed(slos)}")
        return match[0]
    if len(slos) > 1:
        raise Refusal(
            f"`{ctx.target}` has {len(slos)} SLOs: name the one to change, e.g."
            f" `/ops slo-goal {ctx.target} {slo_id(slos[0])} --goal 99.5`. {_listed(slos)}"
        )
    return slos[0]


def _listed(slos: list[SloStatus]) -> str:
    named = [f"`{slo_id(s)}` ({bk.escape(s.display_name)}: {_promise(s)})" for s in slos]
    return "Its SLOs: " + ", ".join(named[:LISTED]) + "."


def slo_id(slo: SloStatus | SloTarget) -> str:
    return slo.name.rsplit("/", 1)[-1]


def _promise(slo: SloStatus | SloTarget) -> str:
    return f"{_percent(slo.goal)} over {_window(slo.rolling_period_seconds)}"


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100, 4):g}%"


def _window(seconds: int) -> str:
    return human(timedelta(seconds=seconds))


def _changes(slo: SloStatus, after: SloTarget) -> tuple[Change, ...]:
    rows = (
        ("Goal", _percent(slo.goal), _percent(after.goal)),
        (
            "Rolling window",
            _window(slo.rolling_period_seconds),
            _window(after.rolling_period_seconds),
        ),
    )
    return tuple(Change(what, before, new) for what, before, new in rows if before != new)


def _budget_notes(ctx: ChangeContext, slo: SloStatus, after: SloTarget) -> list[str]:
    """Now, and what the error budget becomes under the new goal (at today's compliance)."""
    notes = [f"Now: {slo_text(slo)}"]
    if slo.compliance is None:
        return [*notes, "No requests in the window: the error budget after it is not known yet."]
    left = 1 - (1 - slo.compliance) / (1 - after.goal)
    notes.append(f"Under {_promise(after)}: {budget_text(left)}{_allowed(ctx, after)}.")
    if after.rolling_period_seconds != slo.rolling_period_seconds:
        notes.append("Compliance over the new window is estimated from the current one's.")
    if left <= 0:
        notes.insert(
            0,
            f":warning: *The error budget would be exhausted*: compliance"
            f" {slo.compliance * 100:.3f}% is below the new goal {_percent(after.goal)}.",
        )
    return notes


def _allowed(ctx: ChangeContext, after: SloTarget) -> str:
    """How many bad requests the new goal allows at the service's recent traffic."""
    window = timedelta(seconds=after.rolling_period_seconds)
    try:
        total = ctx.platform.monitoring.request_stats(ctx.service_ref, window).total_requests
    except GcpError:
        return ""
    return (
        f"; it allows {total * (1 - after.goal):,.0f} bad requests of the"
        f" {total:,.0f} served in the last {_window(after.rolling_period_seconds)}"
    )


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    monitoring, params = ctx.platform.monitoring, ctx.params
    now = monitoring.slo_target(str(params["name"]))
    before = params["before"]
    if (now.goal, now.rolling_period_seconds) != (before["goal"], before["period"]):
        return _stale(ctx, now, before)
    goal, days = params.get("goal"), params.get("window_days")
    updated = monitoring.set_slo_target(
        now.name,
        goal=float(goal) if goal is not None else None,
        rolling_days=int(days) if days is not None else None,
    )
    return Result(
        ok=True,
        summary=f"`{slo_id(updated)}` of `{ctx.target}` is now {_promise(updated)}"
        f" (was {_promise(now)}).",
        details=(
            f"See it in `/ops slo {ctx.target} --env {ctx.env}`.",
            f"The way back: {_way_back(ctx, now)}",
        ),
    )


def _way_back(ctx: ChangeContext, before: SloTarget) -> str:
    """The command that plans the previous goal again (Undo moves traffic only)."""
    window = f" --window {before.rolling_period_seconds // DAY}d"
    if before.rolling_period_seconds % DAY:
        window = ""
    goal = f"{round(before.goal * 100, 4):g}"
    return f"`/ops slo-goal {ctx.target} {slo_id(before)} --goal {goal}{window} --env {ctx.env}`"


def _stale(ctx: ChangeContext, now: SloTarget, before: Mapping[str, Any]) -> Result:
    was = SloTarget(now.name, now.display_name, before["goal"], before["period"])
    return Result(
        False,
        f"Nothing changed: the SLO `{slo_id(now)}` of `{ctx.target}` was modified after this"
        " plan was made.",
        (
            f"It was {_promise(was)} at the preview and is {_promise(now)} now.",
            "Plan again to see a fresh preview.",
        ),
        stale=True,
    )


def current_state(ctx: ChangeContext) -> str:
    """The SLO as the request named it (an interrupted change's report has no plan params)."""
    try:
        return slo_text(chosen(ctx.platform.monitoring.slos(ctx.service_ref), ctx))
    except GcpError as err:
        return f"_could not read the SLOs of `{ctx.target}`: {err.what}_"
    except Refusal as err:
        return f"_{err}_"


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=current_state)
