"""The `fluxori` seed's "query requires an index" errors, beside the runbook's "Query timeout".

Firestore refuses a query that needs a missing composite index with FAILED_PRECONDITION and a
console link; its `create_composite` parameter is the base64 of the serialized
google.firestore.admin.v1.Index to create, named `…/collectionGroups/C/indexes/_`, with the
implicit `__name__` last (https://firebase.google.com/docs/firestore/query-data/indexing).
The app logs it as a "Query timeout" with the error beside it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from google.cloud import firestore_admin_v1 as fa
from google.protobuf.message import Message

from gcp.emulator import fluxori
from gcp.emulator.logs import Logs
from gcp.emulator.run_logs import run_entry

Order = fa.Index.IndexField.Order
# The index the app's "orders by customer, newest first" query lacks in every environment.
MISSING_INDEX = ("orders", (("customerId", Order.ASCENDING), ("createdAt", Order.DESCENDING)))
AGES_MINUTES = (12, 34)


def console_link(project: str, collection: str, fields: Sequence[tuple[str, int]]) -> str:
    index = fa.Index.pb()(
        name=f"projects/{project}/databases/(default)/collectionGroups/{collection}/indexes/_"
    )
    for path, order in (*fields, ("__name__", Order.DESCENDING)):
        index.fields.add(field_path=path, order=order)
    value = base64.b64encode(index.SerializeToString()).decode().rstrip("=")
    return (
        f"https://console.firebase.google.com/v1/r/project/{project}/firestore/indexes"
        f"?create_composite={value}"
    )


def entries(project: str, revision: str, now: datetime) -> list[Message]:
    collection, fields = MISSING_INDEX
    error = (
        "9 FAILED_PRECONDITION: The query requires an index. You can create it here: "
        + console_link(project, collection, fields)
    )
    return [
        run_entry(
            project,
            "fluxori-backend",
            revision,
            severity="ERROR",
            message="Query timeout",
            at=now - timedelta(minutes=age),
            fields={"collection": collection, "error": error},
        )
        for age in AGES_MINUTES
    ]


def seed_fluxori(logs: Logs, revisions: Mapping[str, Sequence[str]]) -> None:
    now = datetime.now(UTC)
    for project in fluxori.PROJECTS:
        name = f"projects/{project}/locations/{fluxori.REGION}/services/fluxori-backend"
        newest = list(revisions.get(name) or ["fluxori-backend-00042-abc"])[-1]
        for entry in entries(project, newest, now):
            logs.write(project, entry)
