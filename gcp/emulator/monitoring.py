"""PLACEHOLDER: replaced by the helper that owns this module."""

from __future__ import annotations

from gcp.emulator.core import Faults, Handler, TrafficSource


class Monitoring:
    def __init__(self, run: TrafficSource) -> None:
        self.run = run

    def seed_fluxori(self) -> None:
        pass

    def handlers(self, faults: Faults) -> list[Handler]:
        return []
