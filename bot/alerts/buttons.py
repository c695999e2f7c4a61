"""Alert card buttons: the runbook's first steps, answered in the alert's thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App

from bot.alerts import incident_records, storm
from bot.alerts.incident_records import RECORD, load
from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.ops import scale_modal
from bot.ops.commands import answer_in_thread
from bot.runtime import job_inputs, logs
from bot.slack.click_jobs import queue_click
from bot.slack.clicks import Click
from bot.store import Event
from handlers import alert_groups, alerts
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
    for action_id in (*READS, "alert.rollback", alerts.ACK, alert_groups.LIST):
        app.action(action_id)(lambda ack, body: on_button(ack, body, deps))
    app.action("alert.scale_up")(lambda ack, body: on_scale_up(ack, body, deps))
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: on_click(Click(**data), deps)
    )
    storm.register(deps)


def on_button(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    """Store what was clicked, by whom and where; the job checks and answers it."""
    queue_click(ack, body, JOB_KIND, deps)


def on_scale_up(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    """The form must open within the click's 3 s, so this one is not queued first; its
    submission is a change request like any other."""
    ack()
    click = Click.from_body(body)
    found = _checked(click, deps)
    if found is None:
        return
    record, incident = found
    meta = {
        "env": incident.env,
        "target": incident.service,
        "channel": record["channel"],
        "thread_ts": record["ts"],
        "alert_id": incident.incident_id,
    }
    scale_modal.open_form(click.trigger_id, meta, deps, suggest_double_max=True)


def on_click(click: Click, deps: Deps) -> None:
    if click.button == alert_groups.LIST:
        storm.answer_list(click, deps)
        return
    found = _checked(click, deps)
    if found is None:
        return
    record, incident = found
    if click.button == alerts.ACK and click.value.startswith("group:"):
        storm.acknowledge(click.value.removeprefix("group:"), click.user, deps)
    elif click.button == alerts.ACK:
        _acknowledge(incident, record, click.user, deps)
    elif click.button == "alert.rollback":
        request = ChangeRequest(
            verb="rollback",
            env=incident.env,
            target=incident.service,
            user=click.user,
            channel=record["channel"],
            origin="alert",
            params={"to": _proposed_revision(record)},
            response_url=click.response_url,
            thread_ts=record["ts"],
            alert_id=incident.incident_id,
        )
        admission.handle(request, deps)
    elif click.button in READS and incident.known_service:
        _answer(click, incident, record, deps)


def _proposed_revision(record: dict[str, Any]) -> str:
    """The last healthy revision the card's evidence named; "" lets the rollback choose."""
    found = incident_records.stored(record)
    return found.rollback_to if found else ""


def _answer(click: Click, incident: alerts.Incident, record: dict[str, Any], deps: Deps) -> None:
    verb, preset = READS[click.button]
    cmd = Command(
        verb=verb,
        env=incident.env,
        service=incident.service,
        preset=preset,
        since=timedelta(hours=1),
    )
    answer_in_thread(click, record["channel"], record["ts"], LABELS[click.button], cmd, deps)


def _checked(click: Click, deps: Deps) -> tuple[dict[str, Any], alerts.Incident] | None:
    """The alert the click names, if it was clicked on that alert's card by a reader."""
    found = _clicked_alert(click, deps)
    if found is None:
        deps.messenger.respond_text(click.response_url, "That alert is not on record any more.")
        return None
    record, incident = found
    if click.channel != record["channel"] or click.message_ts != record["ts"]:
        reason = "That button is not on this alert's card."
    else:
        reason = deps.policy.may_read(click.user, incident.env, click.channel).reason
    if reason:
        event = Event(deps.now(), "refused", click.user, reason)
        context = {"verb": click.button, "env": incident.env, "channel": click.channel}
        deps.store.record_refusal(event, {**context, "target": incident.service})
        deps.messenger.tell(
            click.user, click.channel, f":no_entry: {reason}", response_url=click.response_url
        )
        return None
    return record, incident


def _clicked_alert(click: Click, deps: Deps) -> tuple[dict[str, Any], alerts.Incident] | None:
    """The card (channel, ts) the button acts from and its incident: a group card's buttons
    act for its newest incident."""
    if click.value.startswith("group:"):
        return storm.target(click.value.removeprefix("group:"), deps)
    record = deps.store.get_record(RECORD, click.value.removeprefix("incident:"))
    return (record, load(record["incident"])) if record else None


def _acknowledge(incident: alerts.Incident, record: dict[str, Any], user: str, deps: Deps) -> None:
    if record.get("acked_by") or not deps.store.first_seen(
        f"ack:{incident.incident_id}", deps.now()
    ):
        return
    deps.store.put_record(RECORD, incident.incident_id, {**record, "acked_by": user})
    card = alerts.card(incident, acked_by=user, evidence=incident_records.stored(record))
    deps.messenger.update(record["channel"], record["ts"], card)
    deps.messenger.post(
        record["channel"], [bk.context(f":eyes: <@{user}> is on it.")], thread_ts=record["ts"]
    )
    log.info("alert_acknowledged", incident=incident.incident_id, user=user)
