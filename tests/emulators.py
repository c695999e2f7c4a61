"""Google's own Firestore and Pub/Sub emulators (google-cloud-cli components) for the tests.

Started once per test session on free ports and stopped at the end. Where gcloud, the
component or Java is missing the tests that need them skip with the reason, except under
CI (CI=true), where that is a failure: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

START_TIMEOUT = 60.0
PROJECT = "test-project"


def _missing(component: str) -> str:
    if shutil.which("gcloud") is None:
        return "gcloud (google-cloud-cli) is not installed"
    if shutil.which("java") is None:
        return "Java is not installed (the emulators need Java 17)"
    sdk = Path(os.path.realpath(shutil.which("gcloud") or "")).parent.parent
    if not (sdk / "platform" / component).exists():
        return f"the gcloud component {component} is not installed"
    return ""


def unavailable(reason: str) -> None:
    """Skip, or fail under CI, because an emulator cannot run here."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the Google emulators: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gcloud_emulator(args: list[str], component: str) -> Iterator[str]:
    """Run `gcloud <args> --host-port=127.0.0.1:P`; yield host:port once it answers HTTP."""
    reason = _missing(component)
    if reason:
        unavailable(reason)
    host = f"127.0.0.1:{free_port()}"
    log = tempfile.NamedTemporaryFile(prefix=f"{component}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        ["gcloud", *args, f"--host-port={host}", "--quiet"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the gcloud wrapper spawns java: stop the whole group
    )
    try:
        _wait_until_up(host, process, log.name)
        yield host
    finally:
        _stop(process)
        log.close()


def _wait_until_up(host: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited ({process.returncode}); see {log}")
        try:
            if requests.get(f"http://{host}/", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)  # polling interval while Java starts
    raise RuntimeError(f"emulator at {host} did not start within {START_TIMEOUT:.0f}s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def firestore_client(host: str) -> firestore.Client:
    """A Firestore client on the emulator (the variable is read when the client is built)."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    return firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
