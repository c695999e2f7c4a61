"""Secret Manager v1, as the bot uses it: versions numbered 1..N, enable/disable, add with a
CRC32C check, access (with the `latest` alias) returning the payload and its CRC32C."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    service_handler,
)

ENABLED, DISABLED = sm.SecretVersion.State.ENABLED, sm.SecretVersion.State.DISABLED


def _pb(cls: Any) -> Any:  # the protobuf class behind a proto-plus message
    return cls.pb()


@dataclass
class _Version:
    number: int
    payload: bytes
    state: int
    created: datetime


class SecretManager:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._secrets: dict[str, list[_Version]] = {}  # projects/P/secrets/S -> versions

    # --- state, for the seed, tests and the sandbox

    def seed_fluxori(self) -> None:
        created = self.clock() - timedelta(days=90)
        for project in fluxori.PROJECTS:
            name = f"projects/{project}/secrets/{fluxori.SECRET}"
            self.create_secret(name)
            for number, state in ((1, DISABLED), (2, ENABLED), (3, ENABLED)):
                self._add(
                    name, secrets.token_bytes(64), created + timedelta(days=30 * number), state
                )

    def create_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.setdefault(name, [])

    def versions(self, project: str, secret: str) -> list[tuple[str, str]]:
        """(version, state) newest first."""
        with self._lock:
            found = self._secrets.get(f"projects/{project}/secrets/{secret}", [])
            return [(str(v.number), sm.SecretVersion.State(v.state).name) for v in reversed(found)]

    def payload(self, project: str, secret: str, version: str) -> bytes:
        with self._lock:
            return self._find(f"projects/{project}/secrets/{secret}/versions/{version}").payload

    def _add(self, name: str, payload: bytes, created: datetime, state: int = ENABLED) -> _Version:
        with self._lock:
            versions = self._secrets[name]
            version = _Version(len(versions) + 1, payload, state, created)
            versions.append(version)
            return version

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
            self._secret(request.name)
        return _pb(sm.Secret)(name=request.name)

    def list_versions(self, request: Any) -> Any:
        if request.filter:
            raise invalid(f"filter {request.filter!r} is not supported by the emulator")
        with self._lock:
            found = list(reversed(self._secret(request.parent)))
        start = int(request.page_token or 0)
        size = request.page_size or 25
        page = found[start : start + size]
        token = str(start + size) if start + size < len(found) else ""
        return _pb(sm.ListSecretVersionsResponse)(
            versions=[self._message(request.parent, v) for v in page],
            next_page_token=token,
            total_size=len(found),
        )

    def get_version(self, request: Any) -> Any:
        with self._lock:
            version = self._find(request.name)
        return self._message(request.name.rsplit("/versions/", 1)[0], version)

    def add_version(self, request: Any) -> Any:
        data = bytes(request.payload.data)
        if request.payload.HasField(
            "data_crc32c"
        ) and request.payload.data_crc32c != google_crc32c.value(data):
            raise invalid("data_crc32c mismatch: the payload was corrupted in transit")
        with self._lock:
            self._secret(request.parent)
        version = self._add(request.parent, data, self.clock())
        return self._message(request.parent, version)

    def access(self, request: Any) -> Any:
        with self._lock:
            version = self._find(request.name)
        if version.state != ENABLED:
            state = sm.SecretVersion.State(version.state).name
            raise EmulatorError(
                grpc.StatusCode.FAILED_PRECONDITION, f"{request.name} is in {state} state."
            )
        parent = request.name.rsplit("/versions/", 1)[0]
        payload = _pb(sm.SecretPayload)(
            data=version.payload, data_crc32c=google_crc32c.value(version.payload)
        )
        return _pb(sm.AccessSecretVersionResponse)(
            name=f"{parent}/versions/{version.number}", payload=payload
        )

    def enable(self, request: Any) -> Any:
        return self._set_state(request.name, ENABLED)

    def disable(self, request: Any) -> Any:
        return self._set_state(request.name, DISABLED)

    def _set_state(self, name: str, state: int) -> Any:
        with self._lock:
            version = self._find(name)
            version.state = state
        return self._message(name.rsplit("/versions/", 1)[0], version)

    def _secret(self, name: str) -> list[_Version]:
        if name not in self._secrets:
            raise not_found(f"Secret [{name}] not found or has no versions.")
        return self._secrets[name]

    def _find(self, name: str) -> _Version:
        parent, _, wanted = name.rpartition("/versions/")
        versions = self._secret(parent)
        if wanted == "latest":
            enabled = [v for v in versions if v.state == ENABLED]
            if not enabled:
                raise not_found(f"{parent} has no enabled version.")
            return enabled[-1]
        if not wanted.isdigit() or not 1 <= int(wanted) <= len(versions):
            raise not_found(f"Secret Version [{name}] not found.")
        return versions[int(wanted) - 1]

    @staticmethod
    def _message(parent: str, version: _Version) -> Any:
        message = _pb(sm.SecretVersion)(
            name=f"{parent}/versions/{version.number}",
            state=version.state,
            etag=f'"{version.number}-{version.state}"',
        )
        message.create_time.FromDatetime(version.created)
        return message
