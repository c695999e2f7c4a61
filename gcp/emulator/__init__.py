"""A wire-level gRPC emulator of the Google services that have no official emulator."""

from gcp.emulator.server import Emulator

__all__ = ["Emulator"]
