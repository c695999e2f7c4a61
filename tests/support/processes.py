"""The bot as a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO

from bot.dev.sandbox import wait_ready


def serve(
    env: dict[str, str], port: int, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", process)
    return process
