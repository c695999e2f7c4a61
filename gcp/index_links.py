"""From Firestore's "The query requires an index" error to the index it asks for.

Firestore answers such a query with FAILED_PRECONDITION and a console link whose
`create_composite` parameter is a base64-encoded, serialized `google.firestore.admin.v1.Index`
(its name ends in `collectionGroups/COLLECTION/indexes/_`; `__name__` is the implicit last
field): https://firebase.google.com/docs/firestore/query-data/indexing#use_the_firebase_console.
"""

from __future__ import annotations

import base64
import binascii
import re

from gcp.db_models import IndexField, IndexSpec

LINK = re.compile(
    r"https://console\.firebase\.google\.com/\S*?[?&]create_composite=([A-Za-z0-9+/_=-]+)"
)


def find_indexes(text: str) -> list[IndexSpec]:
    """Every distinct index a text's console links ask for, in order of appearance."""
    found: list[IndexSpec] = []
    for match in LINK.finditer(text):
        spec = decode(match.group(1))
        if spec is not None and spec not in found:
            found.append(spec)
    return found


def decode(value: str) -> IndexSpec | None:
    """The index a `create_composite` value encodes, or None when it is not one."""
    from google.cloud import firestore_admin_v1 as admin  # on first use: cold starts
    from google.protobuf.message import DecodeError

    padded = value.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(padded + "=" * (-len(padded) % 4), validate=True)
        index = admin.Index.pb()()
        index.ParseFromString(raw)
    except (binascii.Error, DecodeError, ValueError):
        return None
    orders = {
        admin.Index.IndexField.Order.ASCENDING: "ascending",
        admin.Index.IndexField.Order.DESCENDING: "descending",
    }
    fields = tuple(
        IndexField(f.field_path, orders[f.order])
        for f in index.fields
        if f.field_path != "__name__" and f.order in orders
    )
    match = re.search(r"/collectionGroups/([^/]+)/indexes/", index.name)
    if match is None or len(fields) < 2:
        return None
    return IndexSpec(match.group(1), fields)
