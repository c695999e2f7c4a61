"""Short, actionable wording for failures shown in Slack (details stay in the logs)."""

from __future__ import annotations

from gcp.errors import GcpError
from handlers import blocks as bk

_KINDS = {
    "NotFound": "Google Cloud says it does not exist.",
    "PermissionDenied": "the bot is not allowed to do that.",
    "QuotaExceeded": "Google Cloud is throttling the bot.",
    "Unavailable": "Google Cloud did not answer in time.",
    "Conflict": "it changed in the meantime.",
    "InvalidArgument": "Google Cloud rejected the request.",
    "OperationFailed": "the change did not complete.",
}


def gcp_problem(err: GcpError) -> str:
    """mrkdwn; Google's own message (`err.detail`) stays in the logs."""
    return bk.escape(f"{_KINDS.get(type(err).__name__, 'the call failed.')} {err.hint}")
