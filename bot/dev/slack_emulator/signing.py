"""Slack's request signing (v0): HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's
signing secret, sent as X-Slack-Signature with X-Slack-Request-Timestamp."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal

Signing = Literal["valid", "bad_signature", "stale_timestamp", "unsigned"]
STALE_SECONDS = 10 * 60  # Slack's SDKs refuse requests older than 5 minutes


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, signing: Signing = "valid") -> dict[str, str]:
    """The two headers Slack adds, correct or broken in one deliberate way.

    bad_signature: signed with a different secret; stale_timestamp: correctly signed but
    10 minutes old; unsigned: neither header."""
    if signing == "unsigned":
        return {}
    now = int(time.time())
    timestamp = str(now - STALE_SECONDS if signing == "stale_timestamp" else now)
    key = secret if signing != "bad_signature" else secret + "-not-the-app-secret"
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(key, timestamp, body),
    }
