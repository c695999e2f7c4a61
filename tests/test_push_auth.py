"""OIDC verification of Pub/Sub pushes against locally served Google-style certificates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.dev.local_google import AUDIENCE, PUSH_ACCOUNT, LocalGoogleCerts
from bot.runtime import push_auth
from bot.runtime.push_auth import GoogleCerts, PushAuthError, PushVerifier
from gcp.emulator import Emulator
from tests.support.slack import envelope
from tests.support.stack import start_stack


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def own_google() -> Iterator[LocalGoogleCerts]:
    """A certificate server of the test's own, free to stall or fail."""
    certs = LocalGoogleCerts()
    yield certs
    certs.stop()


@pytest.fixture
def verifier(google: LocalGoogleCerts) -> PushVerifier:
    """A verifier with an empty certificate cache."""
    return PushVerifier(AUDIENCE, PUSH_ACCOUNT, GoogleCerts(google.url))


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


def test_certificates_are_cached_and_refreshed_on_new_key(own_google: LocalGoogleCerts) -> None:
    """Certificates are fetched once; a new key id after the refresh interval fetches again."""
    clock = Clock()
    verifier = PushVerifier(AUDIENCE, PUSH_ACCOUNT, GoogleCerts(own_google.url, clock))
    for _ in range(5):
        verifier.verify(f"Bearer {own_google.mint()}")
    assert own_google.fetches == 1
    new_kid = own_google.rotate()
    clock.now += push_auth.MIN_REFRESH_INTERVAL
    verifier.verify(f"Bearer {own_google.mint(kid=new_kid)}")
    assert own_google.fetches == 2


def test_unknown_key_ids_are_refused_without_hammering_google(
    own_google: LocalGoogleCerts,
) -> None:
    """Unknown key ids are 401; within the refresh interval they cause no further fetch."""
    verifier = PushVerifier(AUDIENCE, PUSH_ACCOUNT, GoogleCerts(own_google.url, Clock()))
    for number in range(5):
        with pytest.raises(PushAuthError, match="unknown key id") as info:
            verifier.verify(f"Bearer {own_google.forged(kid=f'nope-{number}')}")
        assert info.value.status == 401
    assert own_google.fetches == 1


def test_failed_fetch_is_remembered_briefly(own_google: LocalGoogleCerts) -> None:
    """A failed fetch answers 503; pushes during FAILURE_MEMORY get 503 without a fetch,
    and the next push after it fetches again and passes."""
    clock = Clock()
    verifier = PushVerifier(AUDIENCE, PUSH_ACCOUNT, GoogleCerts(own_google.url, clock))
    own_google.failing = True
    for _ in range(3):
        with pytest.raises(PushAuthError, match="cannot fetch") as info:
            verifier.verify(f"Bearer {own_google.mint()}")
        assert info.value.status == 503
    assert own_google.fetches == 1
    own_google.failing = False
    clock.now += push_auth.FAILURE_MEMORY
    assert verifier.verify(f"Bearer {own_google.mint()}")["email"] == PUSH_ACCOUNT
    assert own_google.fetches == 2


def test_known_key_is_verified_while_google_is_down(own_google: LocalGoogleCerts) -> None:
    """Once cached, a known key id needs no fetch: an outage or a hanging endpoint is unseen."""
    clock = Clock()
    verifier = PushVerifier(AUDIENCE, PUSH_ACCOUNT, GoogleCerts(own_google.url, clock))
    verifier.verify(f"Bearer {own_google.mint()}")
    own_google.failing = True
    own_google.stall(30)
    clock.now += 3600
    started = time.monotonic()
    assert verifier.verify(f"Bearer {own_google.mint()}")["email"] == PUSH_ACCOUNT
    assert time.monotonic() - started < 0.5


def test_forged_key_ids_never_delay_a_valid_push(
    emulator: Emulator,
    tmp_path: Path,
    own_google: LocalGoogleCerts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a certificate endpoint that hangs, a burst of pushes with forged key ids is
    answered at once (401 or 503) and a valid alert push in parallel is posted within 1 s."""
    monkeypatch.setattr(push_auth, "MIN_REFRESH_INTERVAL", 0.0)  # every unknown id may fetch
    stack = start_stack(emulator, tmp_path, own_google)
    url = f"{stack.url}/pubsub/alerts"

    def push(token: str, body: dict[str, Any]) -> tuple[int, float]:
        started = time.monotonic()
        reply = requests.post(
            url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        return reply.status_code, time.monotonic() - started

    try:
        warm = push(own_google.mint(), envelope("alert-open.json", "m-warm"))
        assert warm[0] == 200
        own_google.stall(10)
        forged = [own_google.forged(kid=f"forged-{n}") for n in range(20)]
        with ThreadPoolExecutor(max_workers=21) as pool:
            burst = [pool.submit(push, token, envelope("alert-open.json")) for token in forged]
            valid = pool.submit(push, own_google.mint(), envelope("alert-open.json", "m-2"))
            status, elapsed = valid.result()
            own_google.release()
            refused = {future.result()[0] for future in burst}
        assert (status, elapsed < 1.0) == (200, True)
        assert refused <= {401, 503}
    finally:
        stack.stop()
