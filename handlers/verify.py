"""Did the change help, or at least not hurt? 5xx rate and latency before and after."""

from __future__ import annotations

from gcp.models import RequestStats
from handlers import blocks as bk

BETTER_BY = 0.5  # a metric improved when it at least halved
HEALTHY_ERROR_RATE = 0.01
WORSE_BY = 1.2  # a metric is worse when it rose by more than a fifth


def improved(before: RequestStats, after: RequestStats) -> bool:
    errors_better = after.error_rate <= max(before.error_rate * BETTER_BY, HEALTHY_ERROR_RATE)
    latency_better = (
        before.latency_p95_ms is not None
        and after.latency_p95_ms is not None
        and after.latency_p95_ms <= before.latency_p95_ms * BETTER_BY
    )
    return errors_better or latency_better


def no_worse(before: RequestStats, after: RequestStats) -> bool:
    """A roll forward holds when neither the 5xx rate nor p95 latency rose by a fifth."""
    errors_ok = after.error_rate <= max(before.error_rate * WORSE_BY, HEALTHY_ERROR_RATE)
    latency_ok = (
        before.latency_p95_ms is None
        or after.latency_p95_ms is None
        or after.latency_p95_ms <= before.latency_p95_ms * WORSE_BY
    )
    return errors_ok and latency_ok


def render(service: str, before: RequestStats, after: RequestStats, window: str) -> list[bk.Block]:
    """The rollback check: did it help?"""
    verdict = (
        ":chart_with_downwards_trend: The rollback helped."
        if improved(before, after)
        else ":warning: *Nothing improved* after the rollback: check `/ops errors`."
    )
    return _compared(service, verdict, before, after, window)


def render_forward(
    service: str, before: RequestStats, after: RequestStats, window: str, canary: bool
) -> list[bk.Block]:
    """The roll-forward check: is it no worse? For a canary, whether to go on."""
    if no_worse(before, after):
        verdict = (
            ":white_check_mark: The canary is no worse: continue when ready."
            if canary
            else ":white_check_mark: No worse after the roll forward."
        )
    else:
        verdict = ":warning: *Worse after the roll forward*: Undo puts traffic back."
    return _compared(service, verdict, before, after, window)


def _compared(
    service: str, verdict: str, before: RequestStats, after: RequestStats, window: str
) -> list[bk.Block]:
    if not after.total_requests:
        idle = f":grey_question: `{service}` served no requests in the {window} after the change."
        return [bk.section(idle)]
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
