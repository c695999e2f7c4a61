"""The real `python -m bot serve` process at its edges: oversized and chunked bodies, and
clients that connect and stall."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.dev.sandbox import free_port
from bot.dev.slack_emulator import SlackEmulator
from bot.runtime.web import MAX_BODY
from tests.support.processes import serve, serve_env
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET

TEN_MB = 10 * 1024 * 1024


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    slack: SlackEmulator
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_rss_kb(self) -> int:
        """Resident size of gunicorn's worker, the child of the `serve` process."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        status = Path(f"/proc/{children[0]}/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )

    def log_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m bot serve` with the Slack emulator; one process for the module."""
    tmp = tmp_path_factory.mktemp("serve-edges")
    port = free_port()
    slack = SlackEmulator(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, BOT_TOKEN)
    slack.start()
    log = tmp / "server.log"
    process = serve(serve_env(slack, tmp), port, log.open("wb"))
    yield Server(process, port, slack, log)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    slack.stop()


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


def post_unsigned(url: str, body: bytes | Iterator[bytes]) -> requests.Response:
    return requests.post(url, data=body, timeout=30)


def test_ten_megabytes_unsigned_is_413_and_costs_no_memory(server: Server) -> None:
    """A 10 MB unsigned body to /slack/events gets 413 with a reason; the worker's resident
    size grows by less than 20 MB."""
    for _ in range(20):  # warm up: every code path the request takes has run once
        post_unsigned(f"{server.url}/slack/events", b"x=1")
    before = server.worker_rss_kb()
    reply = post_unsigned(f"{server.url}/slack/events", b"x" * TEN_MB)
    after = server.worker_rss_kb()
    assert reply.status_code == 413
    assert f"over {MAX_BODY} bytes" in reply.text
    assert after - before < 20 * 1024


@pytest.mark.parametrize("path", ["/slack/events", "/pubsub/alerts", "/tasks"])
def test_chunked_body_over_the_limit_is_413(server: Server, path: str) -> None:
    """Without a Content-Length (chunked), the limit still holds: 413 after limit + 1 bytes,
    on every POST route, and the worker stays small."""
    before = server.worker_rss_kb()
    reply = post_unsigned(f"{server.url}{path}", chunks(TEN_MB))
    assert reply.status_code == 413
    assert server.worker_rss_kb() - before < 20 * 1024


def test_chunked_body_under_the_limit_reaches_the_route(server: Server) -> None:
    """A small chunked body is read whole and judged by the route: unsigned, so 401."""
    reply = post_unsigned(f"{server.url}/slack/events", iter([b"command=/ops", b"&text=help"]))
    assert reply.status_code == 401


def test_healthz_and_commands_answer_while_twenty_clients_stall(server: Server) -> None:
    """Twenty clients that send half a request head and stop do not hold the worker's
    threads: /healthz answers within a second and a signed /ops command is acknowledged."""
    stalled = []
    try:
        for _ in range(20):
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Le")
            stalled.append(client)
        started = time.monotonic()
        health = requests.get(f"{server.url}/healthz", timeout=5)
        assert (health.status_code, time.monotonic() - started < 1.0) == (200, True)
        command = server.slack.slash_command("U_ALICE", OPS_CHANNEL, text="help")
        assert (command.status, command.elapsed < 1.0) == (200, True)
    finally:
        for client in stalled:
            client.close()
    errors = [line for line in server.log_lines() if line["severity"] in ("ERROR", "CRITICAL")]
    assert errors == []
