"""The emulator's HTTP server: a threading http.server whose requests go through a small
router of exact paths and path prefixes. Static files for a page are served from a folder.

HTTP/1.1 with persistent connections, as slack.com serves the Web API (RFC 9112 section 9.3:
a connection stays open unless either side says `Connection: close`); a connection idle for
`idle_seconds` is closed by the server, as servers do (RFC 9112 section 9.5), and a client
must then open another. The server counts the connections it accepted and holds open.
"""

from __future__ import annotations

import contextlib
import mimetypes
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.dev.slack_emulator.wire import Request, Response, json_response

Handler = Callable[[Request], Response]
SHUTDOWN_POLL = 0.02  # seconds; stop() waits up to this long for the serving loop
IDLE_SECONDS = 60.0  # an open connection with no request for this long is closed


class Router:
    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefixes: list[tuple[str, str, Handler]] = []

    def add(self, verb: str, path: str, handler: Handler) -> None:
        """Route `verb path` to `handler`; a path ending in "/" matches everything below it."""
        if path.endswith("/"):
            self._prefixes.append((verb, path, handler))
        else:
            self._exact[(verb, path)] = handler

    def dispatch(self, request: Request) -> Response:
        handler = self._exact.get((request.verb, request.path))
        if handler is None:
            handler = next(
                (
                    h
                    for v, p, h in self._prefixes
                    if v == request.verb and request.path.startswith(p)
                ),
                None,
            )
        if handler is None:
            return json_response({"ok": False, "error": "not_found", "path": request.path}, 404)
        return handler(request)


def static_files(folder: Path, prefix: str) -> Handler:
    """Serve files under `folder` at `prefix`; "/" alone serves index.html."""
    root = folder.resolve()

    def serve(request: Request) -> Response:
        relative = request.path.removeprefix(prefix) or "index.html"
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return json_response({"ok": False, "error": "not_found", "path": request.path}, 404)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(200, path.read_bytes(), kind)

    return serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: Router, idle_seconds: float) -> None:
        super().__init__(address, _RequestHandler)
        self.router = router
        self.idle_seconds = idle_seconds
        self.accepted = 0
        self.open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self.accepted += 1
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection: a stopped server answers nothing, even on those."""
        with self._lock:
            connections = list(self.open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up first (a timeout test); nothing to report
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes; with Nagle's algorithm the body would wait
    # for the client's delayed ACK of the head (about 40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # A read waiting longer than this ends the connection (handle_one_request's timeout).
        self.connection.settimeout(self.server.idle_seconds)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, verb: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            verb=verb,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = self.server.router.dispatch(request)
        except Exception as err:  # a bug in the emulator must not look like a hung Slack
            response = json_response(
                {"ok": False, "error": "emulator_error", "detail": repr(err)}, 500
            )
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests and the sandbox read state, not access logs


class HttpServer:
    def __init__(
        self,
        router: Router,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._httpd = _Server((host, port), router, idle_seconds)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL},
            name="slack-emulator",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def connections_accepted(self) -> int:
        return self._httpd.accepted

    @property
    def connections_open(self) -> int:
        return len(self._httpd.open)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
