"""Evidence for an error-rate or latency alert's card: did it start after a change?

Read from Cloud Run, Cloud Monitoring, Cloud Logging and the bot's own records, the same way
`/ops why` reads them. Evidence is extra: if it cannot be read, the card goes out without it.
"""

from __future__ import annotations

from datetime import timedelta

from bot.deps import Deps
from bot.ops.why import recent_changes
from bot.runtime import logs
from handlers import why
from handlers.alert_evidence import RUNBOOKS, AlertEvidence
from handlers.alerts import Incident
from handlers.timefmt import window

log = logs.get(__name__)

WINDOW = timedelta(hours=2)  # where the change that started an incident is looked for
BASELINE = timedelta(days=2)  # how the last healthy revision served before it


def compute(incident: Incident, deps: Deps) -> AlertEvidence | None:
    if incident.runbook not in RUNBOOKS or not incident.known_service:
        return None
    try:
        return _read(incident, deps)
    except Exception as err:  # the card matters more than its evidence
        log.warning(
            "alert_evidence_failed", incident=incident.incident_id, error=type(err).__name__
        )
        return None


def _read(incident: Incident, deps: Deps) -> AlertEvidence:
    ref = deps.config.service_ref(incident.env, incident.service)
    changes = recent_changes(deps, incident.env, incident.service, WINDOW)
    read = why.gather(deps.platform, deps.config, ref, WINDOW, changes, brief=True)
    finding = why.finding_of(read)
    serving = read.health.revisions[-1] if read.health.revisions else None
    baseline = None
    if finding.last_healthy is not None:
        healthy = finding.last_healthy.revision
        report = deps.platform.health.report(ref, BASELINE)
        baseline = next((h for h in report.revisions if h.revision == healthy), None)
    return why.alert_evidence(finding, baseline, serving, window(WINDOW))
