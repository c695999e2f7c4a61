"""Pub/Sub push envelopes (alerts and jobs arrive in the same wrapping)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field


class UnreadableAlert(Exception):
    """The push can never be read; it is acknowledged (no redelivery) and reported."""


@dataclass(frozen=True)
class Envelope:
    message_id: str
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)


def parse_envelope(body: bytes) -> Envelope:
    try:
        outer = json.loads(body)
        message = outer["message"]
        message_id = str(message.get("messageId") or message.get("message_id") or "")
        data = base64.b64decode(message.get("data", ""), validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as err:
        raise UnreadableAlert(f"not a Pub/Sub push envelope ({type(err).__name__})") from None
    if not message_id:
        raise UnreadableAlert("the envelope has no messageId")
    attributes = message.get("attributes") or {}
    return Envelope(message_id, data, {str(k): str(v) for k, v in attributes.items()})
