"""The bot as a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from bot.dev.sandbox import wait_ready
from bot.dev.slack_emulator import SlackEmulator
from tests.support.stack import BOT_TOKEN, SIGNING_SECRET


def serve_env(slack: SlackEmulator, store_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `serve` process talking to `slack`, its SQLite store in store_dir."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "BOT_STORE": f"sqlite:{store_dir / 'a.sqlite'}",
        "LOG_LEVEL": "INFO",
        **extra,
    }


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
