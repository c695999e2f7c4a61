"""Firestore's composite indexes from Slack: listed, created from a logged query's error,
deleted; each change planned, confirmed and reported in its thread."""

from __future__ import annotations

from tests.support.slack import BOB, click, plan, run, text_of, thread
from tests.support.stack import Stack

PROD = "fluxori-prod"


def index_states(stack: Stack, collection: str) -> dict[str, str]:
    """Fields -> state name of the emulator's indexes on `collection` in prod."""
    found = {}
    for index in stack.gcp.firestore_admin.indexes(PROD):
        if f"/collectionGroups/{collection}/" in index.name:
            fields = ",".join(f.field_path for f in index.fields)
            found[fields] = "READY" if index.state == 2 else "CREATING"
    return found


def test_indexes_lists_collection_fields_order_and_state(stack: Stack) -> None:
    """`/ops indexes` answers with each seeded index: collection, fields with order, state."""
    _, answer = run(stack, "indexes")
    assert "*orders*: `createdAt` descending, `status` ascending · ready" in answer
    assert "*products*: `organizationId` ascending" in answer
    _, only = run(stack, "indexes products")
    assert "orders" not in only
    assert "products" in only


def test_created_index_is_followed_until_ready(stack: Stack) -> None:
    """A typed create-index plan shows the runbook's command; confirmed, the thread says ready."""
    card = plan(stack, "create-index orders customerId:asc,total:desc")
    assert "--field-config field-path=customerId,order=ascending" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert "is ready" in thread(stack, card)
    assert index_states(stack, "orders")["customerId,total"] == "READY"
    _, answer = run(stack, "indexes orders")
    assert "`customerId` ascending, `total` descending · ready" in answer
