"""Did the rollback help? 5xx rate and latency before and after, with a warning if not."""

from __future__ import annotations

from gcp.models import RequestStats
from handlers import blocks as bk

BETTER_BY = 0.5  # a metric improved when it at least halved
HEALTHY_ERROR_RATE = 0.01


def improved(before: RequestStats, after: RequestStats) -> bool:
    errors_better = after.error_rate <= max(before.error_rate * BETTER_BY, HEALTHY_ERROR_RATE)
    latency_better = (
        before.latency_p95_ms is not None
        and after.latency_p95_ms is not None
        and after.latency_p95_ms <= before.latency_p95_ms * BETTER_BY
    )
    return errors_better or latency_better


def render(service: str, before: RequestStats, after: RequestStats, window: str) -> list[bk.Block]:
    if not after.total_requests:
        idle = f":grey_question: `{service}` served no requests in the {window} after the rollback."
        return [bk.section(idle)]
    verdict = (
        ":chart_with_downwards_trend: The rollback helped."
        if improved(before, after)
        else ":warning: *Nothing improved* after the rollback: check `/ops errors`."
    )
    return [
        bk.section(
            f"{verdict}\n*{window} before → {window} after*\n"
            f"• 5xx rate: {before.error_rate:.1%} → {after.error_rate:.1%}\n"
            f"• p95 latency: {_ms(before.latency_p95_ms)} → {_ms(after.latency_p95_ms)}\n"
            f"• requests: {before.total_requests:.0f} → {after.total_requests:.0f}"
        )
    ]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
