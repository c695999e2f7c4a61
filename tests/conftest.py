"""Shared fixtures: a fresh, seeded gcp/emulator per test, and clients pointed at it."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.dev.local_google import LocalGoogleCerts
from bot.runtime import logs
from gcp.clients import FAST_SETTINGS, Clients
from gcp.emulator import Emulator
from tests.support.emulators import (
    PROJECT,
    clear_firestore,
    firestore_client,
    gcloud_emulator,
    unique_project,
)
from tests.support.stack import Stack, start_stack

if TYPE_CHECKING:
    from google.cloud import firestore


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator with the `fluxori` seed; state is private to the test."""
    emu = Emulator(seed="fluxori")
    emu.start()
    yield emu
    emu.stop(grace=None)


@pytest.fixture
def clients(emulator: Emulator) -> Iterator[Clients]:
    """Google client libraries over one insecure channel to the emulator, short retries."""
    shared = Clients(emulator_host=emulator.address, settings=FAST_SETTINGS)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def google() -> Iterator[LocalGoogleCerts]:
    """Google's OIDC certificates, served locally, with a key to sign push tokens."""
    certs = LocalGoogleCerts()
    yield certs
    certs.stop()


@pytest.fixture
def stack(emulator: Emulator, tmp_path: Path, google: LocalGoogleCerts) -> Iterator[Stack]:
    """The bot over HTTP with the Slack emulator and the seeded gcp/emulator."""
    running = start_stack(emulator, tmp_path, google)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """Google's Firestore emulator, host:port; tests isolate by collection prefix."""
    with gcloud_emulator(["emulators", "firestore", "start"], "cloud-firestore-emulator") as host:
        yield host


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    """Google's Pub/Sub emulator, host:port, project test-project."""
    args = ["beta", "emulators", "pubsub", "start", f"--project={PROJECT}"]
    with gcloud_emulator(args, "pubsub-emulator") as host:
        yield host


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line the bot writes during the test, as JSON text."""
    buffer = io.StringIO()
    logs.configure("DEBUG", buffer)
    yield buffer
    logs.configure("WARNING", sys.stderr)


@pytest.fixture
def firestore_db(firestore_emulator: str) -> Iterator[firestore.Client]:
    """A Firestore client on a project of the test's own, emptied when the test ends."""
    project = unique_project()
    client = firestore_client(firestore_emulator, project)
    yield client
    client.close()
    clear_firestore(firestore_emulator, project)
