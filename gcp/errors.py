"""The project's own Google Cloud errors, with messages a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gcp.models import Service


class GcpError(Exception):
    """A Google Cloud call failed; `str(err)` is safe to show to a person."""

    hint = "Check the bot's logs for details."

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"{what}: {detail}" if detail else what)


class NotFound(GcpError):
    hint = "Check the name, the environment (--env) and the project in the bot's config."


class PermissionDenied(GcpError):
    hint = "The bot's service account lacks a role for this; see deploy/README.md."


class Conflict(GcpError):
    """The resource changed since it was read (stale etag)."""

    hint = "Someone changed it in the meantime; look at the current state and plan again."


class AlreadyExists(GcpError):
    """A name is taken (e.g. a revision name); nothing changed since the plan because of it."""

    hint = "A resource with that name already exists; use another name, or use the existing one."


class InvalidArgument(GcpError):
    hint = "Google rejected the values; correct them and try again."


class QuotaExceeded(GcpError):
    hint = "Google is throttling the bot; wait a minute and try again."


class Unavailable(GcpError):
    """Transient: the service did not answer in time or is unavailable."""

    hint = "Google Cloud did not answer in time; try again in a moment."


class OperationFailed(GcpError):
    """Cloud Run accepted the change, then could not bring it about.

    The spec may already be changed: `service` is the service as it was read after the
    failure (None if it could not be read), so its spec and what it serves can be reported.
    """

    hint = "The change did not complete; look at the service's current state before retrying."

    def __init__(self, what: str, detail: str = "", service: Service | None = None) -> None:
        super().__init__(what, detail)
        self.service = service


def _mapping() -> tuple[tuple[type[Exception], type[GcpError]], ...]:
    from google.api_core import exceptions as gexc  # on first use, not at start-up

    return (
        (gexc.NotFound, NotFound),
        (gexc.PermissionDenied, PermissionDenied),
        (gexc.Unauthenticated, PermissionDenied),
        (gexc.Aborted, Conflict),
        (gexc.FailedPrecondition, Conflict),
        (gexc.AlreadyExists, AlreadyExists),
        (gexc.InvalidArgument, InvalidArgument),
        (gexc.OutOfRange, InvalidArgument),
        (gexc.TooManyRequests, QuotaExceeded),
        (gexc.ServiceUnavailable, Unavailable),
        (gexc.DeadlineExceeded, Unavailable),
        (gexc.RetryError, Unavailable),
        (gexc.InternalServerError, Unavailable),
    )


def translate(exc: Exception, what: str) -> GcpError:
    """Map a google-api-core exception to the project's error for the operation `what`."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, gexc.GoogleAPIError):
        exc = exc.cause  # retries ran out: report the error that kept coming back (e.g. quota)
    detail = getattr(exc, "message", None) or str(exc)
    for google_type, ours in _mapping():
        if isinstance(exc, google_type):
            return ours(what, detail)
    return GcpError(what, detail)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise any Google API error raised in the block as the project's own error."""
    from google.api_core import exceptions as gexc

    try:
        yield
    except (gexc.GoogleAPIError, gexc.RetryError) as exc:
        raise translate(exc, what) from exc
