"""The shape Slack's interaction payloads always have, checked before any listener runs.

Only Slack can sign a request, so a signed payload of another shape means a bug or a leaked
signing secret: it is refused with a reason (400, a warning in the log) instead of reaching a
listener that would fail and log an error. Shapes from Slack's reference:
https://api.slack.com/reference/interaction-payloads
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

FORM = "application/x-www-form-urlencoded"
NEEDS_VIEW = ("view_submission", "view_closed")
# Fields the reference documents as objects: listeners read ids from them.
OBJECTS = ("team", "channel", "container", "message", "view")


def interaction_problem(content_type: str, body: bytes) -> str:
    """Why this request is not an interaction payload Slack would send; "" when it is one,
    or when it is not an interaction at all (a slash command, an event)."""
    if not content_type.startswith(FORM):
        return ""
    try:
        fields = parse_qs(body.decode(), strict_parsing=False)
    except UnicodeDecodeError:
        return "the form is not UTF-8"
    if "payload" not in fields:
        return ""
    try:
        payload = json.loads(fields["payload"][0])
    except ValueError:
        return "payload is not JSON"
    return _payload_problem(payload)


def _payload_problem(payload: Any) -> str:
    if not isinstance(payload, dict):
        return "payload is not a JSON object"
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind:
        return "payload has no type"
    if not _text(_object(payload.get("user")).get("id")):
        return "payload has no user.id"
    if kind == "block_actions" and (problem := _actions_problem(payload.get("actions"))):
        return problem
    if kind in NEEDS_VIEW and not _text(_object(payload.get("view")).get("id")):
        return f"{kind} payload has no view"
    misshapen = [k for k in OBJECTS if not isinstance(payload.get(k), dict | None)]
    return f"payload field {misshapen[0]} is not an object" if misshapen else ""


def _actions_problem(actions: Any) -> str:
    if not isinstance(actions, list) or not actions:
        return "block_actions payload has no actions"
    if not all(_text(_object(action).get("action_id")) for action in actions):
        return "block_actions payload has an action without action_id"
    return ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
