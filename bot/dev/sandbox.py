"""`python -m bot sandbox`: emulated Google Cloud and Slack, and the production server.

Starts gcp/emulator (seed `fluxori`), a local Google certificate server (so alert pushes go
through the real OIDC check), the Slack emulator with its web page, and `python -m bot serve`
in a child process, exactly as in production. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bot.dev import sandbox_page
from bot.dev.local_google import AUDIENCE, PUSH_ACCOUNT, LocalGoogleCerts
from bot.dev.sample_alerts import SampleAlerts, UnknownSample
from bot.dev.sandbox_db import database_state
from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.wire import Request, Response, json_response
from gcp.emulator import Emulator

SAMPLES = Path(__file__).with_name("sandbox_alerts")
READY_TIMEOUT = 30.0


class Sandbox:
    def __init__(self, port: int) -> None:
        self.gcp = Emulator(seed="fluxori")
        self.google = LocalGoogleCerts()
        self.bot_port = free_port()
        self.bot_url = f"http://127.0.0.1:{self.bot_port}"
        self.slack = SlackEmulator(
            bot_url=f"{self.bot_url}/slack/events",
            signing_secret=secrets.token_hex(16),
            bot_token=f"xoxb-sandbox-{secrets.token_hex(8)}",
            port=port,
            rate_limits=True,  # Slack's documented limits, as in a real workspace
        )
        self.workdir = tempfile.mkdtemp(prefix="fluxori-sandbox-")
        self.process: subprocess.Popen[bytes] | None = None
        self.samples = SampleAlerts(SAMPLES, self.serving_revision)

    def start(self) -> str:
        self.gcp.start()
        self.slack.router.add("GET", "/_sandbox/gcp", lambda _: json_response(gcp_state(self.gcp)))
        self.slack.router.add("POST", "/_sandbox/alert", self.fire_alert)
        sandbox_page.register(self)
        self.slack.start()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.bot_port),
            ],
            env={**os.environ, **self.bot_environment()},
        )
        wait_ready(f"{self.bot_url}/healthz", self.process)
        return self.slack.url

    def bot_environment(self) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": self.slack.webapi.bot_token,
            "SLACK_SIGNING_SECRET": self.slack.driver.signing_secret,
            "SLACK_API_URL": self.slack.api_url,
            "SLACK_OPS_CHANNEL": "C_OPS",
            "GCP_EMULATOR_HOST": self.gcp.address,
            "STORAGE_EMULATOR_HOST": self.gcp.storage_url,
            "BOT_STORE": f"sqlite:{self.workdir}/actions.sqlite",
            "BOT_JOBS": "inline",
            "PUSH_AUDIENCE": AUDIENCE,
            "PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "GOOGLE_CERTS_URL": self.google.url,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }

    def fire_alert(self, request: Request) -> Response:
        """The page's alert panel: a sample incident pushed with a valid OIDC token."""
        try:
            body = sandbox_page.json_object(request)
            incident = self.samples.incident(str(body.get("sample", "")))
        except (sandbox_page.BadRequest, UnknownSample) as err:
            return json_response({"ok": False, "error": str(err)}, 400)
        envelope = push_envelope(incident, f"sandbox-{time.time_ns()}")
        reply = requests.post(
            f"{self.bot_url}/pubsub/alerts",
            json=envelope,
            headers={"Authorization": f"Bearer {self.google.mint()}"},
            timeout=10,
        )
        return json_response({"ok": reply.ok, "status": reply.status_code, "detail": reply.text})

    def serving_revision(self, project: str, location: str, service: str) -> str | None:
        name = f"projects/{project}/locations/{location}/services/{service}"
        if name not in self.gcp.run.service_names():
            return None
        split = self.gcp.run.serving_split(name)
        return max(split, key=lambda revision: split[revision]) if split else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.slack.stop()
        self.google.stop()
        self.gcp.stop()


def push_envelope(incident: dict[str, Any], message_id: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(incident).encode()).decode()
    return {
        "message": {"data": data, "messageId": message_id, "attributes": {}},
        "subscription": "projects/fluxori-prod/subscriptions/fluxori-ops-alerts-push",
    }


def gcp_state(gcp: Emulator) -> dict[str, Any]:
    """Each service's revisions, traffic and scaling, and the secret versions, for the page."""
    services = []
    for name in gcp.run.service_names():
        service = gcp.run.get(name)
        services.append(
            {
                "name": name,
                "split": gcp.run.serving_split(name),
                "revisions": [r.name.rsplit("/", 1)[-1] for r in gcp.run.revisions(name)],
                "min": service.scaling.min_instance_count,
                "max": service.scaling.max_instance_count,
                "memory": service.template.containers[0].resources.limits.get("memory", ""),
                "cpu": service.template.containers[0].resources.limits.get("cpu", ""),
                "concurrency": service.template.max_instance_request_concurrency,
                "slos": _slos(gcp, name),
            }
        )
    project_secrets = {
        project: gcp.secrets.versions(project, "jwt-secret")
        for project in ("fluxori-dev", "fluxori-staging", "fluxori-prod")
    }
    databases = {project: database_state(gcp, project) for project in project_secrets}
    return {"services": services, "secrets": project_secrets, "databases": databases}


def _slos(gcp: Emulator, service_name: str) -> list[str]:
    """`availability-24h 99% over 1d` for each SLO of the service, as Monitoring holds it."""
    _, project, *_, service = service_name.split("/")
    return [
        f"{slo.name.rsplit('/', 1)[-1]} {round(slo.goal * 100, 4):g}%"
        f" over {slo.rolling_period.seconds // 86400}d"
        for slo in gcp.monitoring.slos_of(project, service)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_problem(port: int) -> str:
    """Why the page cannot listen on `port` (checked before anything starts), or ""."""
    try:
        with socket.socket() as sock:
            # as the page's server does, so a port left in TIME_WAIT by a restart is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    except OverflowError:
        return f"--port {port} is not a port number (1-65535)."
    except OSError as err:
        return f"port {port} is not free ({err.strerror}); try `make run PORT={port + 1}`."
    return ""


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with status {process.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or the worker is still booting behind the socket
        time.sleep(0.05)  # polling interval while the server starts
    raise RuntimeError(f"the bot did not answer {url} within {READY_TIMEOUT:.0f}s")


def run_sandbox(port: int) -> int:
    problem = port_problem(port)
    if problem:
        print(f"Cannot start the sandbox: {problem}", file=sys.stderr)
        return 2
    sandbox = Sandbox(port)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        url = sandbox.start()
        print(f"Fluxori ops sandbox: open {url}  (Ctrl-C stops it)", flush=True)
        stopped.wait()
    finally:
        sandbox.stop()
    return 0
