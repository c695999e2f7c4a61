"""Secret Manager v1: versions of a secret, adding one, enabling/disabling, verifying access.

A payload never appears in an exception message, a repr or a log line. Calls that carry one
(add, access) run through `_payload_free`: whatever fails, the error raised names only the
operation, the secret and the status, and chains nothing that could hold the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import google_crc32c
from google.api_core import exceptions as gexc
from google.cloud import secretmanager_v1
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from gcp.clients import Clients
from gcp.errors import Conflict, GcpError, InvalidArgument, translate, translated
from gcp.models import SecretVersion

T = TypeVar("T")
Explained = Mapping[str, tuple[type[GcpError], str]]  # gRPC status -> error, meaning


class ChecksumMismatch(GcpError):
    hint = "The payload was corrupted in transit; try again."


class VersionNotEnabled(Conflict):
    """FAILED_PRECONDITION on access: the version (or `latest`, the newest) is not ENABLED."""

    hint = (
        "Enable that version, or use an enabled one; `latest` is the newest version whatever"
        " its state."
    )


ADD_ERRORS: Explained = {
    "INVALID_ARGUMENT": (InvalidArgument, "the payload is over 64 KiB or its CRC32C mismatched"),
}
ACCESS_ERRORS: Explained = {
    "FAILED_PRECONDITION": (VersionNotEnabled, "that version is disabled or destroyed"),
}


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
        """Not retried: if an attempt succeeded unseen, a retry would add a second version."""
        if not isinstance(payload, bytes):
            raise TypeError("payload must be bytes")  # without the value: it is a secret
        added = _payload_free(
            f"add a version to secret {secret} in {project}",
            lambda: self._client().add_secret_version(
                parent=_secret(project, secret),
                payload={"data": payload, "data_crc32c": crc32c(payload)},
                retry=None,
                timeout=self._clients.settings.timeout,
            ),
            ADD_ERRORS,
        )
        return to_version(added)

    def disable_version(self, project: str, secret: str, version: str) -> SecretVersion:
        what = f"disable version {version} of secret {secret} in {project}"
        return self._set_state(what, "disable_secret_version", _version(project, secret, version))

    def enable_version(self, project: str, secret: str, version: str) -> SecretVersion:
        what = f"enable version {version} of secret {secret} in {project}"
        return self._set_state(what, "enable_secret_version", _version(project, secret, version))

    def _set_state(self, what: str, method: str, name: str) -> SecretVersion:
        # Setting a state is idempotent, so these may be retried like reads.
        settings = self._clients.settings
        with translated(what):
            call = getattr(self._client(), method)
            return to_version(call(name=name, retry=settings.retry(), timeout=settings.timeout))

    def access_version(self, project: str, secret: str, version: str = "latest") -> bytes:
        """For verification only; the caller must not log or show what it returns."""
        what = f"access version {version} of secret {secret} in {project}"
        settings = self._clients.settings
        return _payload_free(
            what,
            lambda: _verified(
                what,
                self._client().access_secret_version(
                    name=_version(project, secret, version),
                    retry=settings.retry(),
                    timeout=settings.timeout,
                ),
            ),
            ACCESS_ERRORS,
        )


def _verified(what: str, response: Any) -> bytes:
    data = bytes(response.payload.data)
    if "data_crc32c" in response.payload and crc32c(data) != response.payload.data_crc32c:
        raise ChecksumMismatch(what, "the payload's CRC32C does not match its data")
    return data


def _payload_free(what: str, call: Callable[[], T], explained: Explained | None = None) -> T:
    """`call()`, or the project's error for its failure, carrying only the status.

    `explained` maps a gRPC status name to the error (and detail) that says what it means for
    this call. The error is raised outside the `except` block so that it has no `__context__`:
    the original exception, and the request its frames reference, is dropped, not chained.
    """
    try:
        return call()
    except GcpError as exc:
        error: GcpError = exc
    except (gexc.GoogleAPIError, gexc.RetryError) as exc:
        error = _status_only(exc, what, explained or {})
    except Exception as exc:  # any local failure too, e.g. protobuf echoing a bad value
        error = GcpError(
            what, f"{type(exc).__name__} (details withheld: the call carried a secret)"
        )
    raise error


def _status_only(exc: Exception, what: str, explained: Explained) -> GcpError:
    status = _status(exc)
    if status in explained:
        kind, meaning = explained[status]
        return kind(what, f"{status}: {meaning}")
    return type(translate(exc, what))(what, status)


def _status(exc: Exception) -> str:
    if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, Exception):
        exc = exc.cause
    code = getattr(exc, "grpc_status_code", None)
    return str(code.name) if code is not None else type(exc).__name__


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
