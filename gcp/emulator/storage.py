"""Cloud Storage's JSON API, the subset the bot's adapter uses, over plain HTTP.

What the official client reaches (https://cloud.google.com/storage/docs/json_api/v1):
`GET /storage/v1/b/BUCKET` (buckets.get), `GET /storage/v1/b/BUCKET/o` (objects.list, with
`prefix`, `delimiter`, `maxResults` and `pageToken`; with a delimiter, names that continue past
it are folded into `prefixes`), `GET /storage/v1/b/BUCKET/o/OBJECT` (objects.get; `alt=media`
for the data, also under `/download/…` as the client sends it). Errors are JSON as documented in
https://cloud.google.com/storage/docs/json_api/v1/status-codes: 404 with reason `notFound`.
Clients find it through `STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PAGE_SIZE = 1000  # objects.list's maxResults default


@dataclass
class StoredObject:
    data: bytes
    updated: datetime
    generation: int
    metadata: dict[str, str] = field(default_factory=dict)
    size: int = 0  # an export's data objects are sized without holding their bytes


class Storage:
    """Buckets of objects in memory; the Firestore Admin emulator writes its exports here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[str, StoredObject]] = {}
        self._generation = 0
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def create_bucket(self, bucket: str) -> None:
        with self._lock:
            self._buckets.setdefault(bucket, {})

    def delete_bucket(self, bucket: str) -> None:
        with self._lock:
            self._buckets.pop(bucket, None)

    def has_bucket(self, bucket: str) -> bool:
        with self._lock:
            return bucket in self._buckets

    def put(
        self,
        bucket: str,
        name: str,
        data: bytes,
        updated: datetime | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
    ) -> None:
        with self._lock:
            self._generation += 1
            self._buckets[bucket][name] = StoredObject(
                data,
                updated or datetime.now(UTC),
                self._generation,
                dict(metadata or {}),
                len(data) if size is None else size,
            )

    def objects(self, bucket: str, prefix: str = "") -> dict[str, StoredObject]:
        """Raises KeyError for a missing bucket."""
        with self._lock:
            items = self._buckets[bucket]
            return {n: o for n, o in sorted(items.items()) if n.startswith(prefix)}

    def buckets(self) -> list[str]:
        with self._lock:
            return sorted(self._buckets)

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        storage = self

        class Handler(_Handler):
            state = storage

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    state: Storage

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests' output stays readable

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [unquote(p) for p in url.path.split("/")]
        if parts[1:2] == ["download"]:  # media downloads: /download/storage/v1/b/B/o/O?alt=media
            parts = parts[:1] + parts[2:]
        if parts[1:3] != ["storage", "v1"] or len(parts) < 5 or parts[3] != "b":
            self._error(404, "Not Found")
            return
        bucket = parts[4]
        if not self.state.has_bucket(bucket):
            self._error(404, "The specified bucket does not exist.")
            return
        if len(parts) == 5:
            self._json({"kind": "storage#bucket", "id": bucket, "name": bucket})
        elif len(parts) == 6 and parts[5] == "o":
            self._json(_listing(self.state.objects(bucket, query.get("prefix", "")), query, bucket))
        elif len(parts) >= 7 and parts[5] == "o":
            self._object(bucket, "/".join(parts[6:]), query)
        else:
            self._error(404, "Not Found")

    def _object(self, bucket: str, name: str, query: dict[str, str]) -> None:
        item = self.state.objects(bucket, name).get(name)
        if item is None:
            self._error(404, f"No such object: {bucket}/{name}")
            return
        if query.get("alt") == "media":
            self._send(200, item.data, "application/octet-stream")
            return
        self._json(_resource(bucket, name, item))

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=UTF-8")

    def _error(self, status: int, message: str) -> None:
        reason = {"domain": "global", "reason": "notFound", "message": message}
        self._json({"error": {"code": status, "message": message, "errors": [reason]}}, status)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _listing(items: dict[str, StoredObject], query: dict[str, str], bucket: str) -> dict[str, Any]:
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    names: list[str] = []
    prefixes: set[str] = set()
    for name in items:
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
        else:
            names.append(name)
    start = int(query.get("pageToken") or 0)
    size = int(query.get("maxResults") or DEFAULT_PAGE_SIZE)
    page = names[start : start + size]
    body: dict[str, Any] = {
        "kind": "storage#objects",
        "items": [_resource(bucket, n, items[n]) for n in page],
    }
    if prefixes:
        body["prefixes"] = sorted(prefixes)
    if start + size < len(names):
        body["nextPageToken"] = str(start + size)
    return body


def _resource(bucket: str, name: str, item: StoredObject) -> dict[str, Any]:
    stamp = item.updated.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{item.generation}",
        "name": name,
        "bucket": bucket,
        "generation": str(item.generation),
        "size": str(item.size),
        "contentType": "application/octet-stream",
        "timeCreated": stamp,
        "updated": stamp,
        "metadata": item.metadata,
    }
