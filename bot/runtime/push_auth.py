"""Verification of Pub/Sub push OIDC tokens: the only gate on /pubsub/alerts and /tasks.

google-auth verifies signatures but does not cache Google's certificates, so they are kept
here and fetched again only when a token names a key id we do not have (key rotation).
"""

from __future__ import annotations

import base64
import json
import threading
import time

ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW = 30  # seconds
MIN_REFRESH_INTERVAL = 10.0  # never hammer the certs endpoint with forged key ids


class PushAuthError(Exception):
    """`status` is 401 (no or unreadable token) or 403 (valid token, wrong identity)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PushVerifier:
    def __init__(self, audience: str, service_account: str, certs_url: str) -> None:
        self.audience = audience
        self.service_account = service_account
        self.certs_url = certs_url
        self._certs: dict[str, str] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def verify(self, authorization: str) -> dict[str, object]:
        """The token's claims, or PushAuthError saying why it was refused."""
        if not self.audience or not self.service_account:
            raise PushAuthError(
                503,
                "push verification is not configured: set PUSH_AUDIENCE and PUSH_SERVICE_ACCOUNT",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PushAuthError(401, "missing bearer token")
        certs = self._certs_for(_key_id(token))
        # Imported here: the verifier is needed only for pushes, never for Slack's acks.
        from google.auth import exceptions as auth_exceptions
        from google.auth import jwt

        try:
            claims = jwt.decode(  # type: ignore[no-untyped-call]
                token, certs=certs, audience=self.audience, clock_skew_in_seconds=CLOCK_SKEW
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as err:
            raise PushAuthError(401, f"invalid token: {_short(err)}") from None
        self._check_identity(claims)
        return dict(claims)

    def _check_identity(self, claims: dict[str, object]) -> None:
        if claims.get("iss") not in ISSUERS:
            raise PushAuthError(401, f"wrong issuer {claims.get('iss')!r}")
        if claims.get("email") != self.service_account:
            raise PushAuthError(403, f"token is for {claims.get('email')!r}, not the push account")
        if claims.get("email_verified") is not True:
            raise PushAuthError(403, "token email is not verified")

    def _certs_for(self, key_id: str) -> dict[str, str]:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > MIN_REFRESH_INTERVAL
            if key_id not in self._certs and (stale or not self._certs):
                self._certs = _fetch(self.certs_url)
                self._fetched_at = time.monotonic()
            if key_id not in self._certs:
                raise PushAuthError(401, f"unknown key id {key_id[:40]!r}")
            return self._certs


def _key_id(token: str) -> str:
    try:
        header_b64 = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
        return str(header["kid"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise PushAuthError(401, "malformed token") from None


def _fetch(url: str) -> dict[str, str]:
    import requests

    try:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        certs = response.json()
    except (requests.RequestException, ValueError) as err:
        # Unavailable, not forbidden: the caller answers 5xx so Pub/Sub redelivers later.
        raise PushAuthError(
            503, f"cannot fetch Google's certificates ({type(err).__name__})"
        ) from None
    return {str(k): str(v) for k, v in certs.items()}


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:120]
