"""The emulated Firestore Admin API and Cloud Storage JSON API as Google's own clients see
them: operations that finish, the documented errors, objects listed by prefix and folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client as StorageClient

from gcp.clients import FAST_SETTINGS, Clients
from gcp.db_models import DatabaseRef, IndexField, IndexSpec
from gcp.emulator import Emulator
from gcp.errors import AlreadyExists, InvalidArgument, NotFound
from gcp.firestore_admin import FirestoreAdminAdapter

DB = DatabaseRef("fluxori-staging")
SPEC = IndexSpec("orders", (IndexField("total", "ascending"), IndexField("day", "descending")))


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[FirestoreAdminAdapter]:
    shared = Clients(emulator.address, FAST_SETTINGS, storage_emulator_host=emulator.storage_url)
    yield FirestoreAdminAdapter(shared)
    shared.close()


@pytest.fixture
def storage(emulator: Emulator) -> StorageClient:
    return StorageClient(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.storage_url},
    )


def test_index_is_creating_then_ready_through_its_operation(
    admin: FirestoreAdminAdapter,
) -> None:
    """CreateIndex answers an operation; the index is CREATING until it is done, then READY."""
    operation = admin.create_index(DB, SPEC)
    states = {i.state for i in admin.list_indexes(DB, "orders") if i.spec == SPEC}
    assert states == {"creating"}
    admin.follow(operation, lambda state: None, "create")
    assert {i.state for i in admin.list_indexes(DB, "orders") if i.spec == SPEC} == {"ready"}
    with pytest.raises(AlreadyExists):
        admin.create_index(DB, SPEC)


def test_documented_errors_for_bucket_export_and_collection(
    admin: FirestoreAdminAdapter,
) -> None:
    """A missing bucket is NOT_FOUND; a prefix with no export and a bad id INVALID_ARGUMENT."""
    with pytest.raises(NotFound, match="Bucket nowhere does not exist"):
        admin.export(DB, "gs://nowhere/firestore/x", ())
    with pytest.raises(InvalidArgument, match="overall_export_metadata"):
        admin.import_(DB, "gs://fluxori-staging-backup/firestore/1999-01-01", ())
    with pytest.raises(InvalidArgument, match="__users__"):
        admin.export(DB, "gs://fluxori-staging-backup/firestore/x", ("__users__",))
    with pytest.raises(NotFound):
        admin.delete_index(DB, "orders", "missing")


def test_storage_json_api_lists_by_prefix_and_folder(storage: StorageClient) -> None:
    """objects.list with a delimiter folds names into prefixes; get and media work; 404s."""
    assert storage.get_bucket("fluxori-prod-backup").name == "fluxori-prod-backup"
    listing = storage.list_blobs("fluxori-prod-backup", prefix="firestore/", delimiter="/")
    assert list(listing) == []
    assert len(listing.prefixes) == 2
    blob = next(iter(storage.list_blobs("fluxori-prod-backup", prefix="storage/")))
    assert storage.bucket("fluxori-prod-backup").get_blob(blob.name) is not None
    assert storage.bucket("fluxori-prod-backup").blob(blob.name).download_as_bytes() == b""
    assert storage.bucket("fluxori-prod-backup").get_blob("no/such/object") is None
    with pytest.raises(gexc.NotFound):
        storage.get_bucket("no-such-bucket")
