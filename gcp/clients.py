"""Construction of the Google client libraries, shared and cheap.

`GCP_EMULATOR_HOST` switches every emulated service (Cloud Run, Logging, Monitoring, Secret
Manager) to one plaintext gRPC channel with anonymous credentials. A client given
`api_endpoint` always opens a TLS channel, so the emulator path injects transports built on
`grpc.insecure_channel` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported on first use: a cold start acknowledges Slack without them
    import grpc
    from google.api_core import retry as retries
    from google.auth.credentials import AnonymousCredentials

T = TypeVar("T")
# Who the bot is to the emulator: with no bearer token to name the caller, the emulator reads
# this header (gcp/emulator/audit.py) and logs the bot's changes under the bot's account.
PRINCIPAL_HEADER = "x-emulator-principal"
EMULATOR_PRINCIPAL = "fluxori-ops-bot@fluxori-ops.iam.gserviceaccount.com"


@dataclass(frozen=True)
class CallSettings:
    """Retry and timeout settings applied to every read; tests pass short ones."""

    timeout: float = 20.0
    initial_backoff: float = 0.25
    max_backoff: float = 4.0
    retry_deadline: float = 30.0
    operation_poll: float = 1.0

    def retry(self) -> retries.Retry:
        from google.api_core import retry as retries

        return retries.Retry(
            initial=self.initial_backoff,
            maximum=self.max_backoff,
            multiplier=2.0,
            timeout=self.retry_deadline,
            predicate=retries.if_transient_error,
        )


FAST_SETTINGS = CallSettings(
    timeout=5.0, initial_backoff=0.01, max_backoff=0.05, retry_deadline=0.5, operation_poll=0.02
)


class Clients:
    """Lazily builds each client once; safe to share between threads."""

    def __init__(
        self,
        emulator_host: str | None = None,
        settings: CallSettings | None = None,
        storage_emulator_host: str | None = None,
    ):
        self.emulator_host = emulator_host
        self.storage_emulator_host = storage_emulator_host  # Cloud Storage speaks HTTP, not gRPC
        self.settings = settings or CallSettings()
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self._channel: grpc.Channel | None = None

    def get(self, key: str, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]  # type: ignore[no-any-return]

    def build(self, client_cls: Any, transport_cls: Any) -> Any:
        """A client over the emulator's channel, or over default credentials in production."""
        if self.emulator_host is None:
            return client_cls()
        return client_cls(transport=transport_cls(channel=self.channel()))

    def channel(self) -> grpc.Channel:
        # Called under self._lock by `get`, so creation happens once.
        if self._channel is None:
            if self.emulator_host is None:
                raise RuntimeError("a channel is for the emulator; Google's clients open their own")
            import grpc

            channel = grpc.insecure_channel(self.emulator_host)
            self._channel = grpc.intercept_channel(channel, _principal_interceptor())
        return self._channel

    def credentials(self) -> AnonymousCredentials | None:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials() if self.emulator_host else None  # type: ignore[no-untyped-call]

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
            self._cache.clear()


def _principal_interceptor() -> grpc.UnaryUnaryClientInterceptor[Any, Any]:
    """Adds the emulator's principal header to every unary call."""
    import grpc

    class Principal(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            metadata = list(details.metadata or ())
            if all(key != PRINCIPAL_HEADER for key, _ in metadata):  # a caller's own one wins
                metadata.append((PRINCIPAL_HEADER, EMULATOR_PRINCIPAL))
            return continuation(details._replace(metadata=metadata), request)

    return Principal()
