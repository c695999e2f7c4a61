"""Shared fixtures: a fresh, seeded gcp/emulator per test, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gcp.clients import FAST_SETTINGS, Clients
from gcp.emulator import Emulator
from gcp.models import ServiceRef

PROD_BACKEND = ServiceRef("fluxori-prod", "africa-south1", "fluxori-backend")


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
