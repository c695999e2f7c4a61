"""`/ops why`: the diagnosis (handlers/why.py) with the bot's own change records added."""

from __future__ import annotations

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
    since = why.since_of(cmd)
    filters = Filters(
        env=cmd.env, target=cmd.service, since=deps.now() - since - MATCH_WITHIN, limit=MAX_RECORDS
    )
    changes = [bot_change(a) for a in deps.store.search(filters) if a.state not in CHANGED_NOTHING]
    return why.run(cmd, deps.platform, deps.config, changes)


def bot_change(action: Action) -> BotChange:
    return BotChange(
        at=action.started_at or action.approved_at or action.created_at,
        verb=action.verb,
        requested_by=action.requested_by,
        approved_by=action.approved_by,
        outcome=action.state.value,
        summary=action.summary,
    )
