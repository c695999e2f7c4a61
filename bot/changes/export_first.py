"""Beside a prod plan the policy marks as risky (`[policy] export_first_verbs`, none by
default): an offer, in the plan's thread, to export Firestore's current data first. Its
button becomes an `export` change request (bot/ops/db_buttons.py)."""

from __future__ import annotations

from bot.deps import Deps
from bot.runtime import logs
from bot.slack.messenger import ChannelUnavailable
from bot.store import Action
from handlers import blocks as bk

log = logs.get(__name__)

EXPORT_FIRST = "db.export_first"
EXPORT_FIRST_ENVS = ("prod",)


def offer(action: Action, deps: Deps) -> None:
    """Beside a risky prod plan, in its thread: an export of the current data, one click away."""
    risky = action.verb in deps.policy.config.export_first_verbs
    if not risky or action.env not in EXPORT_FIRST_ENVS or not action.thread_ts:
        return
    blocks = [
        bk.section(
            f":floppy_disk: The policy marks `{action.verb}` in {action.env} as risky:"
            " export Firestore's current data before confirming?"
        ),
        bk.actions("export-first", bk.button("Export first", EXPORT_FIRST, action.env)),
    ]
    try:
        deps.messenger.post(action.channel, blocks, "Export first?", thread_ts=action.thread_ts)
    except ChannelUnavailable:
        log.warning("export_first_not_offered", action_id=action.id)
