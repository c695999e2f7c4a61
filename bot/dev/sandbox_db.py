"""The sandbox's Google Cloud panel: each project's Firestore indexes and backup exports, read
from the emulator's state (as the page shows them, not as the bot reads them)."""

from __future__ import annotations

from typing import Any

from gcp.emulator import Emulator

STATES = {1: "creating", 2: "ready", 3: "error"}
ORDERS = {1: "asc", 2: "desc"}


def database_state(gcp: Emulator, project: str) -> dict[str, Any]:
    indexes = [
        {
            "collection": index.name.split("/collectionGroups/")[1].split("/")[0],
            "fields": ", ".join(f"{f.field_path} {ORDERS.get(f.order, '')}" for f in index.fields),
            "state": STATES.get(index.state, "unknown"),
        }
        for index in gcp.firestore_admin.indexes(project)
    ]
    bucket = f"{project}-backup"
    exports: dict[str, dict[str, Any]] = {}
    if gcp.storage.has_bucket(bucket):
        for name, item in gcp.storage.objects(bucket, "firestore/").items():
            folder = exports.setdefault(name.split("/")[1], {"size": 0, "complete": False})
            folder["size"] += item.size
            folder["complete"] |= name.endswith(".overall_export_metadata")
    listed = [{"date": date, **exports[date]} for date in sorted(exports, reverse=True)]
    return {"indexes": indexes, "exports": listed}
