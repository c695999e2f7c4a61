"""An alert storm's group card: one message per policy and environment carrying the live
count and the newest incidents, and the paged list of all of them (answered ephemerally).

Slack's limits (https://api.slack.com/reference/block-kit/blocks): at most 50 blocks a
message and 3,000 characters in a section's text; the lines are added while they fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers import blocks as bk
from handlers.alerts import ACK, SEVERITY_ICONS, Incident

LIST = "alert.group_list"
SHOWN_ON_CARD = 12  # the newest incidents listed on the card itself
PAGE = 20  # incidents per page of the list answer
MAX_LINKED_URL = 500  # a longer incident address is not linked (the line stays short)
# The group's buttons: every incident on one known service, so they have a target.
ONE_SERVICE_BUTTONS = (
    ("Show errors", "alert.errors"),
    ("Scale up", "alert.scale_up"),
    ("Roll back", "alert.rollback"),
)


@dataclass(frozen=True)
class Group:
    """What a group card shows; `newest` are (incident, closed) pairs, newest first."""

    group_id: str
    policy_name: str
    severity: str
    env: str
    total: int
    closed: int
    earlier: int  # incidents of the policy that got their own cards before the group began
    services: tuple[str, ...]  # "" among them: an incident on no configured service
    newest: tuple[tuple[Incident, bool], ...]
    acked_by: str = ""  # who acknowledged the storm (the group card's Acknowledge)

    @property
    def open(self) -> int:
        return self.total - self.closed

    @property
    def value(self) -> str:
        return f"group:{self.group_id}"

    @property
    def one_service(self) -> bool:
        return bool(self.env) and len(self.services) == 1 and bool(self.services[0])


def card(group: Group) -> list[bk.Block]:
    icon = SEVERITY_ICONS.get(group.severity.lower(), ":bell:")
    where = bk.escape_clipped(" · ".join(x for x in (*group.services, group.env) if x))
    if group.open:
        count = f"{icon} *{group.total} incidents*: *{group.open} open*, {group.closed} closed"
    else:
        count = f":white_check_mark: All {group.total} incidents closed."
    out = [
        bk.header(f"Alert storm: {group.policy_name}"),
        bk.section(f"{count}\n*{where or 'unknown service'}*"),
        bk.section(_packed(group.newest[:SHOWN_ON_CARD])[0]),
    ]
    notes = []
    if group.total > SHOWN_ON_CARD:
        notes.append(f"…and {group.total - SHOWN_ON_CARD} more: *List all incidents*")
    if group.earlier:
        notes.append(f"{group.earlier} earlier incidents of this policy have their own cards.")
    if group.acked_by:
        notes.append(f":eyes: <@{group.acked_by}> is on it")
    if notes:
        out.append(bk.context(*notes))
    out.append(bk.actions(f"alert-group:{group.group_id}"[:255], *_buttons(group)))
    return out


def fallback(group: Group) -> str:
    """The notification text (mrkdwn, so escaped like the card)."""
    return bk.escape_clipped(f"Alert storm: {group.policy_name} ({group.total} incidents)", 300)


def _buttons(group: Group) -> list[bk.Block]:
    buttons = []
    if group.open and group.one_service:
        buttons = [bk.button(label, aid, group.value) for label, aid in ONE_SERVICE_BUTTONS]
    if group.open and not group.acked_by:
        buttons.append(bk.button("Acknowledge", ACK, group.value))
    return [*buttons, bk.button("List all incidents", LIST, f"{group.value}:0")]


def page(group: Group, number: int, on_page: Sequence[tuple[Incident, bool]]) -> list[bk.Block]:
    """Page `number` (from 0) of every incident, newest first; a button for the next one."""
    start = number * PAGE
    policy = bk.escape_clipped(group.policy_name)
    shown = f"{start + 1}–{start + len(on_page)}" if on_page else "none"
    out = [bk.section(f"*{policy}*: incidents {shown} of {group.total}, newest first")]
    out += [bk.section(text) for text in _packed(on_page)]
    if start + PAGE < group.total:
        next_page = bk.button("Next page", LIST, f"{group.value}:{number + 1}")
        out.append(bk.actions(f"alert-group-page:{number + 1}", next_page))
    return out


def _packed(incidents: Sequence[tuple[Incident, bool]]) -> list[str]:
    """One line per incident, packed into section texts of at most 3,000 characters."""
    texts = [""]
    for incident, closed in incidents:
        line = _line(incident, closed)
        if texts[-1] and len(texts[-1]) + 1 + len(line) > bk.MAX_SECTION_TEXT:
            texts.append("")
        texts[-1] = f"{texts[-1]}\n{line}" if texts[-1] else line
    return [text or "_no incidents_" for text in texts]


def _line(incident: Incident, closed: bool) -> str:
    state = ":white_check_mark: closed" if closed else ":red_circle: open"
    name = f"Incident {incident.incident_id}"
    linked = incident.url and len(incident.url) <= MAX_LINKED_URL
    shown = bk.link(incident.url, name, bk.CONSOLE) if linked else bk.escape_clipped(name)
    facts = [bk.escape_clipped(x, 80) for x in (incident.service, incident.revision) if x]
    if incident.started_at:
        facts.append(f"started {bk.slack_date(incident.started_at)}")
    return " · ".join([f"{state} {shown}", *facts])
