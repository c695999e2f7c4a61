"""`/ops why SERVICE [--since 2h]`: what changed, and did the trouble start with it?

The timeline of changes from every source (Cloud Run revisions, traffic moves seen by Cloud
Monitoring, Cloud Audit Logs, the bot's own records), health per revision, the error groups
that appeared with the change, the SLO burn rate, and the runbook step that fits. Every figure
links the console query it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gcp.diagnosis_models import AuditEntry, HealthReport, Query, RevisionHealth
from gcp.log_queries import build_filter, logs_explorer_url
from gcp.models import LogEntry, Revision, ServiceRef, SloStatus
from handlers import blocks as bk
from handlers import logs as log_verbs
from handlers.alert_evidence import AlertEvidence
from handlers.buttons import WHY_ERRORS, WHY_ROLLBACK, WHY_SCALE, why_value
from handlers.commands import Command
from handlers.config import OpsConfig
from handlers.diagnosis import (
    BotChange,
    Finding,
    Origin,
    bot_change_for,
    diagnose,
    took_traffic_at,
)
from handlers.ports import Platform
from handlers.slo import slo_text
from handlers.timefmt import human, window

DEFAULT_SINCE = timedelta(hours=2)
REVISIONS_READ = 20
ERROR_SCAN = 300
MAX_TIMELINE = 15
MAX_GROUPS = 5


@dataclass(frozen=True)
class Evidence:
    """Everything one diagnosis read, with the queries that read it."""

    ref: ServiceRef
    since: timedelta
    end: datetime
    revisions: list[Revision]
    audit: list[AuditEntry]
    audit_queries: list[Query]
    health: HealthReport
    errors: list[LogEntry]
    errors_query: Query
    slos: list[SloStatus]
    changes: list[BotChange]

    @property
    def start(self) -> datetime:
        return self.end - self.since


def since_of(cmd: Command) -> timedelta:
    return cmd.since if cmd.since_given else DEFAULT_SINCE


def gather(
    platform: Platform,
    config: OpsConfig,
    ref: ServiceRef,
    since: timedelta,
    changes: list[BotChange],
    brief: bool = False,
) -> Evidence:
    """Everything a diagnosis reads; `brief` (an alert's card) skips error groups and SLOs."""
    end = datetime.now(UTC)
    audit: list[AuditEntry] = []
    queries: list[Query] = []
    for filter_ in audit_filters(config, ref):
        found, query = platform.audit.entries(ref.project, filter_, since, end)
        audit += found
        queries.append(query)
    errors_filter = build_filter(ref.service, "errors")
    errors = (
        []
        if brief
        else platform.logs.list_entries(ref.project, errors_filter, since=since, limit=ERROR_SCAN)
    )
    return Evidence(
        ref=ref,
        since=since,
        end=end,
        revisions=platform.run.list_revisions(ref, limit=REVISIONS_READ),
        audit=sorted(audit, key=lambda e: e.timestamp),
        audit_queries=queries,
        health=platform.health.report(ref, since, end),
        errors=errors,
        errors_query=Query(errors_filter, logs_explorer_url(ref.project, errors_filter, since)),
        slos=[] if brief else platform.monitoring.slos(ref),
        changes=changes,
    )


def audit_filters(config: OpsConfig, ref: ServiceRef) -> list[str]:
    """The service's own audit entries, and those of every secret it consumes."""
    from gcp.audit_logs import secret_filter, service_filter

    consumed = [s.name for s in config.secrets.values() if ref.service in s.consumers]
    return [service_filter(ref)] + [secret_filter(ref.project, name) for name in consumed]


def finding_of(evidence: Evidence) -> Finding:
    return diagnose(
        evidence.health.revisions,
        evidence.start,
        evidence.revisions,
        evidence.audit,
        evidence.changes,
        timedelta(seconds=evidence.health.step_seconds),
    )


def run(
    cmd: Command, platform: Platform, config: OpsConfig, changes: list[BotChange]
) -> list[bk.Block]:
    ref = config.service_ref(cmd.env, cmd.service)
    evidence = gather(platform, config, ref, since_of(cmd), changes)
    return render(cmd.env, evidence, finding_of(evidence))


def render(env: str, evidence: Evidence, finding: Finding) -> list[bk.Block]:
    title = f"Why: {evidence.ref.service} · {env} · last {window(evidence.since)}"
    out = [bk.header(title), bk.section(verdict(finding))]
    out.append(bk.section("*What changed*\n" + timeline_text(evidence)))
    out.append(bk.section("*Health per revision*\n" + health_text(evidence.health)))
    out.append(bk.section("*Errors*\n" + errors_text(evidence, finding)))
    if evidence.slos:
        out.append(bk.section("*SLO*\n" + "\n".join(slo_text(s) for s in evidence.slos)))
    out.append(bk.section("*Runbook*\n" + runbook_step(env, evidence.ref.service, finding)))
    steps = step_buttons(env, evidence.ref.service, finding)
    if steps:
        out.append(bk.actions(f"why:{env}:{evidence.ref.service}", *steps))
    out.append(bk.context(*sources(evidence)))  # one element per link: each stays short
    return bk.fit(out)


def verdict(finding: Finding) -> str:
    """The answer in one paragraph, naming only what the data show."""
    if not finding.trouble:
        return ":white_check_mark: No revision served with more than 1% 5xx or a doubled p95."
    if finding.suspect is None:
        troubled = finding.troubled.revision if finding.troubled else "the serving revision"
        return (
            f":mag: No change explains it: no revision took traffic in the window, and the"
            f" {trouble_words(finding.trouble)} rose on {bk.code(troubled)}, which had been"
            " serving before it began."
        )
    return ":rotating_light: " + change_sentence(finding)


def change_sentence(finding: Finding) -> str:
    """ "5xx began N after `rev-B` took traffic at T (by …): X%. `rev-A` served before at Y%."""
    text = change_sentence_start(finding) + "."
    healthy = finding.last_healthy
    if healthy is not None:
        image = finding.last_healthy_image
        shown = f" (image {bk.code(image)})" if image else ""
        text += f" {bk.code(healthy.revision)}{shown} served before it at {rate_text(healthy)}."
    return text


def change_sentence_start(finding: Finding) -> str:
    """ "5xx began N after `rev-B` took traffic at T (by …): X% 5xx, p95 Y ms"."""
    suspect, took = finding.suspect, finding.took_traffic
    if suspect is None or took is None:
        raise ValueError("only a finding with a suspect change has a change to name")
    gap = (finding.trouble_began or took) - took
    when = f"{human(gap)} after" if gap > timedelta(0) else "as soon as"
    return (
        f"{trouble_words(finding.trouble).capitalize()} began {when}"
        f" {bk.code(suspect.revision)} took traffic at {bk.slack_date(took)}"
        f" ({who(finding.origin)}): {rate_text(suspect)}"
    )


def who(origin: Origin) -> str:
    if origin.bot is not None:
        approved = f", approved by <@{origin.bot.approved_by}>" if origin.bot.approved_by else ""
        return f"by <@{origin.bot.requested_by}>{approved} through the bot"
    if origin.audit is not None:
        principal = origin.audit.principal or "an unknown principal"
        return f"by {bk.code(origin.audit.verb)} of {bk.escape_clipped(principal)}"
    return "no change record found near it"


def trouble_words(trouble: str) -> str:
    return "5xx" if trouble == "errors" else "p95 latency"


def rate_text(health: RevisionHealth) -> str:
    p95 = f", p95 {health.latency_p95_ms:.0f} ms" if health.latency_p95_ms is not None else ""
    return f"{health.error_rate * 100:.1f}% 5xx{p95}"


def timeline_text(evidence: Evidence) -> str:
    events = timeline(evidence)
    if not events:
        return "_No change in the window: no revision created, no traffic moved, no audit entry._"
    shown = events[-MAX_TIMELINE:]
    more = len(events) - len(shown)
    lines = [f"• {bk.slack_date(at, '{time}')} {text}" for at, text in shown]
    return ("\n".join(lines) + (f"\n_{more} earlier events not shown._" if more else "")).strip()


def timeline(evidence: Evidence) -> list[tuple[datetime, str]]:
    """Every change in the window from every source, oldest first."""
    start = evidence.start
    events = [
        (
            r.create_time,
            f"revision {bk.code(r.name)} created, image {bk.code(r.image)} _(Cloud Run)_",
        )
        for r in evidence.revisions
        if r.create_time >= start
    ]
    for health in evidence.health.revisions:
        took = took_traffic_at(health, evidence.revisions)
        if took and took > start:
            events.append((took, f"{bk.code(health.revision)} took traffic _(Monitoring)_"))
        last = health.last_served
        if last and last < evidence.end - timedelta(seconds=evidence.health.step_seconds):
            events.append((last, f"{bk.code(health.revision)} stopped serving _(Monitoring)_"))
    events += [(e.timestamp, _audit_text(e, evidence.changes)) for e in evidence.audit]
    events += [(c.at, _change_text(c)) for c in evidence.changes]
    return sorted(events, key=lambda event: event[0])


def _audit_text(entry: AuditEntry, changes: list[BotChange]) -> str:
    principal = bk.escape_clipped(entry.principal or "an unknown principal")
    by_bot = " (the bot's own call)" if bot_change_for(entry, changes) else ""
    _, versioned, version = entry.resource.rpartition("/versions/")
    what = bk.code(entry.verb) + (f" version {bk.code(version)}" if versioned else "")
    return f"{what} by {principal}{by_bot} _(Audit Logs)_"


def _change_text(change: BotChange) -> str:
    approved = f", approved by <@{change.approved_by}>" if change.approved_by else ""
    summary = f": {bk.escape_clipped(change.summary, 200)}" if change.summary else ""
    return (
        f"{bk.code(change.verb)} requested by <@{change.requested_by}>{approved},"
        f" {bk.escape_clipped(change.outcome)}{summary} _(the bot's record)_"
    )


def health_text(report: HealthReport) -> str:
    if not report.revisions:
        return "_No requests recorded in the window._"
    return "\n".join(_health_line(h) for h in report.revisions)


def _health_line(health: RevisionHealth) -> str:
    served = ""
    if health.first_served and health.last_served:
        first, last = health.first_served, health.last_served
        served = f" · served {bk.slack_date(first, '{time}')}–{bk.slack_date(last, '{time}')}"
    requests = f"{health.requests:,.0f} requests"
    return f"• {bk.code(health.revision)}: *{rate_text(health)}* · {requests}{served}"


def errors_text(evidence: Evidence, finding: Finding) -> str:
    if not evidence.errors:
        return "_No ERROR entries in the window._"
    groups = log_verbs.group_errors(evidence.errors)
    took = finding.took_traffic
    if took is not None:
        before = {
            g.message
            for g in log_verbs.group_errors([e for e in evidence.errors if e.timestamp < took])
        }
        groups = [g for g in groups if g.message not in before]
        if not groups:
            return (
                "_No error message appeared with the change; every one was logged before it too._"
            )
    lines = [f"• *{g.count}×* {bk.code(g.message, 200)}" for g in groups[:MAX_GROUPS]]
    label = "appeared with the change" if took is not None else "in the window"
    return f"{len(groups)} error messages {label}:\n" + "\n".join(lines)


def runbook_step(env: str, service: str, finding: Finding) -> str:
    """The runbook's step that fits what the data show."""
    healthy = finding.last_healthy
    if finding.suspect is not None and healthy is not None:
        command = f"/ops rollback {service} --to {healthy.revision} --env {env}"
        return f"Roll back to the last healthy revision: {bk.code(command)}"
    if finding.trouble == "latency":
        return f"Scale up and check slow requests: {bk.code(f'/ops scale {service} --env {env}')}"
    if finding.trouble:
        return f"Read the errors and logs: {bk.code(f'/ops errors {service} --env {env}')}"
    return "Nothing to do from the runbook."


def step_buttons(env: str, service: str, finding: Finding) -> list[bk.Block]:
    """The runbook step as buttons: roll back to the last healthy one, or errors and scaling."""
    healthy = finding.last_healthy
    if finding.suspect is not None and healthy is not None:
        value = why_value(env, service, healthy.revision)
        return [bk.button(f"Roll back to {healthy.revision}", WHY_ROLLBACK, value, "danger")]
    if not finding.trouble:
        return []
    value = why_value(env, service, "")
    return [
        bk.button("Show errors", WHY_ERRORS, value),
        bk.button("Scale up", WHY_SCALE, value),
    ]


def sources(evidence: Evidence) -> list[str]:
    """Links to every query the answer used."""
    counts, latencies = evidence.health.queries
    links = [
        bk.link(counts.console_url, "5xx per revision (Monitoring)", bk.CONSOLE),
        bk.link(latencies.console_url, "p95 per revision (Monitoring)", bk.CONSOLE),
        bk.link(evidence.errors_query.console_url, "errors (Logs Explorer)", bk.CONSOLE),
    ]
    links += [
        bk.link(q.console_url, "audit log (Logs Explorer)", bk.CONSOLE)
        for q in evidence.audit_queries
    ]
    return links


def alert_evidence(
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
