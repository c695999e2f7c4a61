"""Firestore Admin v1: composite indexes, exports and imports, through google-cloud-firestore's
`FirestoreAdminClient`. Index creation, export and import are long-running operations; `follow`
reports their progress until they end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from google.cloud import firestore_admin_v1 as admin
from google.cloud.firestore_admin_v1.services.firestore_admin.transports import (
    FirestoreAdminGrpcTransport,
)

from gcp.clients import Clients
from gcp.db_models import DatabaseRef, DbOperation, Index, IndexField, IndexSpec
from gcp.errors import GcpError, OperationFailed, translated

ORDERS = {
    admin.Index.IndexField.Order.ASCENDING: "ascending",
    admin.Index.IndexField.Order.DESCENDING: "descending",
}
STATES = {
    admin.Index.State.CREATING: "creating",
    admin.Index.State.READY: "ready",
    admin.Index.State.NEEDS_REPAIR: "error",
}
OPERATION_DEADLINE_SECONDS = 3600.0  # a large index build takes minutes, rarely more
Report = Callable[[DbOperation], None]


class FirestoreAdminAdapter:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _client(self) -> Any:
        return self._clients.get(
            "firestore_admin",
            lambda: self._clients.build(admin.FirestoreAdminClient, FirestoreAdminGrpcTransport),
        )

    def _call(self, what: str, method: str, **request: Any) -> Any:
        settings = self._clients.settings
        with translated(what):
            call = getattr(self._client(), method)
            return call(request=request, timeout=settings.timeout)

    def list_indexes(self, db: DatabaseRef, collection: str = "") -> list[Index]:
        """Composite indexes of one collection group, or of all (`collection` empty)."""
        parent = f"{db.name}/collectionGroups/{collection or '-'}"
        settings = self._clients.settings
        with translated(f"list the indexes of {db.project}"):
            pager = self._client().list_indexes(
                parent=parent, retry=settings.retry(), timeout=settings.timeout
            )
            return [to_index(i) for i in pager]

    def create_index(self, db: DatabaseRef, spec: IndexSpec) -> Any:
        """The started operation (see `follow`)."""
        index = admin.Index(
            query_scope=admin.Index.QueryScope.COLLECTION,
            fields=[
                admin.Index.IndexField(field_path=f.path, order=_order(f.order))
                for f in spec.fields
            ],
        )
        parent = f"{db.name}/collectionGroups/{spec.collection}"
        what = f"create an index on {spec.collection} in {db.project}"
        return self._call(what, "create_index", parent=parent, index=index)

    def delete_index(self, db: DatabaseRef, collection: str, index_id: str) -> None:
        name = f"{db.name}/collectionGroups/{collection}/indexes/{index_id}"
        self._call(f"delete index {index_id} in {db.project}", "delete_index", name=name)

    def export(self, db: DatabaseRef, uri: str, collections: tuple[str, ...]) -> Any:
        """The started export of `collections` (all when empty) to `uri` (see `follow`)."""
        what = f"export {db.project} to {uri}"
        ids = list(collections)
        return self._call(
            what, "export_documents", name=db.name, output_uri_prefix=uri, collection_ids=ids
        )

    def import_(self, db: DatabaseRef, uri: str, collections: tuple[str, ...]) -> Any:
        """The started import of the export at `uri` (see `follow`)."""
        what = f"import {uri} into {db.project}"
        ids = list(collections)
        return self._call(
            what, "import_documents", name=db.name, input_uri_prefix=uri, collection_ids=ids
        )

    def follow(self, operation: Any, on_progress: Report, what: str) -> DbOperation:
        """Poll `operation` until done; raises OperationFailed with Google's message."""
        settings = self._clients.settings
        deadline = time.monotonic() + OPERATION_DEADLINE_SECONDS
        while True:
            with translated(what):
                done = bool(operation.done(retry=settings.retry()))
            state = to_operation(operation.operation, operation.metadata)
            if done:
                if state.error:
                    raise OperationFailed(what, state.error)
                return state
            if time.monotonic() > deadline:
                raise GcpError(what, "the operation did not finish within an hour")
            on_progress(state)
            time.sleep(settings.operation_poll)  # Google's operations are polled


def to_index(index: Any) -> Index:
    fields = tuple(
        IndexField(f.field_path, ORDERS.get(f.order, "array-contains"))
        for f in index.fields
        if f.field_path != "__name__"
    )
    parts = index.name.split("/")
    return Index(
        index_id=parts[-1],
        spec=IndexSpec(collection=parts[-3], fields=fields),
        state=STATES.get(index.state, "unknown"),
    )


def to_operation(operation: Any, metadata: Any) -> DbOperation:
    documents = getattr(metadata, "progress_documents", None)
    size = getattr(metadata, "progress_bytes", None)
    return DbOperation(
        name=operation.name,
        done=operation.done,
        error=operation.error.message if operation.HasField("error") else "",
        documents=int(documents.completed_work) if documents else 0,
        bytes=int(size.completed_work) if size else 0,
        output_uri=str(getattr(metadata, "output_uri_prefix", "") or ""),
    )


def _order(order: str) -> Any:
    return (
        admin.Index.IndexField.Order.DESCENDING
        if order == "descending"
        else admin.Index.IndexField.Order.ASCENDING
    )
