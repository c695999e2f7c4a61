"""Production HTTP serving: gunicorn with threads, one process (the job queue lives in it).

Cloud Run sends SIGTERM and allows 10 s; gunicorn stops accepting, finishes requests, and the
`worker_exit` hook gives queued jobs the rest of that time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from bot.runtime import logs

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

log = logs.get(__name__)

DRAIN_SECONDS = 8.0


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
) -> None:
    """Run until SIGTERM/SIGINT. `load` runs in the worker, so the queue's threads live there."""
    options = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 0,  # Cloud Run enforces request timeouts itself
        "graceful_timeout": int(DRAIN_SECONDS) + 1,
        "keepalive": 75,
        "accesslog": None,
        "logger_class": _JsonLogger,
        "loglevel": os.environ.get("LOG_LEVEL", "info").lower(),
        "worker_exit": lambda _server, _worker: on_exit(),
        "control_socket_disable": True,
    }
    _Gunicorn(load, options).run()
