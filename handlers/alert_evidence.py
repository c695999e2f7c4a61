"""What an error-rate or latency alert's card says about its cause, and the buttons that fit.

When a change explains the alert: "5xx began N after `rev-B` took traffic at T (by …);
`rev-A` (image …) served the previous 2d at 0.2% 5xx", and Roll back proposes `rev-A`. When
nothing does, the card says so and its buttons lead to logs and scaling instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

RUNBOOKS = ("high-error-rate", "high-latency")  # the alerts a change can explain
ROLLBACK = ("Roll back", "alert.rollback")
NO_CHANGE_BUTTONS = (
    ("Show errors", "alert.errors"),
    ("Slow requests", "alert.slow_requests"),
    ("Scale up", "alert.scale_up"),
)


@dataclass(frozen=True)
class AlertEvidence:
    text: str  # mrkdwn, for the card
    rollback_to: str = ""  # the last healthy revision, when a change explains the alert

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: object) -> AlertEvidence | None:
        if not isinstance(data, dict):
            return None
        return cls(str(data.get("text", "")), str(data.get("rollback_to", "")))


def buttons(
    evidence: AlertEvidence | None, usual: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The card's buttons: Roll back names its revision; with no change to blame, logs and
    scaling instead of Roll back."""
    if evidence is None or not usual:
        return usual
    if evidence.rollback_to:
        label = f"Roll back to {evidence.rollback_to}"
        return tuple((label, ROLLBACK[1]) if b == ROLLBACK else b for b in usual)
    return NO_CHANGE_BUTTONS
