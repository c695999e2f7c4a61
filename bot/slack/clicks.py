"""A button click as Slack reports it in a `block_actions` payload: who, which button, and
where (the channel and the message the button is on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Click:
    button: str  # the action_id
    value: str
    user: str
    channel: str
    message_ts: str
    thread_ts: str
    response_url: str
    trigger_id: str = ""

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        clicked = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        return cls(
            button=str(clicked.get("action_id", "")),
            value=str(clicked.get("value", ""))[:200],
            user=str((body.get("user") or {}).get("id", "")),
            channel=str((body.get("channel") or {}).get("id", "")),
            message_ts=str(container.get("message_ts", "")),
            thread_ts=str(container.get("thread_ts", "")),
            response_url=str(body.get("response_url", "")),
            trigger_id=str(body.get("trigger_id", "")),
        )
