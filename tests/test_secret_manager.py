"""Secret Manager: the emulator through the real client library, and the bot's adapter."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud import secretmanager_v1 as sm
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from gcp.clients import Clients
from gcp.emulator import Emulator
from gcp.errors import GcpError, InvalidArgument, NotFound, Unavailable
from gcp.secrets import ChecksumMismatch, SecretManagerAdapter, VersionNotEnabled, crc32c

PROJECT, SECRET = "fluxori-prod", "jwt-secret"
PARENT = f"projects/{PROJECT}/secrets/{SECRET}"


@pytest.fixture
def adapter(clients: Clients) -> SecretManagerAdapter:
    """The bot's adapter on the seeded emulator."""
    return SecretManagerAdapter(clients)


@pytest.fixture
def raw(clients: Clients) -> Any:
    """The generated client, for what the adapter does not expose (or refuses to send)."""
    return clients.build(sm.SecretManagerServiceClient, SecretManagerServiceGrpcTransport)


@pytest.fixture
def payload() -> bytes:
    """A printable secret, so that an echo of it in any text would be found."""
    return base64.b64encode(secrets.token_bytes(48))


def assert_hidden(error: BaseException, payload: bytes) -> None:
    """Neither the error nor anything chained to it shows the payload, in any spelling."""
    spellings = {payload.decode("latin-1"), payload.hex(), repr(payload), str(list(payload))}
    chain: BaseException | None = error
    while chain is not None:
        for text in (str(chain), repr(chain), str(chain.args)):
            assert not any(s in text for s in spellings), f"payload leaked in {type(chain)}"
        chain = chain.__cause__ or chain.__context__


def test_seed_versions_newest_first_with_1_disabled(adapter: SecretManagerAdapter) -> None:
    """Seeded jwt-secret: versions 3, 2 ENABLED and 1 DISABLED, created days ago, newest first."""
    versions = adapter.list_versions(PROJECT, SECRET)
    assert [(v.version, v.state) for v in versions] == [
        ("3", "ENABLED"),
        ("2", "ENABLED"),
        ("1", "DISABLED"),
    ]
    times = [v.create_time for v in versions]
    assert all(t is not None for t in times)
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]


def test_seeded_payloads_are_random_per_project(emulator: Emulator) -> None:
    """Each project's versions hold different random payloads."""
    payloads = {
        emulator.secrets.payload(p, SECRET, v)
        for p in ("fluxori-dev", "fluxori-staging", "fluxori-prod")
        for v in ("1", "2", "3")
    }
    assert len(payloads) == 9


def test_add_then_access_returns_the_payload(
    adapter: SecretManagerAdapter, emulator: Emulator, payload: bytes
) -> None:
    """add_version creates version 4 ENABLED; access by number and by `latest` returns it."""
    added = adapter.add_version(PROJECT, SECRET, payload)
    assert (added.version, added.state) == ("4", "ENABLED")
    assert emulator.secrets.versions(PROJECT, SECRET)[0] == ("4", "ENABLED")
    assert emulator.secrets.payload(PROJECT, SECRET, "4") == payload
    assert adapter.access_version(PROJECT, SECRET, "4") == payload
    assert adapter.access_version(PROJECT, SECRET) == payload


def test_access_returns_the_stored_checksum(raw: Any, emulator: Emulator) -> None:
    """AccessSecretVersion answers the resolved name and data_crc32c of the data."""
    response = raw.access_secret_version(name=f"{PARENT}/versions/latest")
    assert response.name == f"{PARENT}/versions/3"
    assert response.payload.data == emulator.secrets.payload(PROJECT, SECRET, "3")
    assert response.payload.data_crc32c == crc32c(response.payload.data)


def test_wrong_crc32c_is_rejected_and_adds_nothing(raw: Any, emulator: Emulator) -> None:
    """A payload whose data_crc32c does not match is INVALID_ARGUMENT; no version is added."""
    data = b"value"
    with pytest.raises(gexc.InvalidArgument, match="data_crc32c mismatch"):
        raw.add_secret_version(parent=PARENT, payload={"data": data, "data_crc32c": 1})
    assert len(emulator.secrets.versions(PROJECT, SECRET)) == 3


def test_add_without_checksum_stores_one(raw: Any) -> None:
    """Without data_crc32c the service computes one and returns it on access."""
    version = raw.add_secret_version(parent=PARENT, payload={"data": b"abc"})
    response = raw.access_secret_version(name=version.name)
    assert response.payload.data_crc32c == crc32c(b"abc")


def test_oversized_payload_is_invalid(adapter: SecretManagerAdapter, emulator: Emulator) -> None:
    """A payload over 64 KiB is refused with a reason and adds nothing."""
    big = b"x" * (64 * 1024 + 1)
    with pytest.raises(InvalidArgument, match="64 KiB") as caught:
        adapter.add_version(PROJECT, SECRET, big)
    assert_hidden(caught.value, big)
    assert len(emulator.secrets.versions(PROJECT, SECRET)) == 3


def test_disable_then_enable_round_trip(adapter: SecretManagerAdapter, emulator: Emulator) -> None:
    """disable_version and enable_version return the new state, which the service keeps."""
    disabled = adapter.disable_version(PROJECT, SECRET, "2")
    assert (disabled.version, disabled.state) == ("2", "DISABLED")
    assert ("2", "DISABLED") in emulator.secrets.versions(PROJECT, SECRET)
    enabled = adapter.enable_version(PROJECT, SECRET, "1")
    assert (enabled.version, enabled.state) == ("1", "ENABLED")
    assert ("1", "ENABLED") in emulator.secrets.versions(PROJECT, SECRET)


def test_etag_changes_with_state_and_a_stale_one_is_refused(raw: Any) -> None:
    """Each state change gives a new etag; disabling with an old etag is ABORTED."""
    name = f"{PARENT}/versions/2"
    before = raw.get_secret_version(name=name).etag
    after = raw.disable_secret_version(request={"name": name, "etag": before}).etag
    assert after != before
    assert raw.enable_secret_version(name=name).etag not in (before, after)
    with pytest.raises(gexc.Aborted):
        raw.disable_secret_version(request={"name": name, "etag": before})


def test_accessing_a_disabled_version_is_a_project_error(adapter: SecretManagerAdapter) -> None:
    """Version 1 is DISABLED: access raises VersionNotEnabled, saying so."""
    with pytest.raises(VersionNotEnabled, match="disabled or destroyed") as caught:
        adapter.access_version(PROJECT, SECRET, "1")
    assert "access version 1 of secret jwt-secret in fluxori-prod" in str(caught.value)


def test_latest_is_the_newest_version_even_when_disabled(adapter: SecretManagerAdapter) -> None:
    """As in the real API, `latest` does not fall back to an older enabled version."""
    adapter.disable_version(PROJECT, SECRET, "3")
    with pytest.raises(VersionNotEnabled):
        adapter.access_version(PROJECT, SECRET, "latest")
    assert adapter.access_version(PROJECT, SECRET, "2")


def test_destroyed_version_cannot_be_accessed_or_enabled(raw: Any, emulator: Emulator) -> None:
    """A destroyed version: access and enable are FAILED_PRECONDITION naming the state."""
    emulator.secrets.destroy_version(PROJECT, SECRET, "1")
    name = f"{PARENT}/versions/1"
    with pytest.raises(gexc.FailedPrecondition, match="DESTROYED"):
        raw.access_secret_version(name=name)
    with pytest.raises(gexc.FailedPrecondition, match="DESTROYED"):
        raw.enable_secret_version(name=name)
    assert raw.get_secret_version(name=name).destroy_time


def test_corrupted_checksum_on_access_is_detected(
    adapter: SecretManagerAdapter, emulator: Emulator
) -> None:
    """A returned data_crc32c that does not match the data raises ChecksumMismatch."""
    emulator.secrets.corrupt_checksum(PROJECT, SECRET, "3")
    with pytest.raises(ChecksumMismatch) as caught:
        adapter.access_version(PROJECT, SECRET, "3")
    assert_hidden(caught.value, emulator.secrets.payload(PROJECT, SECRET, "3"))


@pytest.mark.parametrize(
    ("secret", "version"), [("no-such-secret", "1"), (SECRET, "9"), (SECRET, "zero")]
)
def test_unknown_secret_or_version_is_not_found(
    adapter: SecretManagerAdapter, secret: str, version: str
) -> None:
    """Unknown secret or version number: NotFound naming what was asked for."""
    with pytest.raises(NotFound, match=f"version {version} of secret {secret}"):
        adapter.access_version(PROJECT, secret, version)
    with pytest.raises(NotFound):
        adapter.enable_version(PROJECT, secret, version)


def test_listing_or_adding_to_an_unknown_secret_is_not_found(
    adapter: SecretManagerAdapter, payload: bytes
) -> None:
    """NotFound from list and add; the add's error does not contain the payload."""
    with pytest.raises(NotFound, match="list versions of secret nope in fluxori-prod"):
        adapter.list_versions(PROJECT, "nope")
    with pytest.raises(NotFound) as caught:
        adapter.add_version(PROJECT, "nope", payload)
    assert_hidden(caught.value, payload)


def test_get_secret_reads_a_seeded_secret_and_404s_others(raw: Any) -> None:
    """GetSecret returns the secret with its creation time; an unknown one is NOT_FOUND."""
    secret = raw.get_secret(name=PARENT)
    assert secret.name == PARENT
    assert secret.create_time
    with pytest.raises(gexc.NotFound):
        raw.get_secret(name=f"projects/{PROJECT}/secrets/nope")


def test_list_pages_newest_first(raw: Any) -> None:
    """page_size 2 gives pages [3, 2] then [1]; the pager follows next_page_token."""
    pager = raw.list_secret_versions(request={"parent": PARENT, "page_size": 2})
    pages = [[v.name.rsplit("/", 1)[-1] for v in page.versions] for page in pager.pages]
    assert pages == [["3", "2"], ["1"]]


def test_list_filter_by_state_and_unsupported_filter(raw: Any) -> None:
    """filter state:DISABLED lists version 1 only; any other filter is INVALID_ARGUMENT."""
    disabled = raw.list_secret_versions(request={"parent": PARENT, "filter": "state:DISABLED"})
    assert [v.name.rsplit("/", 1)[-1] for v in disabled] == ["1"]
    with pytest.raises(gexc.InvalidArgument, match="not supported"):
        list(raw.list_secret_versions(request={"parent": PARENT, "filter": "name:foo"}))


def test_bad_page_token_is_invalid(raw: Any) -> None:
    """A page_token the service did not issue is INVALID_ARGUMENT."""
    with pytest.raises(gexc.InvalidArgument, match="page_token"):
        list(raw.list_secret_versions(request={"parent": PARENT, "page_token": "abc"}))


def test_unavailable_read_is_retried(adapter: SecretManagerAdapter, emulator: Emulator) -> None:
    """One UNAVAILABLE on access and on list: the adapter retries and answers."""
    emulator.faults.inject("AccessSecretVersion", code=grpc.StatusCode.UNAVAILABLE)
    emulator.faults.inject("ListSecretVersions", code=grpc.StatusCode.UNAVAILABLE)
    assert adapter.access_version(PROJECT, SECRET) == emulator.secrets.payload(PROJECT, SECRET, "3")
    assert len(adapter.list_versions(PROJECT, SECRET)) == 3


def test_unavailable_add_is_not_retried(
    adapter: SecretManagerAdapter, emulator: Emulator, payload: bytes
) -> None:
    """One UNAVAILABLE on add: Unavailable is raised, no version is added, the payload is hidden."""
    emulator.faults.inject(
        "AddSecretVersion", code=grpc.StatusCode.UNAVAILABLE, message=payload.decode()
    )
    with pytest.raises(Unavailable, match="UNAVAILABLE") as caught:
        adapter.add_version(PROJECT, SECRET, payload)
    assert_hidden(caught.value, payload)
    assert [v for v, _ in emulator.secrets.versions(PROJECT, SECRET)] == ["3", "2", "1"]


def test_unavailable_until_deadline_on_access_hides_the_server_text(
    adapter: SecretManagerAdapter, emulator: Emulator
) -> None:
    """Retries run out: Unavailable names the status, not the text the server sent."""
    echoed = emulator.secrets.payload(PROJECT, SECRET, "3").hex()
    emulator.faults.inject(
        "AccessSecretVersion", code=grpc.StatusCode.UNAVAILABLE, times=1000, message=echoed
    )
    with pytest.raises(Unavailable, match="UNAVAILABLE") as caught:
        adapter.access_version(PROJECT, SECRET)
    assert echoed not in str(caught.value)
    assert caught.value.__context__ is None


def test_a_non_bytes_payload_is_refused_without_echoing_it(adapter: SecretManagerAdapter) -> None:
    """A str payload is a TypeError whose text does not contain the value."""
    with pytest.raises(TypeError) as caught:
        adapter.add_version(PROJECT, SECRET, "hunter2-secret-value")  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)


def test_errors_carry_an_actionable_hint(adapter: SecretManagerAdapter) -> None:
    """Every project error from the adapter names the operation and has a hint."""
    with pytest.raises(GcpError) as caught:
        adapter.access_version(PROJECT, SECRET, "1")
    assert caught.value.what == "access version 1 of secret jwt-secret in fluxori-prod"
    assert "Enable" in caught.value.hint
