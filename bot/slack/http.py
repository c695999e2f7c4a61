"""A Slack Web API client that keeps its connections open.

slack_sdk's WebClient sends each call through `urllib.request.urlopen`, which opens a new
connection (and, over https, a new TLS session) per call and closes it after the answer.
`KeepAliveWebClient` replaces only that last step, `_perform_urllib_http_request_internal`
(slack_sdk 3.x has no public transport hook): one `http.client` connection per thread and
host, reused while the server keeps it open. Everything above it is slack_sdk's own: the
request it built, its retry handlers, `SlackResponse`, and `SlackApiError` for a non-2xx
answer, which it gets as urllib's `HTTPError` with the status, headers (Retry-After on a 429)
and body, exactly as urlopen raises it. Through a proxy (`proxy=` or the HTTPS_PROXY family
of variables, which slack_sdk reads) the call goes through slack_sdk's urllib path unchanged.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

Origin = tuple[str, str, int | None]  # scheme, host, port


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient whose HTTP calls reuse one connection per thread and host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections = _ThreadConnections()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy:
            return dict(super()._perform_urllib_http_request_internal(url, req))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SlackRequestError(f"Invalid URL detected: {url}")
        origin: Origin = (parts.scheme, parts.hostname, parts.port)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection = self._send(origin, req, target)
            response = connection.getresponse()
            body = response.read()  # all of it, so the connection can carry the next call
        except BaseException:
            self._connections.drop(origin)  # half-read or timed out: never reused
            raise
        if response.will_close:
            self._connections.drop(origin)
        return _result(url, response, body)

    def _send(self, origin: Origin, req: Request, target: str) -> http.client.HTTPConnection:
        """Send on this thread's connection. Failing to send on one that carried a call before
        means the server closed it meanwhile without reading this request, so it is sent
        once more on a new one (RFC 9112 section 9.3.1: the request was never applied).
        Errors connecting or sending are URLError, as urlopen raises them (slack_sdk's
        ConnectionErrorRetryHandler retries those)."""
        connection, reused = self._connections.take(origin, self.timeout, self.ssl)
        try:
            _request(connection, req, target)
        except OSError as err:
            if not reused:
                raise URLError(err) from err
            self._connections.drop(origin)
            connection, _ = self._connections.take(origin, self.timeout, self.ssl)
            try:
                _request(connection, req, target)
            except OSError as again:
                raise URLError(again) from again
        return connection


def _request(connection: http.client.HTTPConnection, req: Request, target: str) -> None:
    connection.request(req.get_method(), target, body=req.data, headers=dict(req.header_items()))


def _result(url: str, response: http.client.HTTPResponse, body: bytes) -> dict[str, Any]:
    """What slack_sdk's urllib step returns for a 2xx; HTTPError for anything else."""
    if not 200 <= response.status < 300:
        raise HTTPError(url, response.status, response.reason, response.msg, io.BytesIO(body))
    headers = response.msg
    if headers.get_content_type() == "application/gzip":  # admin.analytics.getFile
        return {"status": response.status, "headers": headers, "body": body}
    charset = headers.get_content_charset() or "utf-8"
    return {"status": response.status, "headers": headers, "body": body.decode(charset)}


class _ThreadConnections:
    """Each thread's open connections, by origin."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _mine(self) -> dict[Origin, http.client.HTTPConnection]:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        mine: dict[Origin, http.client.HTTPConnection] = self._local.connections
        return mine

    def take(
        self, origin: Origin, timeout: float, context: ssl.SSLContext | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to `origin`, and whether it carried a call before (a new
        one connects on its first request)."""
        mine = self._mine()
        connection = mine.get(origin)
        if connection is not None and _closed_by_server(connection):
            connection.close()
        if connection is None:
            connection = _connect(origin, timeout, context)
            mine[origin] = connection
        reused = connection.sock is not None
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection, reused

    def drop(self, origin: Origin) -> None:
        connection = self._mine().pop(origin, None)
        if connection is not None:
            connection.close()


def _connect(
    origin: Origin, timeout: float, context: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    scheme, host, port = origin
    if scheme == "https":
        # The default context verifies the certificate and the host name, as urlopen's does.
        verified = context or ssl.create_default_context()
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=verified)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed (or broken) by the server:
    between answers a server sends nothing else."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return bool(readable)
