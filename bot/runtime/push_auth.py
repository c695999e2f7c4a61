"""Verification of Pub/Sub push OIDC tokens: the only gate on /pubsub/alerts and /tasks.

google-auth verifies signatures but does not cache Google's certificates, so `GoogleCerts`
keeps them. A token whose key id is known is verified without waiting for anything. An
unknown key id (Google rotated its keys, or a forgery) triggers one fetch at a time, at most
every MIN_REFRESH_INTERVAL; while a fetch is in flight other unknown key ids are answered at
once instead of queueing behind it, and a failed fetch is remembered for FAILURE_MEMORY so a
dead certificate endpoint costs one timeout, not one per push.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable

ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW = 30  # seconds
MIN_REFRESH_INTERVAL = 10.0  # never hammer the certs endpoint with forged key ids
FAILURE_MEMORY = 10.0  # after a failed fetch, answer 503 at once for this long
FETCH_TIMEOUT = 5.0


class PushAuthError(Exception):
    """`status` is 401 (no or unreadable token), 403 (valid token, wrong identity) or 503
    (Google's certificates are unavailable: Pub/Sub should retry)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GoogleCerts:
    """Google's token-signing certificates {key id: PEM}, cached and refreshed on demand."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._certs: dict[str, str] = {}  # replaced whole, never mutated: read without a lock
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._failure = ""
        self._fetching = threading.Lock()

    def for_key(self, key_id: str) -> dict[str, str]:
        """Certificates that include `key_id`, or PushAuthError (401 unknown, 503 unavailable)."""
        certs = self._certs
        if key_id not in certs:
            self._refresh()
            certs = self._certs
        if key_id not in certs:
            raise PushAuthError(401, f"unknown key id {key_id[:40]!r}")
        return certs

    def _refresh(self) -> None:
        if self._recently_tried():
            return
        # With no certificates yet every push needs this fetch, so wait for it; otherwise an
        # unknown key id must not hold a thread while another push's fetch is in flight.
        waited = self._fetching.acquire(timeout=FETCH_TIMEOUT * 2) if not self._certs else False
        if not waited and not self._fetching.acquire(blocking=False):
            raise PushAuthError(503, "Google's certificates are being fetched; retry")
        try:
            if not self._recently_tried():  # another thread may have fetched meanwhile
                self._fetch()
        finally:
            self._fetching.release()

    def _recently_tried(self) -> bool:
        """True when a fetch succeeded lately; raises 503 when one failed lately."""
        now = self._clock()
        if now - self._failed_at < FAILURE_MEMORY:
            raise PushAuthError(503, self._failure)
        return now - self._fetched_at < MIN_REFRESH_INTERVAL

    def _fetch(self) -> None:
        try:
            self._certs = _fetch(self.url)
        except PushAuthError as err:
            self._failed_at, self._failure = self._clock(), err.reason
            raise
        self._fetched_at = self._clock()


class PushVerifier:
    """Accepts a push token only for one audience and one service account."""

    def __init__(self, audience: str, service_account: str, certs: GoogleCerts) -> None:
        self.audience = audience
        self.service_account = service_account
        self.certs = certs

    def verify(self, authorization: str) -> dict[str, object]:
        """The token's claims, or PushAuthError saying why it was refused."""
        if not self.audience or not self.service_account:
            raise PushAuthError(503, "push verification is not configured for this route")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PushAuthError(401, "missing bearer token")
        certs = self.certs.for_key(_key_id(token))
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
        response = requests.get(url, timeout=FETCH_TIMEOUT)
        response.raise_for_status()
        certs = response.json()
        return {str(k): str(v) for k, v in certs.items()}
    except (requests.RequestException, ValueError, AttributeError) as err:
        # Unavailable, not forbidden: the caller answers 5xx so Pub/Sub redelivers later.
        raise PushAuthError(
            503, f"cannot fetch Google's certificates ({type(err).__name__})"
        ) from None


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:120]
