"""PLACEHOLDER: replaced by the helper that owns this module."""

from __future__ import annotations

from gcp.emulator.core import Faults, Handler, TrafficSource


class CloudRun(TrafficSource):
    def seed_fluxori(self) -> None:
        pass

    def handlers(self, faults: Faults) -> list[Handler]:
        return []
