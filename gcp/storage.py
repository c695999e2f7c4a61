"""Cloud Storage through google-cloud-storage: the exports and folders in a backup bucket.

Firestore writes an export as objects under its prefix: `<prefix>/<name>.overall_export_metadata`
once the export completed, and one folder per collection (`all_namespaces/kind_<id>/`) or
`all_namespaces/all_kinds/` for every collection
(https://cloud.google.com/firestore/docs/manage-data/export-import). An export's collections,
size and completeness are read from those objects, never from the data itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from google.cloud.storage import Client as StorageClient

from gcp.clients import Clients
from gcp.db_models import Export, StoredObject
from gcp.errors import translated

OVERALL_METADATA = ".overall_export_metadata"
KIND_FOLDER = "kind_"


class StorageAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _client(self) -> Any:
        return self._clients.get("storage", self._build)

    def _build(self) -> Any:
        host = self._clients.storage_emulator_host
        if not host:
            return StorageClient()
        from google.auth.credentials import AnonymousCredentials

        return StorageClient(
            project="emulator",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": host},
        )

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]:
        with translated(f"list gs://{bucket}/{prefix}"):
            blobs = self._client().list_blobs(
                bucket, prefix=prefix, timeout=self._clients.settings.timeout
            )
            return [StoredObject(b.name, int(b.size or 0), b.updated) for b in blobs]

    def list_folders(self, bucket: str, prefix: str) -> list[str]:
        """The folder names directly under `prefix` (objects listed with a `/` delimiter)."""
        with translated(f"list gs://{bucket}/{prefix}"):
            blobs = self._client().list_blobs(
                bucket, prefix=prefix, delimiter="/", timeout=self._clients.settings.timeout
            )
            for _ in blobs.pages:  # prefixes are gathered page by page
                pass
            return sorted(p[len(prefix) :].rstrip("/") for p in blobs.prefixes)

    def list_exports(self, bucket: str, prefix: str = "firestore/") -> list[Export]:
        """The Firestore exports under `prefix`, newest first (by folder name, a date)."""
        by_folder: dict[str, list[StoredObject]] = defaultdict(list)
        for item in self.list_objects(bucket, prefix):
            folder = item.name[len(prefix) :].split("/", 1)[0]
            if folder:
                by_folder[folder].append(item)
        exports = [to_export(bucket, prefix, f, items) for f, items in by_folder.items()]
        return sorted(exports, key=lambda e: e.date, reverse=True)


def to_export(bucket: str, prefix: str, folder: str, items: list[StoredObject]) -> Export:
    kinds = {
        part[len(KIND_FOLDER) :]
        for item in items
        for part in item.name.split("/")
        if part.startswith(KIND_FOLDER)
    }
    return Export(
        uri=f"gs://{bucket}/{prefix}{folder}",
        date=folder,
        collections=tuple(sorted(kinds)),
        size=sum(i.size for i in items),
        complete=any(i.name.endswith(OVERALL_METADATA) for i in items),
        updated=max((i.updated for i in items if i.updated), default=None),
    )
