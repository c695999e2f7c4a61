"""`/ops why`: the diagnosis (handlers/why.py) with the bot's own change records added."""

from __future__ import annotations

from datetime import timedelta

from bot.deps import Deps
from bot.store import Action, Filters, State
from handlers import blocks as bk
from handlers import why
from handlers.commands import Command
from handlers.diagnosis import MATCH_WITHIN, BotChange

# Records of requests that changed nothing are left out of the timeline.
CHANGED_NOTHING = frozenset(
    {State.PENDING, State.CANCELLED, State.EXPIRED, State.REFUSED, State.NOT_STARTED}
)
MAX_RECORDS = 50


def answer(cmd: Command, deps: Deps) -> list[bk.Block]:
    changes = recent_changes(deps, cmd.env, cmd.service, why.since_of(cmd))
    return why.run(cmd, deps.platform, deps.config, changes)


def recent_changes(deps: Deps, env: str, service: str, since: timedelta) -> list[BotChange]:
    """Changes the bot made to the service in the window (a little before it, to match)."""
    start = deps.now() - since - MATCH_WITHIN
    filters = Filters(env=env, target=service, since=start, limit=MAX_RECORDS)
    return [bot_change(a) for a in deps.store.search(filters) if a.state not in CHANGED_NOTHING]


def bot_change(action: Action) -> BotChange:
    return BotChange(
        at=action.started_at or action.approved_at or action.created_at,
        verb=action.verb,
        requested_by=action.requested_by,
        approved_by=action.approved_by,
        outcome=action.state.value,
        summary=action.summary,
    )
