"""Cloud Monitoring incidents (Pub/Sub notification schema 1.2, tolerating 1.1): parse, map to
the configured environment and service, and choose the runbook's first steps as buttons.

Values carry the unit the condition measures in: Monitoring sends `observed_value` and
`threshold_value` as bare numbers, so the unit comes from the incident's `metric.type` and its
`condition.conditionThreshold` (a `denominatorFilter` makes a ratio, an `ALIGN_RATE` aligner a
per-second rate), as described for MetricThreshold in the AlertPolicy reference
(https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers import alert_evidence
from handlers import blocks as bk
from handlers.alert_evidence import AlertEvidence
from handlers.config import OpsConfig
from handlers.markdown import to_mrkdwn
from handlers.pubsub import UnreadableAlert
from handlers.timefmt import human

ACK = "alert.ack"
BUTTONS: dict[str, tuple[tuple[str, str], ...]] = {
    "high-error-rate": (
        ("Show errors", "alert.errors"),
        ("Recent revisions", "alert.revisions"),
        ("Roll back", "alert.rollback"),
    ),
    "high-latency": (
        ("Slow requests", "alert.slow_requests"),
        ("Scale up", "alert.scale_up"),
        ("Show errors", "alert.errors"),
    ),
}
DEFAULT_BUTTONS = (("Show errors", "alert.errors"), ("Status", "alert.status"))
UNMAPPED = ":information_source: This alert maps to no configured service: only Acknowledge."
SEVERITY_ICONS = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":warning:",
}
MAX_SUMMARY = 1500
PERCENT = "%"  # a ratio condition: Monitoring sends the fraction, shown as a percentage
_FILTER_METRIC = re.compile(r'metric\.type\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class Incident:
    incident_id: str
    state: str  # "open" | "closed"
    severity: str
    policy_name: str
    summary: str
    started_at: datetime | None
    ended_at: datetime | None
    url: str
    observed: str
    threshold: str
    project: str
    service: str
    revision: str
    location: str
    runbook: str
    env: str  # "" when it maps to no configured environment
    documentation: str
    links: tuple[tuple[str, str], ...] = ()
    version: str = "1.2"
    unit: str = ""  # "%", "ms", "requests/s", "/s" or "" (the bare number)

    @property
    def key(self) -> str:
        return f"incident:{self.incident_id}"

    @property
    def known_service(self) -> bool:
        return bool(self.env and self.service)


def parse_incident(data: bytes, config: OpsConfig) -> Incident:
    try:
        doc = json.loads(data)
        raw = doc["incident"]
        if not isinstance(raw, dict):
            raise TypeError("incident is not an object")
    except (ValueError, KeyError, TypeError) as err:
        raise UnreadableAlert(f"not a Monitoring incident ({type(err).__name__})") from None
    state = str(raw.get("state", "")).lower()
    incident_id = str(raw.get("incident_id", ""))
    if not incident_id or state not in ("open", "closed"):
        raise UnreadableAlert("the incident has no incident_id or no open/closed state")
    labels = _dict(_dict(raw.get("resource")).get("labels"))
    user_labels = _dict(raw.get("policy_user_labels"))
    project = str(labels.get("project_id") or raw.get("scoping_project_id") or "")
    service = str(user_labels.get("service") or labels.get("service_name") or "")
    env = _environment(str(user_labels.get("environment", "")), project, config)
    docs = _dict(raw.get("documentation"))
    return Incident(
        incident_id=incident_id,
        state=state,
        severity=str(raw.get("severity") or "No severity").capitalize(),
        policy_name=str(raw.get("policy_name") or raw.get("condition_name") or "Alert"),
        summary=str(raw.get("summary") or ""),
        started_at=_time(raw.get("started_at")),
        ended_at=_time(raw.get("ended_at")),
        url=str(raw.get("url") or ""),
        observed=str(raw.get("observed_value") or ""),
        threshold=str(raw.get("threshold_value") or ""),
        project=project,
        service=service if service in config.services else "",
        revision=str(labels.get("revision_name") or ""),
        location=str(labels.get("location") or ""),
        runbook=str(user_labels.get("runbook") or ""),
        env=env,
        documentation=str(docs.get("content") or ""),
        links=tuple(
            (str(link.get("displayName", "link")), str(link.get("url", "")))
            for link in docs.get("links") or ()
            if isinstance(link, dict) and link.get("url")
        ),
        version=str(doc.get("version") or "1.2"),
        unit=_unit(raw),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unit(raw: dict[str, Any]) -> str:
    threshold = _dict(_dict(raw.get("condition")).get("conditionThreshold"))
    found = _FILTER_METRIC.search(str(threshold.get("filter") or ""))
    metric = str(_dict(raw.get("metric")).get("type") or (found[1] if found else ""))
    aligners = {_dict(a).get("perSeriesAligner") for a in threshold.get("aggregations") or ()}
    if threshold.get("denominatorFilter"):
        return PERCENT
    if metric.endswith("/request_latencies"):  # Cloud Run reports latencies in ms
        return "ms"
    if "ALIGN_RATE" in aligners:
        return "requests/s" if metric.endswith("/request_count") else "/s"
    return ""


def with_unit(value: str, unit: str) -> str:
    """A value as people read it: `17.400` requests/s as "17.4 requests/s", a ratio of
    0.052 as "5.2%"; what is not a number is shown as sent (escaped)."""
    try:
        number = float(value)
    except ValueError:
        return bk.escape_clipped(value) or "?"
    if not math.isfinite(number):
        return bk.escape_clipped(value)
    if unit == PERCENT:
        number *= 100
    shown = f"{number:,.2f}".rstrip("0").rstrip(".") if abs(number) >= 1 else f"{number:.3g}"
    return f"{shown}{'' if unit in (PERCENT, '/s', '') else ' '}{unit}"


def _environment(label: str, project: str, config: OpsConfig) -> str:
    if label in config.environments:
        return label
    by_project = {e.project: name for name, e in config.environments.items()}
    return by_project.get(project, "")


def _time(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def buttons_for(incident: Incident) -> tuple[tuple[str, str], ...]:
    """The runbook's first steps; only Acknowledge for an alert on an unknown service."""
    if not incident.known_service:
        return ()
    return BUTTONS.get(incident.runbook, DEFAULT_BUTTONS)


def card(
    incident: Incident, acked_by: str = "", evidence: AlertEvidence | None = None
) -> list[bk.Block]:
    """The alert's card; `evidence` says what change, if any, explains the incident."""
    icon = SEVERITY_ICONS.get(incident.severity.lower(), ":bell:")
    where = " · ".join(
        x
        for x in (
            incident.service or "unknown service",
            incident.env or incident.project,
            incident.revision,
        )
        if x
    )
    facts = []
    if incident.observed or incident.threshold:
        observed, threshold = (
            with_unit(v, incident.unit) for v in (incident.observed, incident.threshold)
        )
        facts.append(f"*Observed* {observed} against threshold {threshold}")
    if incident.started_at:
        facts.append(f"*Started* {bk.slack_date(incident.started_at)}")
    out = [
        bk.header(f"{incident.severity}: {incident.policy_name}"),
        bk.section(f"{icon} {_summary(incident) or '_no summary_'}\n*{bk.escape_clipped(where)}*"),
    ]
    if facts:
        out.append(bk.section(" · ".join(facts)))
    if evidence is not None:
        out.append(bk.section(evidence.text))
    if incident.documentation.strip():
        out.append(bk.section(to_mrkdwn(incident.documentation, bk.CONSOLE)))
    out.append(bk.context(*_links(incident)))
    if not incident.known_service:
        out.append(bk.context(UNMAPPED))
    if acked_by:
        out.append(bk.context(f":eyes: <@{acked_by}> is on it"))
    steps = alert_evidence.buttons(evidence, buttons_for(incident))
    elements = [bk.button(label, action_id, incident.key) for label, action_id in steps]
    if not acked_by:
        elements.append(bk.button("Acknowledge", ACK, incident.key))
    if elements:
        out.append(bk.actions(f"alert:{incident.incident_id}"[:255], *elements))
    return out


def _duration(incident: Incident, opened: Incident | None) -> str:
    start = (opened or incident).started_at or incident.started_at
    if start and incident.ended_at:
        return f" after {human(incident.ended_at - start)}"
    return ""


def resolved_reply(
    incident: Incident, opened: Incident | None, waiting: tuple[tuple[str, str], ...] = ()
) -> list[bk.Block]:
    """The thread's closing line; `waiting` names the plans (title, id) still unconfirmed."""
    observed = f" (now {with_unit(incident.observed, incident.unit)})" if incident.observed else ""
    out = [bk.section(f":white_check_mark: Resolved{_duration(incident, opened)}{observed}.")]
    if waiting:
        plans = "\n".join(f"• {bk.escape_clipped(title)} {bk.code(id_)}" for title, id_ in waiting)
        out.append(
            bk.section(
                f":hourglass_flowing_sand: Still waiting for confirmation:\n{plans}\n"
                "Confirm only if still needed; otherwise Cancel."
            )
        )
    return out


def closed_card(incident: Incident, opened: Incident | None, acked_by: str = "") -> list[bk.Block]:
    duration = _duration(incident, opened)
    base = opened or incident
    where = " · ".join(
        x for x in (base.service or "unknown service", base.env or base.project) if x
    )
    out = [
        bk.header(f"Resolved: {base.policy_name}"),
        bk.section(
            f":white_check_mark: Resolved{duration}. {_summary(incident)}"
            f"\n*{bk.escape_clipped(where)}*"
        ),
        bk.context(*_links(base)),
    ]
    if acked_by:
        out.append(bk.context(f"Handled by <@{acked_by}>"))
    return out


def _summary(incident: Incident) -> str:
    return bk.escape_clipped(incident.summary, MAX_SUMMARY)


def _links(incident: Incident) -> list[str]:
    """Only console addresses become links: an alert policy's author is not vouched for."""
    links = [bk.link(incident.url, "Incident", bk.CONSOLE)] if incident.url else []
    links += [bk.link(url, name, bk.CONSOLE) for name, url in incident.links[:5]]
    return links or ["no links"]


def fallback(incident: Incident) -> str:
    """The message's notification text (mrkdwn, so escaped like the card)."""
    state = "Resolved" if incident.state == "closed" else incident.severity
    where = incident.service or incident.project
    return bk.escape_clipped(f"{state}: {incident.policy_name} ({where})", 300)


def unreadable_notice(message_id: str, reason: str) -> list[bk.Block]:
    return [
        bk.section(
            f":grey_question: An alert arrived that I could not read (Pub/Sub message"
            f" {bk.code(message_id)}): {bk.escape(reason)}. Check the Monitoring notification"
            " channel; details are in the bot's logs."
        )
    ]
