"""History filters applied in memory, for stores that avoid composite indexes."""

from __future__ import annotations

from bot.store.base import Filters
from bot.store.model import Action


def matches(action: Action, filters: Filters) -> bool:
    if filters.env and action.env != filters.env:
        return False
    if filters.target and action.target != filters.target:
        return False
    if filters.user and filters.user not in (action.requested_by, action.approved_by):
        return False
    states = {s.value for s in filters.states} or ({filters.outcome} if filters.outcome else set())
    return not states or action.state.value in states
