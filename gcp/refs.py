"""Names of Google Cloud resources, apart from gcp.models: the configuration needs them at
start-up, before anything reads a resource (each frozen dataclass costs a cold start about a
millisecond to create)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceRef:
    """Identifies one Cloud Run service."""

    project: str
    region: str
    service: str

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def name(self) -> str:
        return f"{self.parent}/services/{self.service}"
