"""The equality filters of history's queries. The Firestore store builds its queries from
them and a test checks that each has its composite index declared in
deploy/terraform/firestore.tf (Google's emulator runs any query without one)."""

from __future__ import annotations

from bot.store.base import Filters

ACTIONS_ORDER = "created_at"  # history is newest first: descending
REFUSALS_ORDER = "at"
REFUSED = "refused"

Equalities = dict[str, str | list[str]]  # a list: `in` (several states)


def action_branches(filters: Filters) -> list[Equalities]:
    """The query's OR branches: one, or two for a user (as the requester, as the approver)."""
    base: Equalities = {}
    if filters.env:
        base["env"] = filters.env
    if filters.target:
        base["target"] = filters.target
    states = filters.state_values()
    if states:
        base["state"] = states if len(states) > 1 else states[0]
    if not filters.user:
        return [base]
    return [{**base, "requested_by": filters.user}, {**base, "approved_by": filters.user}]


def refusal_equalities(filters: Filters) -> dict[str, str]:
    """Refusals of kind "refused" (not recorded overrides), by who was refused."""
    equalities = {"kind": REFUSED}
    for field, value in (
        ("context.env", filters.env),
        ("context.target", filters.target),
        ("by", filters.user),
    ):
        if value:
            equalities[field] = value
    return equalities
