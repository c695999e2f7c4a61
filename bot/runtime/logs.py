"""structlog JSON for Cloud Logging: `severity`, `message`, trace correlation, redaction.

Log events are past-tense snake_case with fields (`command_received verb=status`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SENSITIVE_KEYS = re.compile(r"token|secret|password|authorization|signature|payload_data", re.I)
_SENSITIVE_VALUES = re.compile(
    r"xox[abposr]-[\w-]+|xapp-[\w-]+|Bearer\s+[\w.\-~+/=]+|eyJ[\w-]+\.[\w-]+\.[\w-]+", re.I
)
_known_secrets: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | bytes) -> None:
    """Redact this exact value wherever it appears in a log line from now on."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    if len(text) >= 8:
        with _known_lock:
            _known_secrets.add(text)


def scrub(text: str) -> str:
    """Remove tokens, bearer credentials and registered secret values from free text."""
    with _known_lock:
        known = tuple(_known_secrets)
    for secret in known:
        text = text.replace(secret, REDACTED)
    return _SENSITIVE_VALUES.sub(REDACTED, text)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SENSITIVE_KEYS.search(key) and key not in ("secret_name", "secret", "secret_version"):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, (dict, list, tuple, Exception)):
            event[key] = (
                scrub(repr(value)) if isinstance(value, Exception) else _scrub_nested(value)
            )
    return event


def _scrub_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if _SENSITIVE_KEYS.search(str(k)) else _scrub_nested(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub_nested(v) for v in value]
    return scrub(value) if isinstance(value, str) else value


def cloud_logging_fields(
    _: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event["severity"] = event.pop("level", method).upper()
    event["message"] = event.pop("event", "")
    trace = event.pop("trace_id", None)
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if trace and project:
        event["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace}"
    elif trace:
        event["trace_id"] = trace
    return event


class _BoundLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger, which asks the level before building a debug or info line
    (filter_by_level would drop it only after a chain of calls and an exception: the bot logs
    an info line or two for each command, and at the ERROR level that was measurable)."""

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.DEBUG):
            return self._proxy_to_logger("debug", event, *args, **kw)
        return None

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if self._logger.isEnabledFor(logging.INFO):
            return self._proxy_to_logger("info", event, *args, **kw)
        return None


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging (Bolt, gunicorn, google) through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        structlog.processors.format_exc_info,
        redact,
        cloud_logging_fields,
    ]
    structlog.configure(
        # A line below the level is dropped first, before the processors build it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared[:-3],
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_BoundLogger,
        # Each module's logger is built once, not on every line; a later configure() changes
        # only the stdlib level and handler, which the cached loggers still go through.
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared[:-3],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *shared[-3:],
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "slack_bolt", "slack_sdk", "google", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get(name: str = "bot") -> Any:
    return structlog.get_logger(name)


def bind_request(request_id: str, trace_id: str = "") -> None:
    """Start a request's log context (request id and Cloud Trace id)."""
    structlog.contextvars.clear_contextvars()
    fields = {"request_id": request_id}
    if trace_id:
        fields["trace_id"] = trace_id
    structlog.contextvars.bind_contextvars(**fields)


def bind_slack(user: object, command: str) -> None:
    structlog.contextvars.bind_contextvars(slack_user=user, command=command)
