"""The WSGI application: routing, `/healthz`, and the body limit every POST route sits behind."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot.runtime import logs

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logs.get(__name__)

Route = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]

MAX_BODY = 1024 * 1024  # Slack's and Pub/Sub's requests are a few kB; nothing here needs more


def plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def read_body(environ: WSGIEnvironment) -> bytes | None:
    """The request body, or None when it is over MAX_BODY."""
    length = _declared_length(environ) or 0
    if length > MAX_BODY:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def healthz(_: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    return plain(start_response, "200 OK", "ok")


def bounded(route: Route) -> Route:
    """`route` behind MAX_BODY: at most MAX_BODY + 1 bytes are read, before anything parses
    them, whether the length is declared or the body is chunked; the route then reads the
    body from memory as usual."""

    def handle(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        declared = _declared_length(environ)
        if declared is None:
            return plain(start_response, "400 Bad Request", "Content-Length is not a number")
        if declared > MAX_BODY:
            return _too_large(environ, start_response)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        wanted = MAX_BODY + 1 if chunked else declared
        body = bytes(environ["wsgi.input"].read(wanted)) if wanted else b""
        if len(body) > MAX_BODY:
            return _too_large(environ, start_response)
        if len(body) < declared:
            return plain(start_response, "400 Bad Request", "the request body ended early")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return route(environ, start_response)

    return handle


def _declared_length(environ: WSGIEnvironment) -> int | None:
    text = environ.get("CONTENT_LENGTH") or "0"
    return int(text) if text.isdigit() else None


def _too_large(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    log.warning("request_too_large", path=environ.get("PATH_INFO", ""))
    return plain(start_response, "413 Content Too Large", f"request body over {MAX_BODY} bytes")


def wsgi_app(slack_events: Route, post_routes: dict[str, Route] | None = None) -> WSGIApplication:
    """Route by path; every request gets a request id and the Cloud Trace id in its logs."""
    routes = {"/slack/events": slack_events, **(post_routes or {})}
    posts = {path: bounded(route) for path, route in routes.items()}

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
