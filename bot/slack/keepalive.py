"""A Slack Web API client that keeps its connections open.

slack_sdk's WebClient sends each call through `urllib.request.urlopen`, which opens a new
connection (and, over https, a new TLS session) per call, closes it after the answer, and
parses the answer's headers with the `email` package: profiled in the bot's jobs, that was
most of the CPU of a `chat.postMessage`. `KeepAliveWebClient` replaces only that last step,
`_perform_urllib_http_request_internal` (slack_sdk 3.x has no public transport hook): one
connection per thread and host, reused while the server keeps it open, speaking the small
part of HTTP/1.1 the Web API needs (RFC 9112: a POST with a length, an answer with a length,
chunked, or until close). Everything above it is slack_sdk's own: the request it built, its
retry handlers, `SlackResponse`, and `SlackApiError` for a non-2xx answer, which it gets as
urllib's `HTTPError` with the status, headers (Retry-After on a 429) and body, as urlopen
raises it. Through a proxy (`proxy=` or the HTTPS_PROXY family of variables, which slack_sdk
reads) the call goes through slack_sdk's urllib path unchanged.

A call with a JSON body (chat.postMessage, chat.update, views.*: the bot's every post) takes
a shorter way to the same result: the request is written straight from the arguments, and a
2xx answer becomes slack_sdk's `SlackResponse` (`SlackApiError` when not ok) without
slack_sdk's request objects, which cost as much CPU as the call itself. A 2xx answer is final
for slack_sdk's own retry handlers too (they retry connection errors, 429s and 5xx), so the
shortcut is taken only while the client has no other kind. Any other outcome of that attempt
(an error answer, a broken connection) is handed to slack_sdk's own loop as its first
attempt: its retry handlers decide, and nothing is sent twice.
"""

from __future__ import annotations

import email.parser
import http.client
import io
import json as jsonlib
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web.slack_response import SlackResponse

Origin = tuple[str, str, int]  # scheme, host, port
_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # never in a request target (http.client's rule too)
_LINE_BREAK = re.compile(r"[\r\n]")  # never in a header: it would start another one
_SET_HERE = ("host", "content-length", "connection", "accept-encoding")
MAX_LINE = 64 * 1024  # a status or header line longer than this is not an answer from Slack
JUST_ANSWERED = 0.05  # seconds: see _Connection.closed_by_server
# Retry handlers that never retry a 2xx answer (slack_sdk's built-in ones).
_ERRORS_ONLY = (ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler)
_JSON = "application/json;charset=utf-8"


class _JsonPost(NamedTuple):
    url: str
    origin: Origin
    head: bytes  # the request line and headers, but for the body's length
    headers: dict[str, str]


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient whose HTTP calls reuse one connection per thread and host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections = _ThreadConnections()
        self._first_attempt = threading.local()  # the shortcut's outcome, for slack_sdk's loop
        self._posts: dict[tuple[Any, ...], _JsonPost] = {}

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        json: dict[str, Any] | None = None,
        **others: Any,
    ) -> Any:
        if json is None or not self._shortcut_applies(http_verb, json, others):
            return super().api_call(api_method, http_verb=http_verb, json=json, **others)
        url, origin, head, headers = self._json_post(api_method)
        request = _with_body(head, jsonlib.dumps(json).encode())
        try:
            answer = self._exchange(origin, request)
        except Exception as err:
            return self._replay(err, api_method, json)
        if not 200 <= answer.status < 300 or not answer.body.startswith(b"{"):
            return self._replay(answer, api_method, json)
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url=url,
            req_args={
                "headers": dict(headers),
                "data": {},
                "params": {},
                "files": None,
                "json": json,
            },
            data=jsonlib.loads(answer.body.decode()),  # Slack answers in UTF-8
            headers=answer.headers,
            status_code=answer.status,
        )
        return response.validate()  # type: ignore[no-untyped-call]

    def _json_post(self, api_method: str) -> _JsonPost:
        """Where a JSON call to `api_method` goes and its request head, kept: each post would
        otherwise parse the same URL and write the same head again. The key holds everything
        the head is made of, so a changed token or header makes a new one."""
        key = (self.base_url, api_method, self.token, *self.headers.items())
        post = self._posts.get(key)
        if post is None:
            url = urljoin(self.base_url, api_method.lstrip("/"))
            origin, target = _origin(url)
            headers = {
                **self.headers,
                "Authorization": f"Bearer {self.token}",
                "Content-Type": _JSON,
            }
            post = _JsonPost(url, origin, _request_head("POST", headers, origin, target), headers)
            self._posts[key] = post
        return post

    def _replay(self, outcome: _Answer | Exception, api_method: str, json: dict[str, Any]) -> Any:
        """slack_sdk's own call, whose first attempt is the one the shortcut made."""
        self._first_attempt.outcome = outcome
        try:
            return super().api_call(api_method, json=json)
        finally:
            self._first_attempt.outcome = None

    def _shortcut_applies(
        self, http_verb: str, json: dict[str, Any], others: dict[str, Any]
    ) -> bool:
        """A plain JSON POST with the bot's token, on a client whose retry handlers never
        retry a 2xx answer."""
        return (
            http_verb == "POST"
            and "token" not in json
            and not any(others.values())
            and bool(self.token)
            and not self.proxy
            and not self.default_params
            and all(isinstance(h, _ERRORS_ONLY) for h in self.retry_handlers)
        )

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        outcome = getattr(self._first_attempt, "outcome", None)
        if outcome is not None:  # the shortcut made this attempt already
            self._first_attempt.outcome = None
            if isinstance(outcome, Exception):
                raise outcome
            answer: _Answer = outcome
            return answer.result(url)
        if self.proxy:
            return dict(super()._perform_urllib_http_request_internal(url, req))
        origin, target = _origin(url)
        body = req.data if isinstance(req.data, bytes) else b""
        head = dict(req.header_items())
        request = _request_bytes(req.get_method(), body, head, origin, target)
        return self._exchange(origin, request).result(url)

    def _exchange(self, origin: Origin, request: bytes) -> _Answer:
        try:
            answer = self._send(origin, request).receive()
        except BaseException:
            self._connections.drop(origin)  # half-read or timed out: never reused
            raise
        if answer.closes:
            self._connections.drop(origin)
        return answer

    def _send(self, origin: Origin, request: bytes) -> _Connection:
        """Send on this thread's connection. Failing to send on one that carried a call before
        means the server closed it meanwhile without reading this request, so it is sent
        once more on a new one (RFC 9112 section 9.3.1: the request was never applied).
        Errors connecting or sending are URLError, as urlopen raises them (slack_sdk's
        ConnectionErrorRetryHandler retries those)."""
        reused = False
        try:
            connection = self._connections.take(origin, self.timeout, self.ssl)
            reused = connection.calls > 0
            connection.send(request)
            return connection
        except OSError as err:
            self._connections.drop(origin)
            if not reused:
                raise URLError(err) from err
        try:
            connection = self._connections.take(origin, self.timeout, self.ssl)
            connection.send(request)
            return connection
        except OSError as err:
            raise URLError(err) from err


def _origin(url: str) -> tuple[Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SlackRequestError(f"Invalid URL detected: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target


def _request_bytes(
    method: str, body: bytes, fields: dict[str, str], origin: Origin, target: str
) -> bytes:
    """The request as one write: head and body together (no wait on Nagle's algorithm)."""
    return _with_body(_request_head(method, fields, origin, target), body)


def _request_head(method: str, fields: dict[str, str], origin: Origin, target: str) -> bytes:
    """The request line and headers, all but the body's length and the blank line after."""
    scheme, host, port = origin
    headers = {
        "Host": host if port == (443 if scheme == "https" else 80) else f"{host}:{port}",
        "Accept-Encoding": "identity",
        **{k: v for k, v in fields.items() if k.lower() not in _SET_HERE},
    }
    if _CONTROL.search(target) or any(_LINE_BREAK.search(f"{k}{v}") for k, v in headers.items()):
        raise ValueError("a control character in the request line or a header")
    head = f"{method} {target} HTTP/1.1\r\n"
    return (head + "".join(f"{name}: {value}\r\n" for name, value in headers.items())).encode(
        "latin-1"
    )


def _with_body(head: bytes, body: bytes) -> bytes:
    return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)


@dataclass
class _Answer:
    status: int
    reason: str
    head: list[bytes]  # the header lines as received
    headers: dict[str, str]  # by name as sent; the last of repeated names
    body: bytes
    closes: bool

    def __post_init__(self) -> None:
        self._by_lower_name = {k.lower(): v for k, v in self.headers.items()}

    def header(self, name: str) -> str:
        return self._by_lower_name.get(name.lower(), "")

    def result(self, url: str) -> dict[str, Any]:
        """What slack_sdk's urllib step returns for a 2xx; HTTPError for anything else."""
        if not 200 <= self.status < 300:
            raw = b"".join(self.head).decode("iso-8859-1")
            message = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(raw)
            raise HTTPError(url, self.status, self.reason, message, io.BytesIO(self.body))
        kind, _, params = self.header("Content-Type").partition(";")
        if kind.strip().lower() == "application/gzip":  # admin.analytics.getFile
            return {"status": self.status, "headers": self.headers, "body": self.body}
        return {"status": self.status, "headers": self.headers, "body": self._text(params)}

    def _text(self, params: str) -> str:
        charset = "utf-8"
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        return self.body.decode(charset)


class _Connection:
    """One open connection: requests out, answers in (RFC 9112 sections 4 to 7)."""

    def __init__(self, origin: Origin, timeout: float, context: ssl.SSLContext | None) -> None:
        scheme, host, port = origin
        sock = socket.create_connection((host, port), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            # The default context verifies the certificate and the host name, as urlopen's.
            verified = context or ssl.create_default_context()
            sock = verified.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.calls = 0
        self.answered_at = 0.0  # time.monotonic() of the last answer read

    def closed_by_server(self) -> bool:
        """Between answers a server sends nothing: anything readable on an idle connection is
        its end (or garbage), so the connection is not used again. One that answered within
        JUST_ANSWERED seconds is taken as open without asking the kernel: servers close idle
        connections after seconds, and announce an earlier close (`Connection: close`)."""
        if time.monotonic() - self.answered_at < JUST_ANSWERED:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def send(self, request: bytes) -> None:
        self.sock.sendall(request)
        self.calls += 1

    def receive(self) -> _Answer:
        answer = self._answer()
        self.answered_at = time.monotonic()
        return answer

    def _answer(self) -> _Answer:
        status, reason, version, head = self._status_and_head()
        while 100 <= status < 200:  # 100 Continue and the like come before the answer
            status, reason, version, head = self._status_and_head()
        headers = _parse_head(head)
        answer = _Answer(status, reason, head, headers, b"", closes=version == "HTTP/1.0")
        connection = answer.header("Connection").lower()
        answer.closes = "close" in connection or (answer.closes and "keep-alive" not in connection)
        if status in (204, 304):
            return answer
        if "chunked" in answer.header("Transfer-Encoding").lower():
            answer.body = self._chunked()
        elif answer.header("Content-Length").strip().isdigit():
            answer.body = self._exactly(int(answer.header("Content-Length")))
        else:  # the body ends when the server closes the connection
            answer.body, answer.closes = self.reader.read(), True
        return answer

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if not line:
            raise http.client.RemoteDisconnected("the server closed the connection")
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("answer line")
        return line

    def _status_and_head(self) -> tuple[int, str, str, list[bytes]]:
        lines = self._buffered_head()
        if lines is None:
            lines = [self._line(), *self._head()]
        return (*_status_line(lines[0]), lines[1:])

    def _buffered_head(self) -> list[bytes] | None:
        """The status line and header lines (each with its CRLF) when the whole head has
        arrived in the read buffer already, as a small answer's does: one read, not one per
        line. None when it has not, or when a line ends in a bare LF (the caller then reads
        line by line)."""
        buffered = self.reader.peek()
        end = buffered.find(b"\r\n\r\n")
        if end < 0 or buffered.count(b"\n", 0, end) != buffered.count(b"\r\n", 0, end):
            return None
        head = self.reader.read(end + 4)
        return [line + b"\r\n" for line in head[:end].split(b"\r\n")]

    def _head(self) -> list[bytes]:
        lines = []
        while (line := self._line()) not in (b"\r\n", b"\n"):
            lines.append(line)
        return lines

    def _exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) < size:
            raise http.client.IncompleteRead(data, size - len(data))
        return data

    def _chunked(self) -> bytes:
        chunks = []
        while size := int(self._line().split(b";")[0].strip() or b"0", 16):
            chunks.append(self._exactly(size))
            self._line()  # the CRLF after the chunk
        self._head()  # trailer fields, then the final CRLF
        return b"".join(chunks)


def _status_line(line: bytes) -> tuple[int, str, str]:
    text = line.decode("iso-8859-1")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise http.client.BadStatusLine(text)
    return int(code), reason.strip(), version


def _parse_head(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("iso-8859-1").partition(":")
        headers[name.strip()] = value.strip()
    return headers


class _ThreadConnections:
    """Each thread's open connections, by origin."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _mine(self) -> dict[Origin, _Connection]:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        mine: dict[Origin, _Connection] = self._local.connections
        return mine

    def take(self, origin: Origin, timeout: float, context: ssl.SSLContext | None) -> _Connection:
        """This thread's open connection to `origin`, or a new one."""
        mine = self._mine()
        connection = mine.get(origin)
        if connection is not None and connection.closed_by_server():
            self.drop(origin)
            connection = None
        if connection is None:
            connection = mine[origin] = _Connection(origin, timeout, context)
        if connection.sock.gettimeout() != timeout:
            connection.sock.settimeout(timeout)
        return connection

    def drop(self, origin: Origin) -> None:
        connection = self._mine().pop(origin, None)
        if connection is not None:
            connection.close()
