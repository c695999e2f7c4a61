"""Google's own Firestore and Pub/Sub emulators (google-cloud-cli components) for the tests.

Started once per test session on free ports and stopped at the end by killing the whole
process group (the gcloud wrapper starts Java children). Their output goes to a log file whose path
is in every error. Where gcloud, the component or Java is missing, the tests that need them
skip with the reason, except under CI (CI=true), where that is a failure: CI must run them.

Clients built here point at an emulator without touching the process environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
import requests
from google.auth.credentials import AnonymousCredentials

if TYPE_CHECKING:  # imported where used: every test session loads this module
    from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.1
PROJECT = "test-project"
FIRESTORE_START = ["emulators", "firestore", "start"]
PUBSUB_START = ["beta", "emulators", "pubsub", "start", f"--project={PROJECT}"]

startup_seconds: dict[str, float] = {}  # component -> seconds from launch to first answer


def _missing(component: str) -> str:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return "gcloud (google-cloud-cli) is not installed"
    if shutil.which("java") is None:
        return "Java is not installed (the emulators need Java 17)"
    sdk = Path(os.path.realpath(gcloud)).parent.parent
    if not (sdk / "platform" / component).exists():
        return f"the gcloud component {component} is not installed (apt: google-cloud-cli-*)"
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


@dataclass
class RunningEmulator:
    host: str
    process: subprocess.Popen[bytes]
    log_path: str
    startup_seconds: float

    def stop(self) -> None:
        """Kill the whole process group and wait until none of it is left.

        SIGKILL straight away: the emulators keep everything in memory, so there is nothing
        to save, and a graceful Java shutdown costs about 2 s per emulator.
        """
        group = self.process.pid  # start_new_session: the group id is the leader's pid
        with suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        if not _group_gone(group, self.process, STOP_TIMEOUT):
            raise RuntimeError(f"emulator process group {group} survived SIGKILL")


def start_emulator(args: list[str], component: str) -> RunningEmulator:
    """Run `gcloud <args> --host-port=127.0.0.1:P` and return once it answers HTTP."""
    reason = _missing(component)
    if reason:
        unavailable(reason)
    host = f"127.0.0.1:{free_port()}"
    log_path = tempfile.mkstemp(prefix=f"{component}-", suffix=".log")[1]
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["gcloud", *args, f"--host-port={host}", "--quiet"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the gcloud wrapper spawns java: stop the whole group
        )
    running = RunningEmulator(host, process, log_path, 0.0)
    try:
        _wait_until_up(running)
    except BaseException:
        running.stop()
        raise
    running.startup_seconds = time.monotonic() - started
    startup_seconds[component] = running.startup_seconds
    return running


@contextmanager
def gcloud_emulator(args: list[str], component: str) -> Iterator[str]:
    """An emulator for the duration of the block; yields host:port."""
    running = start_emulator(args, component)
    try:
        yield running.host
    finally:
        running.stop()


def _wait_until_up(running: RunningEmulator) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(
                f"emulator exited with {running.process.returncode} before answering;"
                f" its output is in {running.log_path}:\n{_tail(running.log_path)}"
            )
        with suppress(requests.ConnectionError, requests.Timeout):  # Java still starting
            if requests.get(f"http://{running.host}/", timeout=1).ok:
                return
        time.sleep(POLL_INTERVAL)  # polling interval while Java starts, not a wait-for
    raise RuntimeError(
        f"emulator at {running.host} did not answer within {START_TIMEOUT:.0f}s;"
        f" its output is in {running.log_path}:\n{_tail(running.log_path)}"
    )


def _tail(path: str, lines: int = 20) -> str:
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def _group_gone(group: int, leader: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader.poll()  # reap the leader
        if not group_processes(group):
            return True
        time.sleep(POLL_INTERVAL)  # polling interval while the kernel tears the group down
    return False


def group_processes(group: int) -> list[str]:
    """Command lines of the processes in process group `group` that still have a live thread.

    A dead process can linger as a zombie (a killed Java child is reparented to PID 1, which
    reaps it when it gets to it), and `killpg(group, 0)` still finds it; that does not
    count. But a zombie *main thread* can outlive the process's other threads for a moment
    (Java has many), and until the last one exits the sockets stay open: that counts.
    """
    if not Path("/proc").is_dir():  # not Linux: fall back to what the kernel says
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return []
        return ["(unknown)"]
    return [cmd for pid, pgrp, cmd in _proc_table() if pgrp == group and _has_live_thread(pid)]


def _proc_table() -> Iterator[tuple[str, int, str]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp = int(_stat_fields(entry / "stat")[2])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # the process ended while being read
        yield entry.name, pgrp, cmdline


def _has_live_thread(pid: str) -> bool:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False  # the process is gone
    for task in tasks:
        try:
            if _stat_fields(task / "stat")[0] not in ("Z", "X"):
                return True
        except OSError:
            continue  # that thread ended while being read
    return False


def _stat_fields(path: Path) -> list[str]:
    """The fields after `(comm)`: state first, then ppid, pgrp, ..."""
    return path.read_text().rsplit(")", 1)[1].split()


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def firestore_client(host: str, project: str = PROJECT) -> firestore.Client:
    """A Firestore client on the emulator at `host`.

    The library reads FIRESTORE_EMULATOR_HOST only while the client is constructed, so the
    variable is set for that moment and restored: nothing leaks to other tests.
    """
    from google.cloud import firestore

    with _environ("FIRESTORE_EMULATOR_HOST", host):
        return firestore.Client(project=project, credentials=AnonymousCredentials())


def unique_project() -> str:
    """A project id of its own: the Firestore emulator keeps each project's data apart."""
    return f"test-{uuid.uuid4().hex[:12]}"


def clear_firestore(host: str, project: str) -> None:
    """Delete every document of `project`'s default database (an emulator-only endpoint)."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    requests.delete(url, timeout=10).raise_for_status()


def pubsub_publisher(host: str) -> pubsub_v1.PublisherClient:
    """A publisher on the emulator over a plaintext channel (no PUBSUB_EMULATOR_HOST)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    transport = PublisherGrpcTransport(channel=grpc.insecure_channel(host))
    return pubsub_v1.PublisherClient(transport=transport)


def pubsub_subscriber(host: str) -> pubsub_v1.SubscriberClient:
    """A subscriber on the emulator over a plaintext channel (no PUBSUB_EMULATOR_HOST)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    transport = SubscriberGrpcTransport(channel=grpc.insecure_channel(host))
    return pubsub_v1.SubscriberClient(transport=transport)
