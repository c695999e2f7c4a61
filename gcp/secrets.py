"""Secret Manager v1: versions of a secret, adding one, enabling/disabling, verifying access.

A payload never appears in an exception message, a repr or a log line: errors raised while a
payload is in flight carry only the operation and the secret's name.
"""

from __future__ import annotations

from typing import Any

import google_crc32c
from google.api_core import exceptions as gexc
from google.cloud import secretmanager_v1
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from gcp.clients import Clients
from gcp.errors import GcpError, translate, translated
from gcp.models import SecretVersion


class ChecksumMismatch(GcpError):
    hint = "The payload was corrupted in transit; try again."


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


class SecretManagerAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _client(self) -> Any:
        return self._clients.get(
            "secretmanager",
            lambda: self._clients.build(
                secretmanager_v1.SecretManagerServiceClient, SecretManagerServiceGrpcTransport
            ),
        )

    def list_versions(self, project: str, secret: str) -> list[SecretVersion]:
        """Newest first."""
        settings = self._clients.settings
        with translated(f"list versions of secret {secret} in {project}"):
            pager = self._client().list_secret_versions(
                parent=_secret(project, secret), retry=settings.retry(), timeout=settings.timeout
            )
            versions = [to_version(v) for v in pager]
        return sorted(versions, key=_number, reverse=True)

    def add_version(self, project: str, secret: str, payload: bytes) -> SecretVersion:
        """Not retried: a blind retry could add two versions."""
        what = f"add a version to secret {secret} in {project}"
        try:
            version = self._client().add_secret_version(
                parent=_secret(project, secret),
                payload={"data": payload, "data_crc32c": crc32c(payload)},
                timeout=self._clients.settings.timeout,
            )
        except (gexc.GoogleAPIError, gexc.RetryError) as exc:
            raise _payload_free(exc, what) from None
        return to_version(version)

    def disable_version(self, project: str, secret: str, version: str) -> SecretVersion:
        with translated(f"disable version {version} of secret {secret} in {project}"):
            return to_version(
                self._client().disable_secret_version(name=_version(project, secret, version))
            )

    def enable_version(self, project: str, secret: str, version: str) -> SecretVersion:
        with translated(f"enable version {version} of secret {secret} in {project}"):
            return to_version(
                self._client().enable_secret_version(name=_version(project, secret, version))
            )

    def access_version(self, project: str, secret: str, version: str = "latest") -> bytes:
        """For verification only; the caller must not log or show what it returns."""
        what = f"access version {version} of secret {secret} in {project}"
        settings = self._clients.settings
        try:
            response = self._client().access_secret_version(
                name=_version(project, secret, version),
                retry=settings.retry(),
                timeout=settings.timeout,
            )
        except (gexc.GoogleAPIError, gexc.RetryError) as exc:
            raise _payload_free(exc, what) from None
        data = bytes(response.payload.data)
        if response.payload.data_crc32c and crc32c(data) != response.payload.data_crc32c:
            raise ChecksumMismatch(what, "the payload's CRC32C does not match")
        return data


def _payload_free(exc: Exception, what: str) -> GcpError:
    """The project's error for `exc`, keeping only its kind: no server text is echoed."""
    error = translate(exc, what)
    return type(error)(what, type(exc).__name__)


def to_version(pb: Any) -> SecretVersion:
    name = str(pb.name)
    parts = name.split("/")
    state = secretmanager_v1.SecretVersion.State(pb.state).name
    created = pb.create_time if pb.create_time else None
    return SecretVersion(secret=parts[3], version=parts[5], state=state, create_time=created)


def _secret(project: str, secret: str) -> str:
    return f"projects/{project}/secrets/{secret}"


def _version(project: str, secret: str, version: str) -> str:
    return f"{_secret(project, secret)}/versions/{version}"


def _number(version: SecretVersion) -> int:
    return int(version.version) if version.version.isdigit() else -1
