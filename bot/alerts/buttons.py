"""Alert card buttons: the runbook's first steps, answered in the alert's thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.alerts import intake
from bot.changes import listeners
from bot.changes.planning import propose
from bot.deps import Deps
from bot.ops import scale_modal
from bot.ops.commands import answer_blocks
from bot.runtime import logs
from bot.runtime.jobs import Job
from handlers import alerts
from handlers import blocks as bk
from handlers.commands import Command

log = logs.get(__name__)

JOB_KIND = "alert_click"
READS = {
    "alert.errors": ("errors", ""),
    "alert.revisions": ("revisions", ""),
    "alert.status": ("status", ""),
    "alert.slow_requests": ("logs", "slow-requests"),
}
LABELS = {
    "alert.errors": "Show errors",
    "alert.revisions": "Recent revisions",
    "alert.status": "Status",
    "alert.slow_requests": "Slow requests",
}


def register(app: App, deps: Deps) -> None:
    listener = listeners.click_listener(deps, JOB_KIND)
    for action_id in (*READS, "alert.rollback", alerts.ACK):
        app.action(action_id)(listener)
    app.action("alert.scale_up")(lambda ack, body: on_scale_up(ack, body, deps))
    deps.runners[JOB_KIND] = lambda job: on_click(job, deps)


def on_scale_up(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    """The form must open within the click's 3 s, so this one is not queued first."""
    ack()
    value = str((body.get("actions") or [{}])[0].get("value", ""))
    record = _record(value, deps)
    if record is None:
        return
    incident = intake.load(record["incident"])
    meta = {
        "env": incident.env,
        "target": incident.service,
        "channel": record["channel"],
        "thread_ts": record["ts"],
        "alert_id": incident.incident_id,
    }
    scale_modal.open_form(str(body.get("trigger_id", "")), meta, deps, suggest_double_max=True)


def on_click(job: Job, deps: Deps) -> None:
    p = job.payload
    record = _record(p["value"], deps)
    if record is None:
        deps.messenger.respond_text(p["response_url"], "That alert is not on record any more.")
        return
    incident = intake.load(record["incident"])
    user, thread = p["user_id"], record["ts"]
    if p["action_id"] == alerts.ACK:
        _acknowledge(incident, record, user, deps)
    elif p["action_id"] == "alert.rollback":
        propose(
            "rollback",
            incident.env,
            incident.service,
            {"to": ""},
            user=user,
            channel=record["channel"],
            thread_ts=thread,
            alert_id=incident.incident_id,
            deps=deps,
        )
    elif p["action_id"] in READS and incident.known_service:
        verb, preset = READS[p["action_id"]]
        cmd = Command(
            verb=verb,
            env=incident.env,
            service=incident.service,
            preset=preset,
            since=timedelta(hours=1),
        )
        intro = bk.context(f"<@{user}> asked: {LABELS[p['action_id']]}")
        deps.messenger.post(record["channel"], [intro, *answer_blocks(cmd, deps)], thread_ts=thread)


def _acknowledge(incident: alerts.Incident, record: dict[str, Any], user: str, deps: Deps) -> None:
    if record.get("acked_by") or not deps.store.first_seen(
        f"ack:{incident.incident_id}", deps.now()
    ):
        return
    deps.store.put_record(intake.RECORD, incident.incident_id, {**record, "acked_by": user})
    deps.messenger.update(record["channel"], record["ts"], alerts.card(incident, acked_by=user))
    deps.messenger.post(
        record["channel"], [bk.context(f":eyes: <@{user}> is on it.")], thread_ts=record["ts"]
    )
    log.info("alert_acknowledged", incident=incident.incident_id, user=user)


def _record(value: str, deps: Deps) -> dict[str, Any] | None:
    incident_id = value.removeprefix("incident:")
    return deps.store.get_record(intake.RECORD, incident_id)
