"""Production HTTP serving: gunicorn with threads, one process (the job queue lives in it).

Cloud Run sends SIGTERM and allows 10 s; gunicorn stops accepting, finishes requests, and the
`worker_exit` hook gives queued jobs the rest of that time.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.workers.gthread import TConn, ThreadWorker

from bot.runtime import logs

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

log = logs.get(__name__)

DRAIN_SECONDS = 8.0
HEAD_TIMEOUT = 10.0  # a request's head must arrive within this, or the connection is closed
READ_TIMEOUT = 5.0  # a stalled body read gives its thread back after this
HEAD_LIMIT = 64 * 1024
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"


class _TimedSocket(socket.socket):
    """A client socket whose blocking reads give up after READ_TIMEOUT. gthread switches
    sockets between blocking and not; here "blocking" means "with a timeout". A read that
    times out reads as the client having gone, which gunicorn handles quietly."""

    @classmethod
    def adopt(cls, sock: socket.socket) -> _TimedSocket:
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(READ_TIMEOUT)
        else:
            super().setblocking(False)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            log.info("client_read_timed_out", seconds=self.gettimeout())
            with contextlib.suppress(OSError):
                self.shutdown(socket.SHUT_RD)
            return b""


class _HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, except that a connection gets a thread only once its request head has fully
    arrived: until then the main loop collects the bytes without blocking. Slow or stalled
    clients (slowloris) then cost a file descriptor each, not one of the few threads."""

    def enqueue_req(self, conn: TConn) -> None:
        if not isinstance(conn.sock, _TimedSocket):
            conn.sock = _TimedSocket.adopt(conn.sock)
        conn.init()  # plain HTTP/1.1: only creates the parser, no I/O
        if _head_complete(conn):
            conn.data_ready = True
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + HEAD_TIMEOUT
        self.pending_conns.append(conn)  # closed by murder_pending() when HEAD_TIMEOUT passes
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn: TConn, client: socket.socket) -> None:
        try:
            data = client.recv(8192)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer = conn.parser.unreader.buf
        buffer.seek(0, os.SEEK_END)
        buffer.write(data)
        if _head_complete(conn):
            self.poller.unregister(client)
            self.pending_conns.remove(conn)
            conn.data_ready = True
            super().enqueue_req(conn)
        elif buffer.tell() > HEAD_LIMIT:
            with contextlib.suppress(OSError):
                client.send(_TOO_LARGE)
            self._drop(conn)

    def _drop(self, conn: TConn) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        if not self.alive:  # stopping: half-sent requests will not be answered anyway
            for conn in self.pending_conns:
                conn.timeout = 0.0
        super().murder_pending()


def _head_complete(conn: TConn) -> bool:
    data = conn.parser.unreader.buf.getvalue()
    return b"\r\n\r\n" in data or b"\n\n" in data


class _JsonLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's own lines (start, worker boot, signals) through the bot's JSON logging, so
    Cloud Logging reads their severity like every other line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, load: Callable[[], WSGIApplication], options: dict[str, Any]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApplication:
        return self._load()


def serve(
    load: Callable[[], WSGIApplication],
    port: int,
    on_exit: Callable[[], None],
    host: str = "0.0.0.0",
    threads: int = 16,
    before_fork: Callable[[], None] = lambda: None,
) -> None:
    """Run until SIGTERM/SIGINT. `load` runs in the worker, so the queue's threads live there;
    `before_fork` runs in the master each time a worker is about to be forked."""
    options = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": _HeadFirstWorker,
        "threads": threads,
        "timeout": 0,  # Cloud Run enforces request timeouts itself
        "graceful_timeout": int(DRAIN_SECONDS) + 1,
        "keepalive": 75,
        "accesslog": None,
        "logger_class": _JsonLogger,
        "loglevel": os.environ.get("LOG_LEVEL", "info").lower(),
        "worker_exit": lambda _server, _worker: on_exit(),
        "pre_fork": lambda _server, _worker: before_fork(),
        "control_socket_disable": True,
    }
    _Gunicorn(load, options).run()
