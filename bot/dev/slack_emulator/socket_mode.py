"""Socket Mode: `apps.connections.open` hands out single-use WebSocket URLs; the app connects,
gets `hello`, and receives each request as an envelope that it acknowledges with
`{"envelope_id": ..., "payload": ...}`. The server starts on the first URL it hands out."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as AckTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.dev.slack_emulator import websocket
from bot.dev.slack_emulator.transport import ACK_SECONDS, BotResponse, Delivery
from bot.dev.slack_emulator.websocket import Frame, ProtocolError

Json = dict[str, Any]
PATH = "/link/"
ACCEPTS_PAYLOAD = ("view_submission", "block_suggestion")  # interactions with an answer


class NotConnected(Exception):
    """No app holds an open Socket Mode connection."""


class SocketModeServer:
    def __init__(
        self, app_id: str, host: str = "127.0.0.1", public_host: str = "127.0.0.1"
    ) -> None:
        self.app_id = app_id
        self._host = host
        self._public_host = public_host
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._tickets: set[str] = set()
        self._links: list[_Link] = []  # open connections, oldest first
        self._opened = 0
        self._waiting: dict[str, Future[Json]] = {}

    def apps_connections_open(self, args: Json) -> Json:
        """The Web API method: a URL whose ticket admits one connection."""
        del args
        ticket = secrets.token_urlsafe(18)
        with self._lock:
            port = self._running().server_address[1]
            self._tickets.add(ticket)
        query = urlencode({"ticket": ticket, "app_id": self.app_id})
        return {"url": f"ws://{self._public_host}:{port}{PATH}?{query}"}

    @property
    def connections(self) -> int:
        """Connections open now."""
        with self._lock:
            return len(self._links)

    @property
    def opened(self) -> int:
        """Connections opened so far, closed ones included."""
        with self._lock:
            return self._opened

    def exchange(self, envelope: Json, timeout: float) -> Json | None:
        """Send `envelope` on the newest connection and wait `timeout` s for its ack (None
        when none came); NotConnected when there is no connection."""
        envelope_id = str(envelope["envelope_id"])
        ack: Future[Json] = Future()
        with self._lock:
            if not self._links:
                raise NotConnected
            link = self._links[-1]
            self._waiting[envelope_id] = ack
        try:
            link.send(Frame(websocket.TEXT, json.dumps(envelope).encode()))
            return ack.result(timeout)
        except (AckTimeout, OSError):
            return None
        finally:
            with self._lock:
                self._waiting.pop(envelope_id, None)

    def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """What Slack sends before it retires a connection: the app should open a new one."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "emulator"}}
        for link in self._open_links():
            link.send_quietly(Frame(websocket.TEXT, json.dumps(message).encode()))

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        for link in self._open_links():
            link.close(1001, "going away")

    # -- the server's side of a connection

    def admit(self, ticket: str) -> bool:
        with self._lock:
            if ticket not in self._tickets:
                return False
            self._tickets.remove(ticket)
            return True

    def serve(self, link: _Link) -> None:
        """Say hello, then take acks until the app or the server closes the connection."""
        with link.sending:  # envelopes may pick the link now, but go out after hello
            with self._lock:
                self._links.append(link)
                self._opened += 1
                count = len(self._links)
            link.send(Frame(websocket.TEXT, json.dumps(self._hello(count)).encode()))
        try:
            for text in link.messages():
                self._acknowledged(text)
        finally:
            with self._lock:
                self._links.remove(link)

    def _acknowledged(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict):
            with self._lock:
                ack = self._waiting.get(str(message.get("envelope_id")))
                if ack is not None and not ack.done():
                    ack.set_result(message)

    def _hello(self, count: int) -> Json:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "emulator", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _running(self) -> _Server:
        if self._server is None:
            self._server = _Server((self._host, 0), self)
            serving = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="slack-emulator-socket-mode",
                daemon=True,
            )
            serving.start()
        return self._server

    def _open_links(self) -> list[_Link]:
        with self._lock:
            return list(self._links)


@dataclass(frozen=True)
class SocketModeTransport:
    """Deliveries as envelopes on the app's connection; the ack is the answer."""

    server: SocketModeServer
    ack_seconds: float = ACK_SECONDS

    def deliver(self, delivery: Delivery) -> BotResponse:
        started = time.monotonic()
        try:
            ack = self.server.exchange(envelope(delivery), self.ack_seconds)
        except NotConnected:
            return _failed(started, "no app is connected over Socket Mode")
        if ack is None:
            return _failed(started, f"no ack over Socket Mode within {self.ack_seconds:g} s")
        payload = ack.get("payload")
        body = "" if payload is None else json.dumps(payload)
        return BotResponse(200, body, {}, time.monotonic() - started)


def envelope(delivery: Delivery) -> Json:
    wrapped: Json = {
        "envelope_id": str(uuid.uuid4()),
        "type": delivery.kind,
        "payload": delivery.payload,
        "accepts_response_payload": _accepts_payload(delivery),
    }
    if delivery.kind == "events_api":
        wrapped.update(retry_attempt=delivery.retry_num, retry_reason=delivery.retry_reason)
    return wrapped


def _accepts_payload(delivery: Delivery) -> bool:
    """Whether Slack uses a payload in the ack: a command's answer, a view submission's."""
    if delivery.kind == "interactive":
        return delivery.payload.get("type") in ACCEPTS_PAYLOAD
    return delivery.kind == "slash_commands"


def _failed(started: float, why: str) -> BotResponse:
    return BotResponse(0, "", {}, time.monotonic() - started, failure=why)


class _Link:
    """One open connection: frames out under a lock, messages in from the handler thread."""

    def __init__(self, sock: socket.socket, stream: BufferedIOBase) -> None:
        self._sock = sock
        self._read = websocket.exact_reader(stream)
        self.sending = threading.RLock()

    def send(self, frame: Frame) -> None:
        with self.sending:
            self._sock.sendall(websocket.encode(frame))

    def send_quietly(self, frame: Frame) -> None:
        with contextlib.suppress(OSError):  # the connection is going away already
            self.send(frame)

    def close(self, code: int, reason: str = "") -> None:
        """Send a close frame and end the connection; the handler thread then finishes."""
        self.send_quietly(websocket.close_frame(code, reason))
        with contextlib.suppress(OSError):  # the other side shut it already
            self._sock.shutdown(socket.SHUT_RDWR)

    def messages(self) -> Iterator[str]:
        """Text messages until the connection ends; pings are answered, a close is echoed,
        and a protocol error closes the connection with its status code."""
        joined = websocket.Reassembly()
        try:
            while True:
                frame = websocket.read_frame(self._read)
                if frame.opcode == websocket.CLOSE:
                    self.close(_echoed_status(frame.payload))
                    return
                if frame.opcode == websocket.PING:
                    self.send(Frame(websocket.PONG, frame.payload))
                    continue
                message = None if frame.opcode == websocket.PONG else joined.add(frame)
                if message is None:
                    continue
                if message.opcode != websocket.TEXT:
                    raise ProtocolError(1003, "Socket Mode messages are text")
                yield message.payload.decode("utf-8")
        except ProtocolError as err:
            self.close(err.code, err.reason)
        except UnicodeDecodeError:
            self.close(1007, "text must be UTF-8")
        except (EOFError, OSError, ValueError):
            pass  # the app went away, or stop() shut the socket


def _echoed_status(payload: bytes) -> int:
    """The status to answer a close frame with: its own, or 1000 when it carried none."""
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sockets: SocketModeServer) -> None:
        super().__init__(address, _Handshake)
        self.sockets = sockets

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the app dropped the connection mid-handshake; nothing to report
        super().handle_error(request, client_address)


class _Handshake(BaseHTTPRequestHandler):
    """The opening handshake; on success the handler thread serves the connection."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            self._refuse(*refusal)
            return
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket.accept_key(self._key))
        self.end_headers()
        self.close_connection = True
        self.server.sockets.serve(_Link(self.connection, self.rfile))

    @property
    def _key(self) -> str:
        return self.headers.get("Sec-WebSocket-Key", "").strip()

    def _refusal(self) -> tuple[int, str, Mapping[str, str]] | None:
        url = urlsplit(self.path)
        if url.path != PATH:
            return 404, "no such endpoint", {}
        upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
        connection = "upgrade" in self.headers.get("Connection", "").lower()
        if not (upgrade and connection and websocket.is_valid_key(self._key)):
            return 400, "not a WebSocket handshake", {}
        if self.headers.get("Sec-WebSocket-Version", "").strip() != "13":
            return 426, "WebSocket version 13 only", {"Sec-WebSocket-Version": "13"}
        ticket = parse_qs(url.query).get("ticket", [""])[0]
        if not self.server.sockets.admit(ticket):
            return 403, "invalid or used ticket: call apps.connections.open again", {}
        return None

    def _refuse(self, status: int, reason: str, headers: Mapping[str, str]) -> None:
        body = reason.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read state, not access logs
