"""`/ops history [SERVICE] [--limit N] [--env ENV] [--user @x] [--outcome O]` and App Home."""

from __future__ import annotations

import re

from bot import cards
from bot.deps import Deps
from bot.store import Action, Filters, State
from handlers import blocks as bk
from handlers.commands import Command, UsageError

DEFAULT_LIMIT = 10
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
}


def filters_for(cmd: Command) -> Filters:
    user = ""
    if cmd.user_filter:
        match = _USER.match(cmd.user_filter)
        if not match:
            raise UsageError(f"`--user {cmd.user_filter}` must be a mention like @alice.")
        user = match.group(1) or match.group(2)
    outcome = cmd.outcome_filter.lower()
    if outcome and outcome not in {s.value for s in State}:
        known = ", ".join(s.value for s in State)
        raise UsageError(f"`--outcome {outcome}` is not an outcome. Use one of: {known}.")
    return Filters(
        env=cmd.env if cmd.env_given else "",
        target=cmd.service,
        user=user,
        outcome=outcome,
        limit=cmd.limit or DEFAULT_LIMIT,
    )


def render(cmd: Command, deps: Deps) -> list[bk.Block]:
    actions = deps.store.search(filters_for(cmd))
    scope = " · ".join(x for x in (cmd.service, cmd.env if cmd.env_given else "") if x)
    out = [bk.header(f"History{' · ' + scope if scope else ''}")]
    if not actions:
        out.append(bk.section("_No actions on record for that filter._"))
    out += [bk.section(line(a, deps.workspace_url())) for a in actions]
    return bk.fit(out)


def line(action: Action, workspace_url: str) -> str:
    approved = f" · approved by <@{action.approved_by}>" if action.approved_by else ""
    took = action.duration_seconds
    duration = f" · {cards.human_seconds(took)}" if took is not None else ""
    thread = f" · <{permalink(action, workspace_url)}|thread>" if action.card_ts else ""
    return (
        f"{OUTCOME_ICONS[action.state]} {bk.slack_date(action.created_at)} *{action.verb}*"
        f" `{action.target}` · {action.env} · {action.state.value}\n"
        f"{bk.escape(action.summary)} · by <@{action.requested_by}>{approved}{duration}{thread}"
    )


def permalink(action: Action, workspace_url: str) -> str:
    """The plan card's address, built like chat.getPermalink's without a call per line."""
    return f"{workspace_url}archives/{action.channel}/p{action.card_ts.replace('.', '')}"
