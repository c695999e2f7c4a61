"""`/ops history [SERVICE] [--limit N] [--env ENV] [--user @x] [--outcome O]` and App Home."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.deps import Deps
from bot.slack import cards
from bot.store import Action, Filters, State
from handlers import blocks as bk
from handlers.commands import Command, UsageError

DEFAULT_LIMIT = 10
REFUSALS_SCANNED = 500  # newest refusals read for a filtered `--outcome refused`
_USER = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9_]+)$")
OUTCOME_ICONS = {
    State.SUCCEEDED: ":white_check_mark:",
    State.FAILED: ":x:",
    State.CANCELLED: ":no_entry_sign:",
    State.EXPIRED: ":alarm_clock:",
    State.PENDING: ":hourglass_flowing_sand:",
    State.APPROVED: ":arrow_forward:",
    State.RUNNING: ":gear:",
    State.INTERRUPTED: ":warning:",
    State.REFUSED: ":no_entry:",
    State.NOT_STARTED: ":double_vertical_bar:",
}


def filters_for(cmd: Command) -> Filters:
    user = ""
    if cmd.user_filter:
        match = _USER.match(cmd.user_filter)
        if not match:
            flag = bk.code(f"--user {cmd.user_filter}")
            raise UsageError(f"{flag} must be a mention like @alice.")
        user = match.group(1) or match.group(2)
    outcome = cmd.outcome_filter.lower()
    if outcome and outcome not in {s.value for s in State}:
        known = ", ".join(s.value for s in State)
        flag = bk.code(f"--outcome {outcome}")
        raise UsageError(f"{flag} is not an outcome. Use one of: {known}.")
    return Filters(
        env=cmd.env if cmd.env_given else "",
        target=cmd.service,
        user=user,
        outcome=outcome,
        limit=cmd.limit or DEFAULT_LIMIT,
    )


def render(cmd: Command, deps: Deps) -> list[bk.Block]:
    filters = filters_for(cmd)
    scope = " · ".join(x for x in (cmd.service, cmd.env if cmd.env_given else "") if x)
    suffix = f" · {scope}" if scope else ""
    if filters.outcome == State.REFUSED.value:
        return _refusals(filters, suffix, deps)
    actions = deps.store.search(filters)
    out = [bk.header(f"History{suffix}")]
    if not actions:
        out.append(bk.section("_No actions on record for that filter._"))
    out += [bk.section(line(a, deps.workspace_url())) for a in actions]
    return bk.fit(out)


def _refusals(filters: Filters, suffix: str, deps: Deps) -> list[bk.Block]:
    """Requests refused before they became a plan (policy, limits, what Google said)."""
    found = [
        r
        for r in deps.store.refusals(REFUSALS_SCANNED)
        if r.get("kind") == "refused" and _refusal_matches(r, filters)
    ][: filters.limit]
    out = [bk.header(f"Refused requests{suffix}")]
    if not found:
        out.append(bk.section("_No refused requests on record for that filter._"))
    out += [bk.section(refusal_line(r)) for r in found]
    return bk.fit(out)


def _refusal_matches(record: dict[str, Any], filters: Filters) -> bool:
    context = record.get("context", {})
    return (
        filters.env in ("", context.get("env"))
        and filters.target in ("", context.get("target"))
        and filters.user in ("", record.get("by"))
    )


def refusal_line(record: dict[str, Any]) -> str:
    context = record.get("context", {})
    when = datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00"))
    target = f" {bk.code(str(context['target']))}" if context.get("target") else ""
    return (
        f"{OUTCOME_ICONS[State.REFUSED]} {bk.slack_date(when)}"
        f" *{bk.escape_clipped(str(context.get('verb', '?')))}*{target}"
        f" · {bk.escape_clipped(str(context.get('env', '?')))} · refused\n"
        f"{_stored(record.get('detail', ''))} · by <@{record.get('by', '')}>"
    )


def line(action: Action, workspace_url: str) -> str:
    approved = f" · approved by <@{action.approved_by}>" if action.approved_by else ""
    took = action.duration_seconds
    duration = f" · {cards.human_seconds(took)}" if took is not None else ""
    thread = f" · <{permalink(action, workspace_url)}|thread>" if action.card_ts else ""
    return (
        f"{OUTCOME_ICONS[action.state]} {bk.slack_date(action.created_at)} *{action.verb}*"
        f" {bk.code(action.target)} · {action.env} · {action.state.value}\n"
        f"{_stored(action.summary)} · by <@{action.requested_by}>{approved}{duration}{thread}"
    )


def _stored(text: object) -> str:
    """A stored message (a reason, an outcome) as visible text: its mentions and links are
    not rendered, and one already escaped when it was written is not escaped twice."""
    return bk.escape_once(bk.clip(str(text), 1000))


def permalink(action: Action, workspace_url: str) -> str:
    """The plan card's address, built like chat.getPermalink's without a call per line."""
    return f"{workspace_url}archives/{action.channel}/p{action.card_ts.replace('.', '')}"
