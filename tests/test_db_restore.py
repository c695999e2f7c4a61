"""The runbook's Partial Recovery from Slack: a restore planned with the overwrite warning,
refused for the requester's own Confirm in every environment, confirmed by a second person."""

from __future__ import annotations

from bot.store import Filters, State
from tests.support.slack import (
    ALICE,
    BOB,
    action_id_of,
    click,
    plan,
    private_answer,
    text_of,
    thread,
)
from tests.support.stack import OPS_CHANNEL, Stack


def newest_export(stack: Stack, bucket: str) -> str:
    names = stack.gcp.storage.objects(bucket, "firestore/")
    return max(name.split("/")[1] for name in names)


def test_restore_of_one_collection_needs_a_second_person_even_in_dev(stack: Stack) -> None:
    """Dev: the plan warns of overwriting; Alice's Confirm is refused; Bob's imports users."""
    date = newest_export(stack, "fluxori-dev-backup")
    stack.gcp.firestore_admin.set_documents("fluxori-dev", "users", 7)  # a bad write
    card = plan(stack, f"restore {date} --collections users --env dev")
    assert "Documents will be overwritten" in text_of(card)
    assert f"Restore `users` from the {date} export" in text_of(card)
    assert "Export the current data" not in text_of(card)  # dev: no export first
    click(stack, card, "action.confirm", ALICE)
    private = stack.slack.ephemerals(ALICE, OPS_CHANNEL)
    assert "second person" in text_of(private[-1])
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.PENDING
    assert stack.gcp.firestore_admin.collections("fluxori-dev")["users"] == 7
    click(stack, card, "action.confirm", BOB)
    assert "Imported 1,200 documents of `users`" in thread(stack, card)
    assert stack.gcp.firestore_admin.collections("fluxori-dev")["users"] == 1200


def test_prod_restore_exports_the_current_data_first(stack: Stack) -> None:
    """Prod: the plan's first step is an export of the current data; it is done before import."""
    date = newest_export(stack, "fluxori-prod-backup")
    card = plan(stack, f"restore {date} --collections orders")
    assert "1. Export the current data" in text_of(card)
    assert "-before-restore" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    said = thread(stack, card)
    assert "Imported 5,400 documents of `orders`" in said
    assert "The data before it is in `gs://fluxori-prod-backup/firestore/" in said
    assert newest_export(stack, "fluxori-prod-backup").endswith("-before-restore")


def test_missing_export_and_bad_collection_are_refused_without_change(stack: Stack) -> None:
    """An export that is not there, a collection not in it, a bad id: a reason and no plan."""
    for text, reason in (
        ("restore 1999-01-01 --env staging", "There is no export `1999-01-01`"),
        ("restore 2000-01-01 --collections ../x --env staging", "is not a collection id"),
    ):
        assert reason in private_answer(stack, text)
    assert stack.bot.deps.store.search(Filters(target="firestore", states=(State.PENDING,))) == []


def test_collection_missing_from_the_export_is_refused(stack: Stack) -> None:
    """An export of `users` alone cannot restore `orders`: the plan says what it holds."""
    card = plan(stack, "export --collections users --env dev")
    click(stack, card, "action.confirm", ALICE)  # dev: one person may export
    date = newest_export(stack, "fluxori-dev-backup")
    refusal = private_answer(stack, f"restore {date} --collections orders --env dev")
    assert f"The export `{date}` does not contain `orders`; it holds `users`" in refusal
