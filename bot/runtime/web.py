"""The WSGI application: `/slack/events` (Bolt), `/healthz`, and the push routes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.runtime import logs

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logs.get(__name__)

Route = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]


def plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


MAX_BODY = 1024 * 1024


def read_body(environ: WSGIEnvironment) -> bytes | None:
    """The request body, or None when it is over MAX_BODY."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def healthz(_: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    return plain(start_response, "200 OK", "ok")


def _guarded(bolt: Route) -> Route:
    """Bolt parses the body before checking it; a malformed one must be a 400, not a 500."""

    def handle(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return bolt(environ, start_response)
        except Exception as err:  # raised while reading the request, before any listener ran
            log.warning("slack_request_unreadable", error=type(err).__name__)
            return plain(start_response, "400 Bad Request", "not a Slack request this app can read")

    return handle


def wsgi_app(app: App, post_routes: dict[str, Route] | None = None) -> WSGIApplication:
    """Route by path; every request gets a request id and the Cloud Trace id in its logs."""
    posts: dict[str, Route] = {"/slack/events": _guarded(SlackRequestHandler(app))}
    posts.update(post_routes or {})

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        trace = environ.get("HTTP_X_CLOUD_TRACE_CONTEXT", "").split("/")[0]
        logs.bind_request(environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex, trace)
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/healthz" and method in ("GET", "HEAD"):
            return healthz(environ, start_response)
        if path in posts:
            if method != "POST":
                return plain(start_response, "405 Method Not Allowed", f"{path} takes POST")
            return posts[path](environ, start_response)
        return plain(start_response, "404 Not Found", f"no route for {path}")

    return application
