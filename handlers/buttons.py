"""Ids of the buttons that answers carry, and the values the buttons hold. Apart from the code
that builds those answers, so that the listeners load without it (cold start)."""

from __future__ import annotations

# Under a `/ops why` answer; each carries "env|service|revision".
WHY_ROLLBACK = "why.rollback"
WHY_ERRORS = "why.errors"
WHY_SCALE = "why.scale_up"
# "Create this index" under an errors or logs answer; it carries "env|collection|fields".
CREATE_INDEX = "db.create_index"
SEPARATOR = "|"


def why_value(env: str, service: str, revision: str) -> str:
    return SEPARATOR.join((env, service, revision))


def parse_why_value(value: str) -> tuple[str, str, str]:
    """(env, service, revision); empty strings for anything unreadable."""
    return _three(value) or ("", "", "")


def parse_index_value(value: str) -> tuple[str, str, str] | None:
    """(env, collection, fields) from a "Create this index" button's value, or None."""
    return _three(value)


def _three(value: str) -> tuple[str, str, str] | None:
    parts = value.split(SEPARATOR)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None
