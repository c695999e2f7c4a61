"""Alert storms: from the `storm_threshold`th open incident of one policy (in one environment)
within `storm_window_seconds`, incidents join one group card instead of a card each.

Records (each changed only by the store's compare-and-set, so concurrent pushes on any
instance agree):
- `alert_policy`: per policy, the recent arrivals and the current group with its last arrival;
  a group ends when no incident joined it for a window.
- `alert_group`: the group's card (channel, ts), its members in arrival order, the closed
  ones, and `version`, bumped whenever what the card shows changes. One pusher at a time
  holds the right to post the card (`poster_until`); the others only join.
- each incident keeps its own `alert` record naming its group, so its close finds the card.

Every change re-renders the card from the stored group and re-reads it after the update: the
last update sent always shows the last version, however the updates interleave. Updates go
through the outbox, where successive updates of one message collapse into the latest.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.alerts.incident_records import RECORD, load
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from bot.slack.clicks import Click
from handlers import alert_groups
from handlers import blocks as bk
from handlers.alert_groups import Group
from handlers.alerts import Incident

log = logs.get(__name__)

POLICY = "alert_policy"
GROUP = "alert_group"
JOB_KIND = "alert_group_card"
LEASE_SECONDS = 30.0  # to post or render the card: longer than a post with its retries takes


def group_for(incident: Incident, deps: Deps) -> str:
    """The group an open incident joins ("" for a card of its own), starting one when this
    arrival reaches the threshold."""
    known = deps.store.get_record(RECORD, incident.incident_id)
    if known and known.get("group"):  # a redelivery: it joined already
        return str(known["group"])
    now, key = deps.now().timestamp(), _policy_key(incident)
    window = deps.config.storm_window_seconds
    chosen: dict[str, Any] = {"group": "", "earlier": 0}

    def arrive(data: dict[str, Any] | None) -> dict[str, Any]:
        policy = data or {"recent": [], "group": "", "last": 0.0}
        if policy["group"] and now - policy["last"] <= window:
            chosen.update(group=policy["group"], earlier=0)
            return {**policy, "last": now}
        recent = [r for r in policy["recent"] if now - r["at"] <= window]
        if incident.incident_id not in {r["id"] for r in recent}:
            recent.append({"id": incident.incident_id, "at": now})
        if len(recent) < deps.config.storm_threshold:
            chosen.update(group="", earlier=0)
            return {"recent": recent, "group": "", "last": 0.0}
        started = f"{key}.{incident.incident_id[:100]}"
        chosen.update(group=started, earlier=len(recent) - 1)
        return {"recent": [], "group": started, "last": now}

    deps.store.change_record(POLICY, key, arrive)
    if chosen["earlier"]:
        log.info("alert_storm_started", group=chosen["group"], policy=incident.policy_name)
    _create(str(chosen["group"]), incident, int(chosen["earlier"]), deps)
    return str(chosen["group"])


def join(group_id: str, incident: Incident, deps: Deps) -> None:
    """Add the incident (already recorded with its group) to the card; the first pusher to
    find no card posts it. Raises when Slack refused the post (the caller answers 503)."""
    now = deps.now().timestamp()
    role = {"poster": False, "changed": False}

    def add(data: dict[str, Any] | None) -> dict[str, Any] | None:
        group = dict(data or {})
        role["poster"] = not group["ts"] and group["poster_until"] <= now
        role["changed"] = incident.incident_id not in group["members"]
        if role["changed"]:
            group["members"] = [*group["members"], incident.incident_id]
            group["services"] = sorted({*group["services"], incident.service})
            group["version"] += 1
        if role["poster"]:
            group["poster_until"] = now + LEASE_SECONDS
        return group if role["changed"] or role["poster"] else None

    group = _change(group_id, add, deps)
    if role["poster"]:
        _refresh(group_id, _post(group_id, group, deps), deps)
    elif role["changed"]:
        _refresh(group_id, -1, deps)


def close(group_id: str, incident: Incident, deps: Deps) -> None:
    """A member closed: its line and the count change on the card, in place."""
    changed = {"closed": False}

    def mark(data: dict[str, Any] | None) -> dict[str, Any] | None:
        group = dict(data or {})
        changed["closed"] = bool(group) and incident.incident_id not in group["closed"]
        if not changed["closed"]:
            return None
        closed = [*group["closed"], incident.incident_id]
        return {**group, "closed": closed, "version": group["version"] + 1}

    _change(group_id, mark, deps)
    if changed["closed"]:
        _refresh(group_id, -1, deps)


def acknowledge(group_id: str, user: str, deps: Deps) -> None:
    """Acknowledge on a group card: who is on the storm shows on the card, in place, and in
    its thread; the first click counts, as on an incident's own card."""
    acked = {"now": False}

    def mark(data: dict[str, Any] | None) -> dict[str, Any] | None:
        group = dict(data or {})
        acked["now"] = bool(group) and not group.get("acked_by")
        if not acked["now"]:
            return None
        return {**group, "acked_by": user, "version": group["version"] + 1}

    group = _change(group_id, mark, deps)
    if not acked["now"]:
        return
    _refresh(group_id, -1, deps)
    on_it = [bk.context(f":eyes: <@{user}> is on it.")]  # kept while Slack is down
    deps.outbox.post(group["channel"], on_it, thread_ts=group["ts"], key=f"ack:{group_id}")
    log.info("alert_group_acknowledged", group=group_id, user=user)


def target(group_id: str, deps: Deps) -> tuple[dict[str, Any], Incident] | None:
    """A group card's buttons act for its newest incident, in the card's thread: the card
    (channel, ts) and that incident; None when the group is not on record."""
    group = deps.store.get_record(GROUP, group_id)
    record = deps.store.get_record(RECORD, group["members"][-1]) if group else None
    if group is None or record is None:
        return None
    return {"channel": group["channel"], "ts": group["ts"]}, load(record["incident"])


def answer_list(click: Click, deps: Deps) -> None:
    """List all incidents: one page, ephemerally, to a reader of the group's environment."""
    group_id, _, number = click.value.removeprefix("group:").rpartition(":")
    group = deps.store.get_record(GROUP, group_id)
    reason = "That alert group is not on record." if group is None or not number.isdigit() else ""
    if group and not reason:
        reason = deps.policy.may_read(click.user, group["env"], click.channel).reason
        elsewhere = click.channel != group["channel"]
        where = f"This alert group belongs to <#{group['channel']}>; list it there."
        reason = reason or (where if elsewhere else "")
    if group is None or reason:
        tell = deps.messenger.tell
        tell(click.user, click.channel, f":no_entry: {reason}", response_url=click.response_url)
        return
    start = int(number) * alert_groups.PAGE
    ids = list(reversed(group["members"]))[start : start + alert_groups.PAGE]
    on_page = _members(ids, group, deps)
    view = _view(group_id, group, deps)
    deps.messenger.respond(click.response_url, alert_groups.page(view, int(number), on_page))


def _create(group_id: str, incident: Incident, earlier: int, deps: Deps) -> None:
    """The group's record, once. Only the incident that started the group knows how many
    came before it (`earlier`), and the next one may create the record first: the count is
    then written into it."""
    fresh = {
        "policy": incident.policy_name,
        "severity": incident.severity,
        "env": incident.env,
        "channel": deps.config.channel,
        "ts": "",
        "poster_until": 0.0,
        "members": [],
        "closed": [],
        "services": [],
        "earlier": earlier,
        "version": 0,
    }

    def create(data: dict[str, Any] | None) -> dict[str, Any] | None:
        if not data:
            return fresh
        return {**data, "earlier": earlier} if earlier > data["earlier"] else None

    if group_id:
        deps.store.change_record(GROUP, group_id, create)


def _post(group_id: str, group: dict[str, Any], deps: Deps) -> int:
    """Post the card as of `group`; returns the version it shows."""
    view = _view(group_id, group, deps)
    try:
        card, text = alert_groups.card(view), alert_groups.fallback(view)
        ts = deps.messenger.post(group["channel"], card, text)
    except Exception:
        _change(group_id, lambda data: {**(data or group), "poster_until": 0.0}, deps)
        raise
    log.info("alert_group_posted", group=group_id, incidents=len(group["members"]))
    _change(group_id, lambda data: {**(data or group), "ts": ts, "poster_until": 0.0}, deps)
    return int(group["version"])


def register(deps: Deps) -> None:
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: _render(str(data["group"]), int(data["shown"]), deps)
    )


def _refresh(group_id: str, shown: int, deps: Deps) -> None:
    """One renderer at a time (`renderer_until`): who takes the lease renders in a job, so the
    pushes of a storm are answered at once; the others' changes are left to it."""

    won = {"lease": False}

    def claim(data: dict[str, Any] | None) -> dict[str, Any] | None:
        group, now = dict(data or {}), deps.now().timestamp()
        won["lease"] = bool(group.get("ts")) and group.get("renderer_until", 0.0) <= now
        return {**group, "renderer_until": now + LEASE_SECONDS} if won["lease"] else None

    _change(group_id, claim, deps)
    if won["lease"]:  # else its holder renders this change too: it releases once shown
        try:
            job_inputs.submit(JOB_KIND, {"group": group_id, "shown": shown}, deps.store, deps.queue)
        except QueueFull:
            _render(group_id, shown, deps)


def _render(group_id: str, shown: int, deps: Deps) -> None:
    """Update the card until the stored version is the one shown, then release the lease: a
    change made meanwhile by another pusher is never lost."""
    held = {"lease": True}

    def release(data: dict[str, Any] | None) -> dict[str, Any]:
        group, now = dict(data or {}), deps.now().timestamp()
        held["lease"] = group.get("version", shown) != shown
        return {**group, "renderer_until": now + LEASE_SECONDS if held["lease"] else 0.0}

    group = deps.store.get_record(GROUP, group_id) or {}
    while held["lease"] and group:
        if group["version"] != shown:
            shown = group["version"]
            view = _view(group_id, group, deps)
            card, text = alert_groups.card(view), alert_groups.fallback(view)
            deps.outbox.update(group["channel"], group["ts"], card, text)
        group = _change(group_id, release, deps)


def _view(group_id: str, group: dict[str, Any], deps: Deps) -> Group:
    newest = list(reversed(group["members"]))[: alert_groups.SHOWN_ON_CARD]
    return Group(
        group_id=group_id,
        policy_name=group["policy"],
        severity=group["severity"],
        env=group["env"],
        total=len(group["members"]),
        closed=len(group["closed"]),
        earlier=int(group["earlier"]),
        services=tuple(group["services"]),
        newest=tuple(_members(newest, group, deps)),
        acked_by=str(group.get("acked_by", "")),
    )


def _members(ids: list[str], group: dict[str, Any], deps: Deps) -> list[tuple[Incident, bool]]:
    """Members from their records (written before they joined; one past its expiry is left
    out, its count stays)."""
    closed = set(group["closed"])
    records = [(deps.store.get_record(RECORD, i), i in closed) for i in ids]
    return [(load(record["incident"]), shut) for record, shut in records if record]


def _change(group_id: str, change: Any, deps: Deps) -> dict[str, Any]:
    return deps.store.change_record(GROUP, group_id, change) or {}


def _policy_key(incident: Incident) -> str:
    """Short and free of '/': it names store records and rides in button values."""
    policy = f"{incident.env or incident.project}\n{incident.policy_name}"
    return hashlib.sha256(policy.encode()).hexdigest()[:16]
