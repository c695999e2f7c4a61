"""`python -m bot sandbox` as `make run` starts it: one URL printed, the page and the bot
answering, and Ctrl-C (SIGINT) stopping everything it started; a busy port is a clear no."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import requests

from bot.dev.sandbox import free_port
from tests.support.stack import eventually

URL = re.compile(r"open (http://127\.0\.0\.1:\d+)")


def descendants(pid: int) -> set[int]:
    """Child processes, their children and so on (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in _read(task / "children").split()}
    return found.union(*(descendants(child) for child in found if alive(child)))


def _read(path: Path) -> str:
    """A /proc file, or nothing when its thread ended since the folder was listed (the
    emulator's connection threads come and go)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_prints_one_url_serves_the_page_and_ctrl_c_stops_everything() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    started: set[int] = set()
    try:
        url = eventually(
            lambda: next((m.group(1) for line in lines if (m := URL.search(line))), None),
            timeout=30,
            what="the sandbox's URL",
        )
        assert url == f"http://127.0.0.1:{port}"
        assert "#fluxori-ops" in requests.get(url, timeout=5).text
        help_reply = requests.post(
            f"{url}/_sandbox/command", json={"user": "U_ALICE", "text": "/ops help"}, timeout=10
        ).json()
        assert (help_reply["ok"], help_reply["status"]) == (True, 200)
        started = descendants(process.pid)
        assert len(started) >= 2, "the bot's gunicorn master and worker run as children"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    reader.join(timeout=5)
    assert code == 0
    assert [pid for pid in started if alive(pid)] == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the page's port is closed"
    assert len([line for line in lines if URL.search(line)]) == 1


def test_a_busy_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port} is not free" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    assert "Traceback" not in result.stderr
