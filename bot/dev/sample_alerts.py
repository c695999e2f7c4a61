"""The sandbox's sample alerts (`bot/sandbox_alerts/*.json`), made current before each push.

The samples are fixed Cloud Monitoring payloads. Pushed as they are, every card would say the
incident started on the sample's date, name a revision the emulated platform does not have, and
a second "open" would be dropped as a duplicate of the first. So each "open" is a new incident
starting now on the revision serving most traffic, and "closed" ends the last one opened.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]
# (project, location, service) -> the revision serving most traffic, or None
ServingRevision = Callable[[str, str, str], str | None]
ASSUMED_DURATION_S = 600  # a "closed" with nothing open: an incident of ten minutes


class UnknownSample(LookupError):
    pass


@dataclass(frozen=True)
class Opened:
    incident_id: str
    started_at: int
    revision: str | None


@dataclass
class SampleAlerts:
    folder: Path
    serving_revision: ServingRevision
    clock: Callable[[], float] = time.time
    _open: dict[str, Opened] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.json"))

    def incident(self, sample: str) -> Json:
        """The push body (`{"incident": …, "version": …}`) for one sample, as of now."""
        if sample not in self.names():
            raise UnknownSample(f"unknown sample {sample!r}; one of {', '.join(self.names())}")
        body: Json = json.loads((self.folder / f"{sample}.json").read_text())
        incident = body["incident"]
        family, _, state = sample.rpartition("-")
        now = int(self.clock())
        with self._lock:
            opened = self._opened(incident, family, state, now)
        incident["ended_at"] = None if state == "open" else now
        _retarget(incident, opened)
        return body

    def _opened(self, incident: Json, family: str, state: str, now: int) -> Opened:
        if state == "open":
            opened = Opened(
                f"{incident['incident_id']}-{next(self._numbers)}", now, self._serving(incident)
            )
            self._open[family] = opened
            return opened
        return self._open.pop(family, None) or Opened(
            incident["incident_id"], now - ASSUMED_DURATION_S, self._serving(incident)
        )

    def _serving(self, incident: Json) -> str | None:
        labels = incident["resource"]["labels"]
        return self.serving_revision(
            labels["project_id"], labels["location"], labels["service_name"]
        )


def _retarget(incident: Json, opened: Opened) -> None:
    incident["url"] = incident["url"].replace(incident["incident_id"], opened.incident_id)
    incident["incident_id"] = opened.incident_id
    incident["started_at"] = opened.started_at
    if opened.revision:
        labels = incident["resource"]["labels"]
        labels["revision_name"] = opened.revision
        incident["resource_display_name"] = opened.revision
        incident["resource_name"] = f"{labels['project_id']} {opened.revision}"
