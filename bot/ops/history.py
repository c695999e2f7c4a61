"""`/ops history [SERVICE] [--limit N] [--env ENV] [--user @x] [--outcome O] [--since S]
[--before DATE]` and App Home's lines.

The store filters from its indexes, so any record is found however old; a page that does not
show everything says how many matched and the `--before` that shows the older ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from bot.deps import Deps
from bot.slack import cards
from bot.store import Action, Filters, State
from bot.store.model import utcnow
from handlers import blocks as bk
from handlers.commands import Command, UsageError

T = TypeVar("T")
DEFAULT_LIMIT = 10
ALL_ENVIRONMENTS = "all environments"
MAX_CHANGES_SHOWN = 3
MAX_SHOWN = bk.ANSWER_BLOCKS - 2  # the header and the footer too fit in one message
UNSUCCESSFUL = frozenset({State.FAILED, State.INTERRUPTED, State.NOT_STARTED})
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


def filters_for(cmd: Command, now: datetime | None = None) -> Filters:
    since = cmd.since_date or ((now or utcnow()) - cmd.since if cmd.since_given else None)
    if since and cmd.before and since >= cmd.before:
        raise UsageError("`--since` must be earlier than `--before`.")
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
        since=since,
        before=cmd.before,
    )


def environment_label(cmd: Command) -> str:
    """History lists every environment unless `--env` narrows it."""
    return cmd.env if cmd.env_given else ALL_ENVIRONMENTS


def render(cmd: Command, deps: Deps) -> list[bk.Block]:
    filters = filters_for(cmd, deps.now())
    scope = " · ".join(x for x in (cmd.service, environment_label(cmd), _window(filters)) if x)
    if filters.outcome == State.REFUSED.value:
        refused, total = _page(
            deps.store.search_refused(filters), filters, deps.store.count_refused
        )
        return _answer(
            f"Refused requests · {scope}",
            [refusal_line(r) for r in refused]
            or ["_No refused requests on record for that filter._"],
            total - len(refused),
            str(refused[-1]["at"]) if refused else "",
        )
    actions, total = _page(deps.store.search(filters), filters, deps.store.count)
    url = deps.workspace_url()
    return _answer(
        f"History · {scope}",
        [line(a, url) for a in actions] or ["_No actions on record for that filter._"],
        total - len(actions),
        actions[-1].created_at.isoformat() if actions else "",
    )


def _window(filters: Filters) -> str:
    since = f"since {_moment(filters.since)}" if filters.since else ""
    before = f"before {_moment(filters.before)}" if filters.before else ""
    return " ".join(x for x in (since, before) if x)


def _page(found: list[T], filters: Filters, count: Callable[[Filters], int]) -> tuple[list[T], int]:
    """What fits in one message, and how many matched (counted only when the page is full)."""
    total = count(filters) if len(found) >= filters.limit else len(found)
    return found[:MAX_SHOWN], total


def _answer(title: str, lines: list[str], older: int, oldest: str) -> list[bk.Block]:
    """The lines under their title; where more matched, how many and how to see them."""
    out = [bk.header(title), *(bk.section(x) for x in lines)]
    if older > 0:
        cursor = _moment(datetime.fromisoformat(oldest.replace("Z", "+00:00")))
        shown, total = len(lines), len(lines) + older
        out.append(
            bk.context(
                f"Showing the newest {shown} of {total}. For older ones add `--before {cursor}`."
            )
        )
    return out


def _moment(when: datetime) -> str:
    """A time as `--before` takes it (UTC, to the microsecond when it has them)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f" if when.microsecond else "%Y-%m-%dT%H:%M:%S")


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
    """Who did what where, what it changed (before → after) and, when it failed, why."""
    approved = f" · approved by <@{action.approved_by}>" if action.approved_by else ""
    took = action.duration_seconds
    duration = f" · {cards.human_seconds(took)}" if took is not None else ""
    thread = f" · <{permalink(action, workspace_url)}|thread>" if action.card_ts else ""
    details = "".join(f"\n{x}" for x in (*_changes(action), _why(action)) if x)
    return (
        f"{OUTCOME_ICONS[action.state]} {bk.slack_date(action.created_at)} *{action.verb}*"
        f" {bk.code(action.target)} · {action.env} · {action.state.value}\n"
        f"{_stored(action.summary)} · by <@{action.requested_by}>{approved}{duration}{thread}"
        f"{details}"
    )


def _changes(action: Action) -> list[str]:
    changes = [c for c in action.plan.get("changes", []) if isinstance(c, dict)]
    shown = [
        f"> {_stored(c.get('what', '?'))}: {bk.code(str(c.get('before', '')), 200)}"
        f" → {bk.code(str(c.get('after', '')), 200)}"
        for c in changes[:MAX_CHANGES_SHOWN]
    ]
    hidden = len(changes) - len(shown)
    return [*shown, f"> …and {hidden} more"] if hidden > 0 else shown


def _why(action: Action) -> str:
    if action.state not in UNSUCCESSFUL or not action.outcome:
        return ""
    return f"> *Why:* {_stored(action.outcome)}"


def _stored(text: object) -> str:
    """A stored message (a reason, an outcome) as visible text: its mentions and links are
    not rendered (a history must not notify anyone), one already escaped when it was written
    is not escaped twice, and the bot's own dates (`<!date^…>`; outside text was escaped
    before it was stored, so a raw one is the bot's) still show in the reader's time zone."""
    parts = _DATE.split(bk.clip(str(text), 1000))
    return "".join(part if _DATE.fullmatch(part) else bk.escape_once(part) for part in parts)


_DATE = re.compile(r"(<!date\^\d+\^[^|<>]*\|[^<>]*>)")


def permalink(action: Action, workspace_url: str) -> str:
    """The plan card's address, built like chat.getPermalink's without a call per line
    (https://WORKSPACE/archives/CHANNEL/pTS, the ts without its dot; a reply names its
    thread)."""
    base = (
        f"{workspace_url.rstrip('/')}/archives/{action.channel}/p{action.card_ts.replace('.', '')}"
    )
    if action.thread_ts and action.thread_ts != action.card_ts:
        return f"{base}?thread_ts={action.thread_ts}&cid={action.channel}"
    return base
