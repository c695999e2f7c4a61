"""`/ops slo SERVICE`: the runbook's SLO compliance check."""

from __future__ import annotations

from datetime import timedelta

from gcp.models import SloStatus
from handlers import blocks as bk
from handlers.commands import Command
from handlers.config import OpsConfig
from handlers.ports import Platform
from handlers.timefmt import human

FAST_BURN = 2.0  # burning the budget twice as fast as sustainable


def run(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    ref = config.service_ref(cmd.env, cmd.service)
    return render(cmd, platform.monitoring.slos(ref))


def render(cmd: Command, slos: list[SloStatus]) -> list[bk.Block]:
    out = [bk.header(f"SLOs of {cmd.service} · {cmd.env}")]
    if not slos:
        out.append(bk.section("_No SLOs are defined for this service in Cloud Monitoring._"))
    out += [bk.section(slo_text(s)) for s in slos]
    return bk.fit(out)


def slo_text(slo: SloStatus) -> str:
    period = human(timedelta(seconds=slo.rolling_period_seconds))
    compliance = _pct(slo.compliance, 3)
    burn = f"{slo.burn_rate:.1f}×" if slo.burn_rate is not None else "n/a"
    return (
        f"{_icon(slo)} *{bk.escape(slo.display_name)}*\n"
        f"goal {slo.goal * 100:g}% over {period} · compliance *{compliance}*"
        f" · {budget_text(slo.error_budget_remaining)} · burn rate (1h) *{burn}*"
    )


def budget_text(remaining: float | None) -> str:
    """What is left of the error budget; once none is, how much of it was used."""
    if remaining is None or remaining > 0:
        return f"error budget left *{_pct(remaining, 1)}*"
    return f"error budget *exhausted* ({_pct(1 - remaining, 1)} of it used)"


def _icon(slo: SloStatus) -> str:
    if slo.error_budget_remaining is not None and slo.error_budget_remaining <= 0:
        return ":red_circle:"
    if slo.burn_rate is not None and slo.burn_rate >= FAST_BURN:
        return ":large_orange_circle:"
    return ":large_green_circle:"


def _pct(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"
