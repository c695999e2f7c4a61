"""A Web API error as Slack reports it: `{"ok": false, "error": ...}` plus optional fields."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> ApiError:
    """Slack's answer to a malformed argument, with its reasons in response_metadata."""
    return ApiError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] {m}" for m in messages]},
    )
