"""A local stand-in for Google's OIDC signing: an RSA key, its certificate served over HTTP,
and tokens minted like the ones Pub/Sub push attaches. The sandbox and the tests use it to
drive `/pubsub/alerts` and `/tasks` through the real verification."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from bot.dev.devserver import BackgroundServer

AUDIENCE = "https://ops-bot.sandbox.local/pubsub"
PUSH_ACCOUNT = "pubsub-push@fluxori-prod.iam.gserviceaccount.com"
# /tasks has an identity of its own, so an alert push's token cannot run a job.
TASKS_AUDIENCE = "https://ops-bot.sandbox.local/tasks"
TASKS_PUSH_ACCOUNT = "pubsub-tasks@fluxori-prod.iam.gserviceaccount.com"


def _key_and_cert() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-google-certs")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM)


class LocalGoogleCerts:
    """Serves {kid: PEM certificate} like https://www.googleapis.com/oauth2/v1/certs."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.certs: dict[str, str] = {}
        self.fetches = 0
        self.failing = False  # answer 503, as an outage of Google's endpoint would
        self._stall_seconds = 0.0
        self._released = threading.Event()
        self._unpublished = b""
        self.rotate()
        self._server = BackgroundServer(self._app).start()

    @property
    def url(self) -> str:
        return f"{self._server.url}/oauth2/v1/certs"

    def rotate(self) -> str:
        """Add a new signing key (as Google does) and return its key id."""
        kid = f"kid-{len(self.keys) + 1}"
        self.keys[kid], cert = _key_and_cert()
        self.certs[kid] = cert.decode()
        return kid

    def stall(self, seconds: float) -> None:
        """Every fetch from now on hangs for `seconds` (or until `release`) before answering."""
        self._released.clear()
        self._stall_seconds = seconds

    def release(self) -> None:
        """Answer stalled and future fetches at once."""
        self._stall_seconds = 0.0
        self._released.set()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.fetches += 1
        if self._stall_seconds:
            self._released.wait(self._stall_seconds)
        if self.failing:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"unavailable"]
        body = json.dumps(self.certs).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    def mint(self, kid: str | None = None, **overrides: Any) -> str:
        """A token like Pub/Sub push's; `overrides` replace claims (aud, email, exp...)."""
        kid = kid or next(iter(self.keys))
        return _sign(self.keys[kid], kid, overrides)

    def mint_tasks(self, **overrides: Any) -> str:
        """A token like the one Pub/Sub attaches to pushes to /tasks."""
        return self.mint(**{"aud": TASKS_AUDIENCE, "email": TASKS_PUSH_ACCOUNT, **overrides})

    def forged(self, kid: str | None = None) -> str:
        """Signed by a key Google never published, under `kid` (default: a published one)."""
        if not self._unpublished:
            self._unpublished, _ = _key_and_cert()
        return _sign(self._unpublished, kid or next(iter(self.keys)), {})

    def stop(self) -> None:
        self.release()
        self._server.stop()


def _sign(pem: bytes, kid: str, overrides: dict[str, Any]) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": PUSH_ACCOUNT,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
        "sub": "1234567890",
    }
    claims.update(overrides)
    signer = crypt.RSASigner.from_string(pem, key_id=kid)  # type: ignore[no-untyped-call]
    token: bytes = jwt.encode(signer, claims)  # type: ignore[no-untyped-call]
    return token.decode()
