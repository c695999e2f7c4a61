"""`python -m bot serve`: the production server process, its start-up checks and shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from bot.dev.sandbox import free_port, wait_ready
from bot.dev.slack_emulator import SlackEmulator
from gcp.emulator import Emulator
from tests.support.models import PROD_BACKEND
from tests.support.processes import serve, serve_env
from tests.support.slack import text_of
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET, eventually


def test_signed_status_is_answered_fast_and_sigterm_stops_cleanly(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A signed /ops status gets 200 in well under a second and the serving revision in the
    thread; SIGTERM (Cloud Run's signal) ends the process with status 0. Every line logged
    on the way is JSON, and none is a warning."""
    port = free_port()
    slack = SlackEmulator(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, BOT_TOKEN)
    slack.start()
    env = serve_env(slack, tmp_path, GCP_EMULATOR_HOST=emulator.address)
    output = tmp_path / "server.log"
    process = serve(env, port, output.open("wb"))
    try:
        reply = slack.slash_command(
            "U_ALICE", OPS_CHANNEL, text="status fluxori-backend --env prod"
        )
        assert reply.status == 200
        assert reply.elapsed < 0.5
        answer = eventually(lambda: slack.messages(OPS_CHANNEL), what="the answer")[0]
        serving = next(iter(emulator.run.serving_split(PROD_BACKEND.name)))
        assert serving in text_of(answer)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        slack.stop()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    messages = [line["message"] for line in lines]
    assert "command_accepted" in messages
    assert any(m.startswith("Starting gunicorn") for m in messages)  # gunicorn's own, as JSON
    assert [line for line in lines if line["severity"] not in ("DEBUG", "INFO")] == []


def test_bad_configuration_stops_start_up_with_one_line_per_problem(tmp_path: Path) -> None:
    """Missing tokens and a bad store setting are each named; the exit status is 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BOT_"))}
    env.update({"BOT_STORE": "mysql://x", "PORT": "http"})
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    for problem in (
        "SLACK_BOT_TOKEN is missing",
        "SLACK_SIGNING_SECRET is missing",
        "BOT_STORE=",
        "PORT=",
    ):
        assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_the_worker_collects_garbage_but_never_walks_what_loaded_before_the_fork() -> None:
    """`bot serve` loads with the collector off. Before gunicorn forks the worker, the
    master's `before_fork` (the bot's `_loaded`) freezes what loaded and turns collection
    back on: the worker collects its own garbage and skips the start-up heap."""
    port = free_port()
    program = f"""
import gc
gc.disable()
from bot.__main__ import _loaded
from bot.runtime.server import serve

def load():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"enabled={{gc.isenabled()}} frozen={{gc.get_freeze_count() > 1000}}".encode()]
    return app

serve(load, {port}, lambda: None, host="127.0.0.1", before_fork=_loaded)
"""
    process = subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/", process)
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == (
            "enabled=True frozen=True"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
