"""`POST /slack/events`: Slack's signature, then replays, then the payload's shape, then Bolt.

Bolt checks signatures too, but only after parsing the body, and it runs a replayed request
(the same signed bytes sent again inside Slack's five minutes) a second time. Here a request
is verified first, so unsigned junk is never stored; a verified request's signature is then
recorded in the action store, whose `first_seen` is atomic across instances, and a repeat is
answered 200 with an empty body (Slack shows no error) and does nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.runtime import logs
from bot.runtime.slack_shapes import FORM, interaction_problem
from bot.runtime.web import Route, plain, read_body
from bot.store.model import utcnow

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logs.get(__name__)

FirstSeen = Callable[[str, datetime], bool]


def slack_route(
    app: App, signing_secret: str, first_seen: FirstSeen, now: Callable[[], datetime] = utcnow
) -> Route:
    """The route in front of Bolt. Expects the body limit in front of it (web.bounded)."""
    verifier = SignatureVerifier(signing_secret)
    bolt = SlackRequestHandler(app)

    def handle(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = read_body(environ) or b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not _signed(verifier, body, timestamp, signature):
            log.warning("slack_request_unsigned")
            return plain(start_response, "401 Unauthorized", "missing or invalid Slack signature")
        problem = interaction_problem(environ.get("CONTENT_TYPE", ""), body)
        if problem:
            log.warning("slack_request_malformed", reason=problem)
            return plain(start_response, "400 Bad Request", problem)
        try:
            first = first_seen(f"slack-request:{signature}", now())
        except Exception as err:  # the store is down: refuse rather than risk running twice
            log.warning("slack_replay_check_failed", error=type(err).__name__)
            return plain(start_response, "503 Service Unavailable", "cannot check for replays")
        if not first:
            log.warning("slack_request_replayed")
            start_response("200 OK", [("Content-Length", "0")])
            return []
        body = _readable_by_bolt(body, environ, verifier)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return _bolt(bolt, environ, start_response)

    return handle


def _signed(verifier: SignatureVerifier, body: bytes, timestamp: str, signature: str) -> bool:
    if not timestamp.isdigit() or not signature:
        return False
    return verifier.is_valid(body, timestamp, signature)


def _readable_by_bolt(body: bytes, environ: WSGIEnvironment, verifier: SignatureVerifier) -> bytes:
    """slack-bolt reads any form body containing the word "payload" as an interaction
    (`slack_bolt.request.internals.parse_body`), so `/ops logs payload` would reach no
    listener. Such a body, verified above, is re-encoded with the word's first letter escaped
    (the same fields once decoded) and signed again for Bolt's own check."""
    if not environ.get("CONTENT_TYPE", "").startswith(FORM) or b"payload" not in body:
        return body
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    if any(name == "payload" for name, _ in fields):
        return body
    escaped = urlencode(fields).replace("payload", "%70ayload")
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    environ["HTTP_X_SLACK_SIGNATURE"] = verifier.generate_signature(
        timestamp=timestamp, body=escaped
    )
    return escaped.encode()


def _bolt(
    bolt: SlackRequestHandler, environ: WSGIEnvironment, start: StartResponse
) -> Iterable[bytes]:
    """Bolt parses the body before any listener runs; one it cannot read is a 400, not a 500."""
    try:
        return bolt(environ, start)
    except Exception as err:  # raised while reading the request, before any listener ran
        log.warning("slack_request_unreadable", error=type(err).__name__)
        return plain(start, "400 Bad Request", "not a Slack request this app can read")
