""" "Create this index" under `/ops errors` and `/ops logs … query-timeouts` answers: one offer
per distinct index that Firestore's "The query requires an index" errors ask for, already
decoded into collection, fields and order (gcp/index_links.py)."""

from __future__ import annotations

import json

from gcp.db_models import IndexSpec
from gcp.index_links import find_indexes
from gcp.models import LogEntry
from handlers import blocks as bk
from handlers.buttons import CREATE_INDEX, SEPARATOR
from handlers.indexes import field_list, spec_text

MAX_VALUE = 200  # what the click handler reads of a button's value
MAX_OFFERS = 5


def indexes_asked_for(entries: list[LogEntry]) -> list[IndexSpec]:
    found: list[IndexSpec] = []
    for entry in entries:
        if "create_composite=" not in entry.message + json.dumps(entry.payload):
            continue  # most entries: no link, no decoding
        for spec in find_indexes(entry.message + " " + json.dumps(entry.payload)):
            if spec not in found:
                found.append(spec)
    return found


def button_value(env: str, spec: IndexSpec) -> str:
    return SEPARATOR.join((env, spec.collection, spec_text(spec)))


def offers(entries: list[LogEntry], env: str) -> list[bk.Block]:
    out: list[bk.Block] = []
    for number, spec in enumerate(indexes_asked_for(entries)[:MAX_OFFERS]):
        fields = field_list(spec)
        text = f":mag: Firestore asks for an index on *{bk.escape(spec.collection)}*: {fields}"
        value = button_value(env, spec)
        if len(value) > MAX_VALUE:
            out.append(
                bk.section(
                    f"{text}\n{bk.code(f'/ops create-index {spec.collection} {spec_text(spec)}')}"
                )
            )
            continue
        out.append(bk.section(text))
        out.append(
            bk.actions(f"index-offer-{number}", bk.button("Create this index", CREATE_INDEX, value))
        )
    return out
