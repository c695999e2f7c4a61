"""What an error-rate or latency alert's card says about its cause, and the buttons that fit.

When a change explains the alert: "5xx began N after `rev-B` took traffic at T (by …);
`rev-A` (image …) served the previous 2d at 0.2% 5xx", and Roll back proposes `rev-A`. When
nothing does, the card says so and its buttons lead to logs and scaling instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gcp.diagnosis_models import RevisionHealth
from handlers import blocks as bk
from handlers.diagnosis import Finding
from handlers.timefmt import human
from handlers.why import change_sentence_start, rate_text, trouble_words

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


def from_finding(
    finding: Finding,
    baseline: RevisionHealth | None,
    serving: RevisionHealth | None,
    window_text: str,
) -> AlertEvidence:
    """`baseline`: the last healthy revision's health over a longer window before the change;
    `serving`: the revision serving last in the window."""
    healthy = finding.last_healthy
    if finding.suspect is None or healthy is None:
        return AlertEvidence(_no_change(finding, finding.troubled or serving, window_text))
    text = ":mag: " + change_sentence_start(finding)
    before = baseline or healthy
    image = f" (image {bk.code(finding.last_healthy_image)})" if finding.last_healthy_image else ""
    span = ""
    if before.first_served and finding.took_traffic and finding.took_traffic > before.first_served:
        span = f" the previous {human(finding.took_traffic - before.first_served)}"
    text += f"; {bk.code(healthy.revision)}{image} served{span} at {rate_text(before)}."
    return AlertEvidence(text, rollback_to=healthy.revision)


def _no_change(finding: Finding, serving: RevisionHealth | None, window_text: str) -> str:
    if serving is None:
        return f":mag: No requests recorded in the last {window_text}: no change to blame."
    if not finding.trouble:
        return (
            f":mag: No change explains it: no revision that took traffic in the last"
            f" {window_text} is worse than the one before it; {bk.code(serving.revision)} is"
            f" serving at {rate_text(serving)}. Look at the logs and scaling."
        )
    return (
        f":mag: No change explains it: no deploy in the last {window_text}; the"
        f" {trouble_words(finding.trouble)} rose on {bk.code(serving.revision)}, which had been"
        f" serving ({rate_text(serving)}). Look at the logs and scaling."
    )


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
