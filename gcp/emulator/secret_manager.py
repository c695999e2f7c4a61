"""Secret Manager v1, as the bot uses it.

Versions are numbered 1..N. `latest` is the most recently created version whatever its
state, as in the real API: accessing it while it is disabled is FAILED_PRECONDITION, not a
fallback to an older version. AddSecretVersion checks `data_crc32c`; AccessSecretVersion
returns the stored checksum. Every state change gives the version a new `etag`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import google_crc32c
import grpc
from google.cloud import secretmanager_v1 as sm

from gcp.emulator import fluxori
from gcp.emulator.core import (
    EmulatorError,
    Faults,
    Handler,
    Method,
    invalid,
    not_found,
    paginate,
    service_handler,
)

if TYPE_CHECKING:
    from gcp.emulator.audit import AuditTrail

State = sm.SecretVersion.State
MAX_PAYLOAD_BYTES = 64 * 1024  # "Must be no larger than 64KiB."
MAX_PAGE_SIZE = 25_000
DEFAULT_PAGE_SIZE = 25
SEED_AGES_DAYS = (60, 30, 7)  # versions 1, 2, 3 of the seeded jwt-secret
SEED_STATES = (State.DISABLED, State.ENABLED, State.ENABLED)


def _pb(cls: Any) -> Any:  # the protobuf class behind a proto-plus message
    return cls.pb()


def _new_etag() -> str:
    return f'"{secrets.token_hex(7)}"'


def _crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


@dataclass
class _Version:
    number: int
    payload: bytes
    crc32c: int
    state: int  # a State value
    created: datetime
    etag: str = field(default_factory=_new_etag)
    destroyed: datetime | None = None


@dataclass
class _Secret:
    created: datetime
    etag: str = field(default_factory=_new_etag)
    versions: list[_Version] = field(default_factory=list)


class SecretManager:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}  # projects/P/secrets/S -> secret
        self.audit: AuditTrail | None = None  # where changes are audit-logged, if anywhere

    # --- state, for the seed, tests and the sandbox

    def seed_fluxori(self) -> None:
        now = self.clock()
        for project in fluxori.PROJECTS:
            self.create_secret(project, fluxori.SECRET, now - timedelta(days=90))
            for age, state in zip(SEED_AGES_DAYS, SEED_STATES, strict=True):
                payload = secrets.token_bytes(64)
                with self._lock:
                    secret = self._secrets[_secret_name(project, fluxori.SECRET)]
                    self._append(secret, payload, now - timedelta(days=age), state)

    def create_secret(self, project: str, secret: str, created: datetime | None = None) -> None:
        with self._lock:
            name = _secret_name(project, secret)
            self._secrets.setdefault(name, _Secret(created or self.clock()))

    def versions(self, project: str, secret: str) -> list[tuple[str, str]]:
        """(version, state name) newest first; empty for an unknown secret."""
        with self._lock:
            found = self._secrets.get(_secret_name(project, secret))
            versions = found.versions if found else []
            return [(str(v.number), State(v.state).name) for v in reversed(versions)]

    def payload(self, project: str, secret: str, version: str) -> bytes:
        with self._lock:
            return self._find(_version_name(project, secret, version)).payload

    def destroy_version(self, project: str, secret: str, version: str) -> None:
        """As if someone destroyed it in the console: the payload is gone for good."""
        with self._lock:
            found = self._find(_version_name(project, secret, version))
            found.state, found.payload, found.etag = State.DESTROYED, b"", _new_etag()
            found.destroyed = self.clock()

    def corrupt_checksum(self, project: str, secret: str, version: str) -> None:
        """Make AccessSecretVersion answer with a CRC32C that does not match the data."""
        with self._lock:
            found = self._find(_version_name(project, secret, version))
            found.crc32c ^= 0x1

    # --- the gRPC service

    def handlers(self, faults: Faults) -> list[Handler]:
        methods = {
            "GetSecret": Method(_pb(sm.GetSecretRequest), self.get_secret),
            "ListSecretVersions": Method(_pb(sm.ListSecretVersionsRequest), self.list_versions),
            "GetSecretVersion": Method(_pb(sm.GetSecretVersionRequest), self.get_version),
            "AddSecretVersion": Method(_pb(sm.AddSecretVersionRequest), self.add_version),
            "AccessSecretVersion": Method(_pb(sm.AccessSecretVersionRequest), self.access),
            "EnableSecretVersion": Method(_pb(sm.EnableSecretVersionRequest), self.enable),
            "DisableSecretVersion": Method(_pb(sm.DisableSecretVersionRequest), self.disable),
        }
        return [
            service_handler("google.cloud.secretmanager.v1.SecretManagerService", methods, faults)
        ]

    def get_secret(self, request: Any) -> Any:
        with self._lock:
            secret = self._secret(request.name)
            message = _pb(sm.Secret)(name=request.name, etag=secret.etag)
            message.replication.automatic.SetInParent()
            message.create_time.FromDatetime(secret.created)
            return message

    def list_versions(self, request: Any) -> Any:
        wanted_state = _state_filter(request.filter)
        with self._lock:
            found = [
                _message(request.parent, v)
                for v in reversed(self._secret(request.parent).versions)
                if wanted_state is None or v.state == wanted_state
            ]
        size = min(request.page_size, MAX_PAGE_SIZE)
        page, token = paginate(found, size, request.page_token, DEFAULT_PAGE_SIZE)
        return _pb(sm.ListSecretVersionsResponse)(
            versions=page, next_page_token=token, total_size=len(found)
        )

    def get_version(self, request: Any) -> Any:
        with self._lock:
            return _message(_parent(request.name), self._find(request.name))

    def add_version(self, request: Any) -> Any:
        data = bytes(request.payload.data)
        if len(data) > MAX_PAYLOAD_BYTES:
            raise invalid(f"Secret payload is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}.")
        if request.payload.HasField("data_crc32c") and request.payload.data_crc32c != _crc32c(data):
            raise invalid("data_crc32c mismatch: the payload was corrupted in transit.")
        with self._lock:
            secret = self._secret(request.parent)
            version = self._append(secret, data, self.clock(), State.ENABLED)
        return self._audited("AddSecretVersion", _message(request.parent, version))

    def access(self, request: Any) -> Any:
        with self._lock:
            version = self._find(request.name)
            name = f"{_parent(request.name)}/versions/{version.number}"
            _require_enabled(name, version)
            payload = _pb(sm.SecretPayload)(data=version.payload, data_crc32c=version.crc32c)
            return _pb(sm.AccessSecretVersionResponse)(name=name, payload=payload)

    def enable(self, request: Any) -> Any:
        changed = self._set_state(request.name, request.etag, State.ENABLED)
        return self._audited("EnableSecretVersion", changed)

    def disable(self, request: Any) -> Any:
        changed = self._set_state(request.name, request.etag, State.DISABLED)
        return self._audited("DisableSecretVersion", changed)

    def _audited(self, method: str, version: Any) -> Any:
        if self.audit is not None:
            self.audit.secret_change(method, version.name)
        return version

    def _set_state(self, name: str, etag: str, state: int) -> Any:
        with self._lock:
            version = self._find(name)
            if etag and etag != version.etag:
                raise EmulatorError(
                    grpc.StatusCode.ABORTED, f"The etag {etag} does not match {version.etag}."
                )
            if version.state == State.DESTROYED:
                raise _not_enabled(name, version)
            if version.state != state:
                version.state, version.etag = state, _new_etag()
            return _message(_parent(name), version)

    def _append(self, secret: _Secret, data: bytes, created: datetime, state: int) -> _Version:
        version = _Version(len(secret.versions) + 1, data, _crc32c(data), state, created)
        secret.versions.append(version)
        return version

    def _secret(self, name: str) -> _Secret:
        if name not in self._secrets:
            raise not_found(f"Secret [{name}] not found.")
        return self._secrets[name]

    def _find(self, name: str) -> _Version:
        parent, _, wanted = name.rpartition("/versions/")
        versions = self._secret(parent).versions
        if wanted == "latest":
            if not versions:
                raise not_found(f"Secret [{parent}] not found or has no versions.")
            return versions[-1]
        if not wanted.isdigit() or not 1 <= int(wanted) <= len(versions):
            raise not_found(f"Secret Version [{name}] not found.")
        return versions[int(wanted) - 1]


def _require_enabled(name: str, version: _Version) -> None:
    if version.state != State.ENABLED:
        raise _not_enabled(name, version)


def _not_enabled(name: str, version: _Version) -> EmulatorError:
    state = State(version.state).name
    return EmulatorError(
        grpc.StatusCode.FAILED_PRECONDITION, f"Secret Version [{name}] is in {state} state."
    )


def _state_filter(text: str) -> int | None:
    """The one filter the emulator understands: `state:ENABLED` (or DISABLED, DESTROYED)."""
    if not text.strip():
        return None
    key, _, value = text.strip().partition(":")
    if key.strip() == "state" and value.strip() in State.__members__:
        return int(State.__members__[value.strip()])
    raise invalid(f"filter {text!r} is not supported by the emulator; use state:ENABLED or similar")


def _message(parent: str, version: _Version) -> Any:
    message = _pb(sm.SecretVersion)(
        name=f"{parent}/versions/{version.number}", state=version.state, etag=version.etag
    )
    message.create_time.FromDatetime(version.created)
    if version.destroyed is not None:
        message.destroy_time.FromDatetime(version.destroyed)
    message.replication_status.automatic.SetInParent()
    return message


def _secret_name(project: str, secret: str) -> str:
    return f"projects/{project}/secrets/{secret}"


def _version_name(project: str, secret: str, version: str) -> str:
    return f"{_secret_name(project, secret)}/versions/{version}"


def _parent(version_name: str) -> str:
    return version_name.rpartition("/versions/")[0]
