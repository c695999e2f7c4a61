"""OIDC verification of Pub/Sub pushes against locally served Google-style certificates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.dev.local_google import AUDIENCE, PUSH_ACCOUNT, LocalGoogleCerts
from bot.runtime.push_auth import PushAuthError, PushVerifier


@pytest.fixture(scope="module")
def google() -> Iterator[LocalGoogleCerts]:
    """One local certificate server for the module."""
    certs = LocalGoogleCerts()
    yield certs
    certs.stop()


@pytest.fixture
def verifier(google: LocalGoogleCerts) -> PushVerifier:
    """A verifier with an empty certificate cache."""
    return PushVerifier(AUDIENCE, PUSH_ACCOUNT, google.url)


def test_valid_token_is_accepted(google: LocalGoogleCerts, verifier: PushVerifier) -> None:
    """A token from the push account, for our audience, passes and yields its claims."""
    claims = verifier.verify(f"Bearer {google.mint()}")
    assert claims["email"] == PUSH_ACCOUNT


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        ({"aud": "https://elsewhere.example"}, 401, "invalid token"),
        ({"iss": "https://evil.example"}, 401, "wrong issuer"),
        ({"email": "someone@else.iam.gserviceaccount.com"}, 403, "not the push account"),
        ({"email_verified": False}, 403, "not verified"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200}, 401, "invalid token"),
    ],
)
def test_wrong_claims_are_refused(
    google: LocalGoogleCerts,
    verifier: PushVerifier,
    overrides: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    """Audience, issuer, account, verification and expiry are each enforced."""
    with pytest.raises(PushAuthError, match=reason) as info:
        verifier.verify(f"Bearer {google.mint(**overrides)}")
    assert info.value.status == status


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt", "Bearer garbage"]
)
def test_missing_or_garbage_tokens_are_401(verifier: PushVerifier, header: str) -> None:
    """No token, another scheme or garbage is a 401 with a reason."""
    with pytest.raises(PushAuthError) as info:
        verifier.verify(header)
    assert info.value.status == 401


def test_forged_signature_is_refused(google: LocalGoogleCerts, verifier: PushVerifier) -> None:
    """A token signed by an unpublished key under a known key id fails the signature check."""
    with pytest.raises(PushAuthError, match="invalid token"):
        verifier.verify(f"Bearer {google.forged()}")


def test_certificates_are_cached_and_refreshed_on_new_key(google: LocalGoogleCerts) -> None:
    """Certificates are fetched once; a token with a new key id triggers one refresh."""
    verifier = PushVerifier(AUDIENCE, PUSH_ACCOUNT, google.url)
    before = google.fetches
    for _ in range(5):
        verifier.verify(f"Bearer {google.mint()}")
    assert google.fetches == before + 1
    new_kid = google.rotate()
    verifier._fetched_at = 0.0  # the refresh interval has passed
    verifier.verify(f"Bearer {google.mint(kid=new_kid)}")
    assert google.fetches == before + 2


def test_unknown_key_id_is_refused(google: LocalGoogleCerts, verifier: PushVerifier) -> None:
    """A key id Google does not publish is refused after one refresh."""
    token = google.mint()
    header, _, rest = token.partition(".")
    forged_header = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUiLCJ0eXAiOiJKV1QifQ"  # kid "nope"
    with pytest.raises(PushAuthError, match="unknown key id"):
        verifier.verify(f"Bearer {forged_header}.{rest}")
    assert header != forged_header


def test_unconfigured_verifier_refuses_everything(google: LocalGoogleCerts) -> None:
    """Without an audience and account nothing gets through: there is no off switch."""
    with pytest.raises(PushAuthError, match="not configured") as info:
        PushVerifier("", "", google.url).verify(f"Bearer {google.mint()}")
    assert info.value.status == 503
