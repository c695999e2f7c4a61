"""Firestore's composite indexes from Slack: listed, created from a logged query's error,
deleted; each change planned, confirmed and reported in its thread."""

from __future__ import annotations

from typing import Any

from bot.store import Filters, State
from tests.support.slack import ALICE, BOB, click, plan, private_answer, run, text_of, thread
from tests.support.stack import OPS_CHANNEL, Stack

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


def offered(stack: Stack, text: str) -> dict[str, Any]:
    """Run a read verb; return its answer (with its buttons)."""
    assert stack.slack.slash_command(ALICE, OPS_CHANNEL, text=text).status == 200
    stack.idle()
    answer = stack.slack.messages(OPS_CHANNEL)[-1]
    assert stack.slack.replies(OPS_CHANNEL, answer["ts"]) == []
    return answer


def test_query_timeout_leads_to_the_index_it_asks_for(stack: Stack) -> None:
    """The logged index link becomes "Create this index"; Bob confirms; the index is ready."""
    answer = offered(stack, "logs fluxori-backend query-timeouts")
    assert "asks for an index on *orders*: `customerId` ascending, `createdAt` descending" in (
        text_of(answer)
    )
    assert text_of(answer).count("Create this index") == 1  # one offer per distinct index
    reply = stack.slack.click(ALICE, OPS_CHANNEL, answer["ts"], "db.create_index")
    assert reply.status == 200
    stack.idle()
    root = {"ts": answer["ts"]}
    card = stack.slack.replies(OPS_CHANNEL, root["ts"])[-1]  # planned in the answer's thread
    assert "field-path=customerId,order=ascending --field-config field-path=createdAt" in (
        text_of(card)
    )
    click(stack, card, "action.confirm", ALICE)  # prod: the requester's own click is refused
    assert "customerId,createdAt" not in index_states(stack, "orders")
    click(stack, card, "action.confirm", BOB)
    assert "The index on `orders` (customerId ascending, createdAt descending) is ready" in (
        thread(stack, root)
    )
    assert index_states(stack, "orders")["customerId,createdAt"] == "READY"
    _, listed = run(stack, "indexes orders")
    assert "`customerId` ascending, `createdAt` descending · ready" in listed


def test_errors_answer_offers_the_index_too(stack: Stack) -> None:
    """`/ops errors` finds the same link among grouped errors and offers the same index."""
    answer = offered(stack, "errors fluxori-backend --env staging")
    assert "Create this index" in text_of(answer)
    assert "staging|orders|customerId:asc,createdAt:desc" in text_of(answer)


def test_delete_names_the_logged_queries_on_its_collection(stack: Stack) -> None:
    """A delete plan names the logged queries on the index's collection; confirmed, it is gone."""
    index = next(
        i for i in stack.gcp.firestore_admin.indexes(PROD) if "/collectionGroups/orders/" in i.name
    )
    index_id = index.name.rsplit("/", 1)[-1]
    card = plan(stack, f"delete-index {index_id}")
    assert "Queries on `orders` in the last day's logs" in text_of(card)
    assert "`Query timeout`" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert f"Index `{index_id}` on `orders` is deleted" in thread(stack, card)
    assert "createdAt,status" not in index_states(stack, "orders")


def test_bad_index_requests_are_refused_with_the_reason(stack: Stack) -> None:
    """A bad collection id, a one-field index and an unknown index id: a reason, no plan."""
    before = len(stack.gcp.firestore_admin.indexes(PROD))
    for text, reason in (
        ("create-index a/b x:asc,y:desc", "is not a collection id"),
        ("create-index orders total:asc", "at least two fields"),
        ("create-index orders total:up,x:asc", "is not `field:asc` or `field:desc`"),
        ("delete-index NOPE", "There is no index `NOPE`"),
    ):
        assert reason in private_answer(stack, text)
    assert len(stack.gcp.firestore_admin.indexes(PROD)) == before
    assert stack.bot.deps.store.search(Filters(target="firestore", states=(State.PENDING,))) == []
