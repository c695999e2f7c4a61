"""Short, actionable wording for failures shown in Slack (details stay in the logs)."""

from __future__ import annotations

from gcp.errors import AlreadyExists, GcpError
from handlers import blocks as bk

_KINDS = {
    "NotFound": "Google Cloud says it does not exist.",
    "PermissionDenied": "the bot is not allowed to do that.",
    "QuotaExceeded": "Google Cloud is throttling the bot.",
    "Unavailable": "Google Cloud did not answer in time.",
    "Conflict": "it changed in the meantime.",
    "InvalidArgument": "Google Cloud rejected the request.",
    "OperationFailed": "the change did not complete.",
    "AlreadyExists": "a revision with the name it would create already exists.",
}


def gcp_problem(err: GcpError) -> str:
    """mrkdwn; Google's own message (`err.detail`) stays in the logs, except for a name
    collision, where what collided is the useful part."""
    kind = _KINDS.get(type(err).__name__, "the call failed.")
    if isinstance(err, AlreadyExists) and err.detail:
        kind = f"{kind[:-1]}: {err.detail}."
    return bk.escape(f"{kind} {err.hint}")
