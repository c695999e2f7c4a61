"""The project's view of Firestore's indexes and exports and of Cloud Storage's objects:
frozen dataclasses, no protobufs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_DATABASE = "(default)"


@dataclass(frozen=True)
class DatabaseRef:
    project: str
    database: str = DEFAULT_DATABASE

    @property
    def name(self) -> str:
        return f"projects/{self.project}/databases/{self.database}"


@dataclass(frozen=True)
class IndexField:
    path: str
    order: str  # "ascending" or "descending" (the runbook's words)


@dataclass(frozen=True)
class IndexSpec:
    """A composite index as the runbook writes it: a collection group and ordered fields."""

    collection: str
    fields: tuple[IndexField, ...]

    @property
    def field_config(self) -> str:
        """`--field-config field-path=a,order=ascending --field-config …`, as gcloud takes it."""
        return " ".join(f"--field-config field-path={f.path},order={f.order}" for f in self.fields)

    @property
    def short(self) -> str:
        return ", ".join(f"{f.path} {f.order}" for f in self.fields)


@dataclass(frozen=True)
class Index:
    index_id: str
    spec: IndexSpec
    state: str  # "creating", "ready", "error"


@dataclass(frozen=True)
class DbOperation:
    """A Firestore admin long-running operation, as last read."""

    name: str
    done: bool
    error: str = ""
    documents: int = 0
    bytes: int = 0
    output_uri: str = ""


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    updated: datetime


@dataclass(frozen=True)
class Export:
    """One Firestore export in a bucket, read from its objects."""

    uri: str  # gs://bucket/firestore/2026-11-29
    date: str  # the folder's last part
    collections: tuple[str, ...]  # empty: every collection
    size: int
    complete: bool  # its overall export metadata file is there
    updated: datetime | None
