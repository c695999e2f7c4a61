"""`POST /pubsub/alerts`: verified, de-duplicated Cloud Monitoring incidents -> alert cards.

Answers: 401/403 for a bad token (nothing posted); 2xx once handled, or for a push that can
never be read (so Pub/Sub stops redelivering it); 5xx when Slack or the store failed, so
Pub/Sub retries; the de-duplication keys are released in that case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.alerts import evidence, incident_records, storm
from bot.alerts.incident_records import RECORD, dump, load
from bot.deps import Deps
from bot.runtime import logs
from bot.runtime.push_auth import PushAuthError, PushVerifier
from bot.runtime.web import plain, read_body
from bot.slack import cards
from bot.store import Action, Event, Filters, State
from handlers import alerts
from handlers.alerts import Incident
from handlers.pubsub import UnreadableAlert, parse_envelope

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logs.get(__name__)


def route(deps: Deps, verifier: PushVerifier) -> Any:
    def handle(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        try:
            verifier.verify(environ.get("HTTP_AUTHORIZATION", ""))
        except PushAuthError as err:
            log.warning(
                "push_rejected", route="/pubsub/alerts", status=err.status, reason=err.reason
            )
            return plain(start_response, _status(err.status), err.reason)
        body = read_body(environ)
        if body is None:
            return plain(start_response, "413 Payload Too Large", "push body over 1 MB")
        status, text = intake(body, deps)
        return plain(start_response, status, text)

    return handle


def intake(body: bytes, deps: Deps) -> tuple[str, str]:
    """Handle one verified push; returns the HTTP status line and a short reason."""
    try:
        envelope = parse_envelope(body)
    except UnreadableAlert as err:
        log.error("alert_unreadable", message_id="", reason=str(err))
        _post_notice("unknown", str(err), deps)
        return "200 OK", f"unreadable push acknowledged: {err}"
    return intake_message(envelope.message_id, envelope.data, deps)


def intake_message(message_id: str, data: bytes, deps: Deps) -> tuple[str, str]:
    """One Pub/Sub message (pushed or pulled): de-duplicate, parse, post or update a card."""
    message_key = f"pubsub:{message_id}"
    if not deps.store.first_seen(message_key, deps.now()):
        return "200 OK", "duplicate message"
    try:
        incident = alerts.parse_incident(data, deps.config)
    except UnreadableAlert as err:
        log.error("alert_unreadable", message_id=message_id, reason=str(err))
        _post_notice(message_id, str(err), deps)
        return "200 OK", "unreadable alert reported"
    state_key = f"{incident.key}:{incident.state}"
    if not deps.store.first_seen(state_key, deps.now()):
        return "200 OK", "duplicate incident state"
    try:
        _publish(incident, deps)
    except Exception as err:  # Slack or the store failed: let Pub/Sub redeliver
        log.warning("alert_post_failed", incident=incident.incident_id, error=type(err).__name__)
        for key in (state_key, message_key):
            deps.store.forget(key)
        return "503 Service Unavailable", "could not post the alert yet; retry"
    log.info("alert_posted", incident=incident.incident_id, state=incident.state, env=incident.env)
    return "200 OK", "posted"


def _publish(incident: Incident, deps: Deps) -> None:
    channel = deps.config.channel
    opened = deps.store.get_record(RECORD, incident.incident_id)
    if incident.state == "open" and _grouped(incident, deps):
        return
    if incident.state == "open":
        found = evidence.compute(incident, deps)
        card = alerts.card(incident, evidence=found)
        ts = deps.messenger.post(channel, card, alerts.fallback(incident))
        deps.store.put_record(
            RECORD,
            incident.incident_id,
            {"channel": channel, "ts": ts, "incident": dump(incident)}
            | incident_records.record_fields(found),
        )
        return
    if opened is None:
        deps.messenger.post(channel, alerts.closed_card(incident, None), alerts.fallback(incident))
        return
    if opened.get("group"):
        storm.close(str(opened["group"]), incident, deps)
        _end_plans(incident, deps)
        return
    first = load(opened["incident"])
    acked = str(opened.get("acked_by", ""))
    deps.messenger.update(
        opened["channel"],
        opened["ts"],
        alerts.closed_card(incident, first, acked),
        alerts.fallback(incident),
    )
    waiting = tuple((plan.summary, plan.id) for plan in _end_plans(incident, deps))
    reply = alerts.resolved_reply(incident, first, waiting)
    deps.messenger.post(opened["channel"], reply, alerts.fallback(incident), thread_ts=opened["ts"])


def _grouped(incident: Incident, deps: Deps) -> bool:
    """In an alert storm the incident joins its policy's group card (bot.alerts.storm)."""
    group = storm.group_for(incident, deps)
    if group:
        record = {"channel": deps.config.channel, "ts": "", "incident": dump(incident)}
        deps.store.put_record(RECORD, incident.incident_id, {**record, "group": group})
        storm.join(group, incident, deps)
    return bool(group)


def _end_plans(incident: Incident, deps: Deps) -> list[Action]:
    """The incident's plans still pending: each records the resolution (once, however often
    the close is delivered) and its card says so; they stay confirmable."""
    if not incident.env:
        return []
    pending = deps.store.search(Filters(env=incident.env, states=(State.PENDING,), limit=50))
    ended_at = incident.ended_at or deps.now()
    waiting = []
    for plan in (p for p in pending if p.alert_id == incident.incident_id):
        if not any(e.kind == cards.INCIDENT_RESOLVED for e in plan.events):
            event = Event(ended_at, cards.INCIDENT_RESOLVED, "", incident.incident_id)
            deps.store.update(plan.id, {}, event)
        current = deps.store.get(plan.id) or plan
        if current.state is State.PENDING:  # not confirmed or cancelled meanwhile
            if current.card_ts:
                card = cards.card(current)
                deps.messenger.update(current.channel, current.card_ts, card, current.summary)
            waiting.append(current)
    if waiting:
        log.info(
            "plans_marked_incident_resolved", incident=incident.incident_id, plans=len(waiting)
        )
    return waiting


def _post_notice(message_id: str, reason: str, deps: Deps) -> None:
    try:
        deps.messenger.post(deps.config.channel, alerts.unreadable_notice(message_id, reason))
    except Exception as err:  # the notice is best effort; the log line above is the record
        log.warning("alert_notice_failed", message_id=message_id, error=type(err).__name__)


def _status(code: int) -> str:
    return {401: "401 Unauthorized", 403: "403 Forbidden"}.get(code, "503 Service Unavailable")
