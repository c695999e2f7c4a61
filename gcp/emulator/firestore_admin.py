"""Firestore Admin API v1, as the bot uses it: composite indexes, exports and imports.

Rules, from Google's documentation:
- google/firestore/admin/v1/firestore_admin.proto: CreateIndex, ExportDocuments and
  ImportDocuments answer a google.longrunning Operation (metadata IndexOperationMetadata,
  ExportDocumentsMetadata, ImportDocumentsMetadata); an index is CREATING until its build
  finishes, then READY (index.proto). An identical index answers ALREADY_EXISTS.
- Collection ids (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields):
  no `/`, not `.` or `..`, not matching `__.*__`, at most 1,500 bytes.
- Export and import (https://cloud.google.com/firestore/docs/manage-data/export-import): the
  output is `gs://BUCKET[/PATH]`; an export writes `PATH/NAME.overall_export_metadata` and one
  folder per collection (`all_namespaces/kind_ID/`, or `all_namespaces/all_kinds/` for all);
  an import reads an export's prefix; the bucket must exist.
Operations finish `operation_delay` seconds after they start, checked whenever one is read.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.cloud import firestore_admin_v1 as fa
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from gcp.emulator import fluxori
from gcp.emulator.core import (
    EmulatorError,
    Faults,
    Handler,
    Method,
    invalid,
    not_found,
    service_handler,
)
from gcp.emulator.storage import Storage

SERVICE = "google.firestore.admin.v1.FirestoreAdmin"
OPERATIONS_API = "google.longrunning.Operations"
IndexPb: Any = fa.Index.pb()
Order = fa.Index.IndexField.Order
_RESERVED = re.compile(r"^__.*__$")
# The fluxori seed's collections: documents and bytes per document.
SEED_COLLECTIONS = {"users": (1200, 900), "organizations": (40, 1500), "products": (800, 2200)}
SEED_COLLECTIONS_ORDERS = {"orders": (5400, 1300)}
SEED_INDEXES = (
    ("orders", (("createdAt", Order.DESCENDING), ("status", Order.ASCENDING))),
    (
        "products",
        (
            ("organizationId", Order.ASCENDING),
            ("category", Order.ASCENDING),
            ("price", Order.ASCENDING),
        ),
    ),
)
SEED_EXPORT_AGES_DAYS = {"dev": (20,), "staging": (1, 9), "prod": (1, 8)}  # dev's is stale


def bad_collection_id(collection: str) -> str:
    """Why `collection` is not a valid collection id, or ''."""
    if not collection or "/" in collection or collection in (".", ".."):
        return f"Collection id {collection!r} is invalid."
    if _RESERVED.match(collection) or len(collection.encode()) > 1500:
        return f"Collection id {collection!r} is reserved or too long."
    return ""


@dataclass
class _Pending:
    operation: str
    due: float
    finish: Callable[[Any], None]


class FirestoreAdmin:
    def __init__(self, storage: Storage, operation_delay: float = 0.2) -> None:
        self.storage = storage
        self.operation_delay = operation_delay
        self._lock = threading.RLock()
        self._indexes: dict[str, Any] = {}
        self._collections: dict[str, dict[str, tuple[int, int]]] = {}  # database -> id -> size
        self._operations: dict[str, Any] = {}
        self._pending: list[_Pending] = []
        self.other_operations: Callable[[Any], Message] | None = None  # Cloud Run's

    # --- seed -----------------------------------------------------------------------------

    def seed_fluxori(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        for env, project in fluxori.ENVIRONMENTS.items():
            database = _database(project)
            self._collections[database] = {**SEED_COLLECTIONS, **SEED_COLLECTIONS_ORDERS}
            for collection, fields in SEED_INDEXES:
                index = _index(database, collection, fields)
                index.state = fa.Index.State.READY
                self._indexes[index.name] = index
            bucket = f"{project}-backup"
            self.storage.create_bucket(bucket)
            for age in SEED_EXPORT_AGES_DAYS[env]:
                when = now - timedelta(days=age)
                self._write_export(database, f"gs://{bucket}/firestore/{when:%Y-%m-%d}", [], when)
            self.storage.put(bucket, f"storage/{now - timedelta(days=1):%Y-%m-%d}/uploads.tar", b"")

    def collections(self, project: str) -> dict[str, int]:
        with self._lock:
            sizes = self._collections.get(_database(project), {})
            return {c: docs for c, (docs, _) in sizes.items()}

    def set_documents(self, project: str, collection: str, documents: int) -> None:
        with self._lock:
            sizes = self._collections.setdefault(_database(project), {})
            sizes[collection] = (documents, sizes.get(collection, (0, 1000))[1])

    def indexes(self, project: str) -> list[Any]:
        with self._lock:
            self._settle()
            prefix = _database(project) + "/"
            return [_copy(i) for n, i in sorted(self._indexes.items()) if n.startswith(prefix)]

    # --- gRPC -----------------------------------------------------------------------------

    def handlers(self, faults: Faults) -> list[Handler]:
        def method(cls: Any, answer: Callable[[Any], Message]) -> Method:
            return Method(cls.pb(), answer)

        methods = {
            "ListIndexes": method(fa.ListIndexesRequest, self.list_indexes),
            "GetIndex": method(fa.GetIndexRequest, self.get_index),
            "CreateIndex": method(fa.CreateIndexRequest, self.create_index),
            "DeleteIndex": method(fa.DeleteIndexRequest, self.delete_index),
            "ExportDocuments": method(fa.ExportDocumentsRequest, self.export_documents),
            "ImportDocuments": method(fa.ImportDocumentsRequest, self.import_documents),
        }
        operations = {
            "GetOperation": Method(operations_pb2.GetOperationRequest, self.get_operation)
        }
        return [
            service_handler(SERVICE, methods, faults),
            service_handler(OPERATIONS_API, operations, faults),
        ]

    def list_indexes(self, request: Any) -> Message:
        database, collection = _collection_parent(request.parent)
        with self._lock:
            self._settle()
            found = [
                _copy(i)
                for name, i in sorted(self._indexes.items())
                if name.startswith(database + "/")
                and (collection == "-" or _collection_of(name) == collection)
            ]
        return fa.ListIndexesResponse.pb()(indexes=found)  # type: ignore[no-any-return]

    def get_index(self, request: Any) -> Message:
        with self._lock:
            self._settle()
            index = self._indexes.get(request.name)
            if index is None:
                raise not_found(f"Index {request.name} not found.")
            return _copy(index)  # type: ignore[no-any-return]

    def create_index(self, request: Any) -> Message:
        database, collection = _collection_parent(request.parent)
        _check_collection(collection)
        fields = tuple((f.field_path, f.order) for f in request.index.fields)
        if len(fields) < 2 or any(not path or not order for path, order in fields):
            raise invalid("A composite index needs at least two fields, each with an order.")
        with self._lock:
            if any(_same(i, collection, fields) for i in self._indexes.values()):
                raise EmulatorError(grpc.StatusCode.ALREADY_EXISTS, "Index already exists.")
            index = _index(database, collection, fields)
            self._indexes[index.name] = index
            metadata = fa.IndexOperationMetadata.pb()(index=index.name)
            metadata.state = fa.OperationState.PROCESSING
            return self._start(database, metadata, lambda op: self._index_ready(op, index.name))

    def delete_index(self, request: Any) -> Message:
        with self._lock:
            if self._indexes.pop(request.name, None) is None:
                raise not_found(f"Index {request.name} not found.")
        return empty_pb2.Empty()

    def export_documents(self, request: Any) -> Message:
        self._bucket_of(request.output_uri_prefix)  # the bucket must exist before anything starts
        for collection in request.collection_ids:
            _check_collection(collection)
        uri = request.output_uri_prefix.rstrip("/")
        metadata = fa.ExportDocumentsMetadata.pb()(
            output_uri_prefix=uri, collection_ids=list(request.collection_ids)
        )
        metadata.operation_state = fa.OperationState.PROCESSING
        collections = list(request.collection_ids)
        with self._lock:
            finish = lambda op: self._exported(op, request.name, uri, collections)  # noqa: E731
            return self._start(request.name, metadata, finish)

    def import_documents(self, request: Any) -> Message:
        bucket, path = self._bucket_of(request.input_uri_prefix)
        for collection in request.collection_ids:
            _check_collection(collection)
        path = path.rstrip("/")
        marker = f"{path}/{path.rsplit('/', 1)[-1]}.overall_export_metadata"
        if marker not in self.storage.objects(bucket, marker):
            raise invalid(
                f"{request.input_uri_prefix} is not an export: it has no overall_export_metadata."
            )
        available = self._exported_collections(bucket, path)
        missing = [c for c in request.collection_ids if c not in available]
        if missing:
            raise invalid(f"The export does not contain collection(s) {', '.join(missing)}.")
        wanted = list(request.collection_ids) or list(available)
        metadata = fa.ImportDocumentsMetadata.pb()(
            input_uri_prefix=request.input_uri_prefix, collection_ids=wanted
        )
        metadata.operation_state = fa.OperationState.PROCESSING
        with self._lock:
            return self._start(
                request.name,
                metadata,
                lambda op: self._imported(op, request.name, available, wanted),
            )

    def get_operation(self, request: Any) -> Message:
        with self._lock:
            self._settle()
            operation = self._operations.get(request.name)
            if operation is not None:
                return _copy(operation)  # type: ignore[no-any-return]
        if self.other_operations is not None and "/databases/" not in request.name:
            return self.other_operations(request)
        raise not_found(f"Operation {request.name} was not found.")

    # --- operations -----------------------------------------------------------------------

    def _start(self, database: str, metadata: Any, finish: Callable[[Any], None]) -> Message:
        name = f"{database}/operations/{secrets.token_hex(8)}"
        operation = operations_pb2.Operation(name=name)
        operation.metadata.Pack(metadata)
        self._operations[name] = operation
        self._pending.append(_Pending(name, time.monotonic() + self.operation_delay, finish))
        return _copy(operation)  # type: ignore[no-any-return]

    def _settle(self) -> None:
        now = time.monotonic()
        for pending in [p for p in self._pending if p.due <= now]:
            self._pending.remove(pending)
            operation = self._operations[pending.operation]
            pending.finish(operation)
            operation.done = True

    def _index_ready(self, operation: Any, index_name: str) -> None:
        index = self._indexes.get(index_name)
        metadata = fa.IndexOperationMetadata.pb()(index=index_name)
        metadata.state = fa.OperationState.SUCCESSFUL
        operation.metadata.Pack(metadata)
        if index is None:  # deleted while it was building
            operation.error.code = grpc.StatusCode.CANCELLED.value[0]
            operation.error.message = "The index was deleted before its build finished."
            return
        index.state = fa.Index.State.READY
        operation.response.Pack(index)

    def _exported(self, operation: Any, database: str, uri: str, collections: list[str]) -> None:
        documents, size = self._write_export(database, uri, collections, datetime.now(UTC))
        metadata = fa.ExportDocumentsMetadata.pb()(
            output_uri_prefix=uri, collection_ids=collections
        )
        metadata.operation_state = fa.OperationState.SUCCESSFUL
        metadata.progress_documents.completed_work = documents
        metadata.progress_bytes.completed_work = size
        operation.metadata.Pack(metadata)
        operation.response.Pack(fa.ExportDocumentsResponse.pb()(output_uri_prefix=uri))

    def _imported(
        self, operation: Any, database: str, available: dict[str, int], wanted: list[str]
    ) -> None:
        sizes = self._collections.setdefault(database, {})
        for collection in wanted:
            sizes[collection] = (available[collection], sizes.get(collection, (0, 1000))[1])
        metadata = fa.ImportDocumentsMetadata.pb()()
        operation.metadata.Unpack(metadata)
        metadata.operation_state = fa.OperationState.SUCCESSFUL
        metadata.progress_documents.completed_work = sum(available[c] for c in wanted)
        operation.metadata.Pack(metadata)
        operation.response.Pack(empty_pb2.Empty())

    def _write_export(
        self, database: str, uri: str, collections: list[str], when: datetime
    ) -> tuple[int, int]:
        bucket, path = self._bucket_of(uri)
        path = path.rstrip("/")
        sizes = self._collections.get(database, {})
        chosen = collections or sorted(sizes)
        documents = total = 0
        for number, collection in enumerate(chosen):
            docs, per_doc = sizes.get(collection, (0, 0))
            folder = "all_kinds" if not collections else f"kind_{collection}"
            self.storage.put(
                bucket,
                f"{path}/all_namespaces/{folder}/output-{number}",
                b"",
                when,
                {"collection": collection, "documents": str(docs)},
                size=docs * per_doc,
            )
            documents, total = documents + docs, total + docs * per_doc
        last = path.rsplit("/", 1)[-1]
        self.storage.put(bucket, f"{path}/{last}.overall_export_metadata", b"\x00" * 64, when)
        return documents, total

    def _exported_collections(self, bucket: str, path: str) -> dict[str, int]:
        found = self.storage.objects(bucket, f"{path}/all_namespaces/")
        return {
            o.metadata["collection"]: int(o.metadata.get("documents", "0"))
            for o in found.values()
            if "collection" in o.metadata
        }

    def _bucket_of(self, uri: str) -> tuple[str, str]:
        match = re.fullmatch(r"gs://([a-z0-9][a-z0-9._-]{1,220})(/.*)?", uri or "")
        if match is None:
            raise invalid(f"{uri!r} is not a Cloud Storage URI (gs://BUCKET[/PATH]).")
        bucket, path = match.group(1), (match.group(2) or "/")[1:]
        if not self.storage.has_bucket(bucket):
            raise not_found(f"Bucket {bucket} does not exist.")
        return bucket, path


def _database(project: str) -> str:
    return f"projects/{project}/databases/(default)"


def _collection_parent(parent: str) -> tuple[str, str]:
    match = re.fullmatch(r"(projects/[^/]+/databases/[^/]+)/collectionGroups/([^/]+)", parent)
    if match is None:
        raise invalid(f"parent {parent!r} is not projects/P/databases/D/collectionGroups/C.")
    return match.group(1), match.group(2)


def _collection_of(index_name: str) -> str:
    return index_name.split("/collectionGroups/")[1].split("/")[0]


def _check_collection(collection: str) -> None:
    why = bad_collection_id(collection)
    if why:
        raise invalid(why)


def _index(database: str, collection: str, fields: tuple[tuple[str, int], ...]) -> Any:
    index = IndexPb(
        name=f"{database}/collectionGroups/{collection}/indexes/CICAg{secrets.token_hex(5)}",
        query_scope=fa.Index.QueryScope.COLLECTION,
        state=fa.Index.State.CREATING,
    )
    for path, order in fields:
        index.fields.add(field_path=path, order=order)
    return index


def _same(index: Any, collection: str, fields: tuple[tuple[str, int], ...]) -> bool:
    mine = tuple((f.field_path, f.order) for f in index.fields)
    return _collection_of(index.name) == collection and mine == fields


def _copy(message: Any) -> Any:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate
