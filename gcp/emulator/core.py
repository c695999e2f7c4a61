"""The emulator's plumbing: method registration, fault injection and error replies.

Each emulated Google service is a class with a `methods()` mapping of RPC name to a
`Method`; `service_handler` turns it into a grpc generic handler that applies injected
faults (a status code or a delay for the next N calls) before the real behaviour.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

if TYPE_CHECKING:
    Handler = grpc.GenericRpcHandler[Any, Any]
else:
    Handler = grpc.GenericRpcHandler

# The metadata of the call being answered, for behaviour that depends on the caller (audit logs).
_CALL_METADATA: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "call_metadata", default=None
)


def call_metadata() -> Mapping[str, str]:
    """The request metadata (lower-case keys) of the RPC being answered on this thread."""
    return _CALL_METADATA.get() or {}


class EmulatorError(Exception):
    """Raised by emulated behaviour; answered as a gRPC status with this message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Method:
    """One unary RPC: the protobuf request class and the function that answers it."""

    request: type[Message]
    handler: Callable[[Any], Message]


@dataclass
class Fault:
    code: grpc.StatusCode | None
    delay: float
    remaining: int
    message: str


class Faults:
    """Makes the next N calls of a method fail with a status, or take a chosen time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def inject(
        self,
        method: str,
        *,
        code: grpc.StatusCode | None = None,
        delay: float = 0.0,
        times: int = 1,
        message: str = "injected fault",
    ) -> None:
        """`method` is the RPC name, e.g. "UpdateService" or "ListLogEntries"."""
        with self._lock:
            self._faults.setdefault(method, []).append(Fault(code, delay, times, message))

    def take(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method, [])
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def service_handler(service_name: str, methods: Mapping[str, Method], faults: Faults) -> Handler:
    """A grpc handler for `service_name` (e.g. "google.cloud.run.v2.Services")."""
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            _answer(name, method, faults),
            request_deserializer=method.request.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
        for name, method in methods.items()
    }
    return grpc.method_handlers_generic_handler(service_name, handlers)


def _answer(
    name: str, method: Method, faults: Faults
) -> Callable[[Message, grpc.ServicerContext], Message]:
    def answer(request: Message, context: grpc.ServicerContext) -> Message:
        fault = faults.take(name)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)  # the fault being emulated is a slow answer
            if fault.code is not None:
                context.abort(fault.code, fault.message)
        metadata = {key.lower(): str(value) for key, value in context.invocation_metadata()}
        token = _CALL_METADATA.set(metadata)
        try:
            return method.handler(request)
        except EmulatorError as err:
            context.abort(err.code, err.message)
            raise  # unreachable: abort raises
        finally:
            _CALL_METADATA.reset(token)

    return answer


def invalid(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> EmulatorError:
    return EmulatorError(grpc.StatusCode.NOT_FOUND, message)


@dataclass(frozen=True)
class RevisionHealth:
    """How a revision behaves under traffic; Monitoring derives its time series from it."""

    error_rate: float  # fraction of requests answered 5xx
    latency_ms: float  # typical (median) request latency
    requests_per_second: float = 20.0


class TrafficSource:
    """What Monitoring needs of Cloud Run's state (implemented by `CloudRun`)."""

    def service_names(self) -> list[str]:
        """Full names: projects/P/locations/R/services/S."""
        raise NotImplementedError

    def serving_split(self, service_name: str) -> dict[str, int]:
        """Percent of traffic per revision short name, as traffic_statuses report it."""
        raise NotImplementedError

    def revision_health(self, service_name: str, revision: str) -> RevisionHealth:
        raise NotImplementedError

    def split_changed_at(self, service_name: str) -> datetime | None:
        """When the current serving split took effect, if known.

        Monitoring dates a traffic change by it; without it, a change counts from the first
        ListTimeSeries that sees it.
        """
        return None


def paginate(items: list[Any], size: int, token: str, default_size: int) -> tuple[list[Any], str]:
    """One page of `items` and the next page token ("" on the last page)."""
    if size < 0:
        raise invalid(f"page_size {size} is negative")
    offset = 0
    if token:
        match = re.fullmatch(r"offset-(\d+)", token)
        if match is None:
            raise invalid(f"page_token {token!r} was not issued by this server")
        offset = int(match.group(1))
    size = size or default_size
    more = offset + size < len(items)
    return items[offset : offset + size], f"offset-{offset + size}" if more else ""
