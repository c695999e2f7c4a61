"""The runbook's Backup Verification and Export from Slack: exports listed from the backup
bucket's objects, a stale one warned about, a confirmed export landing in the bucket."""

from __future__ import annotations

from bot.store import Filters, State
from tests.support.slack import BOB, click, plan, private_answer, run, text_of, thread
from tests.support.stack import Stack


def exports_in(stack: Stack, bucket: str) -> list[str]:
    names = stack.gcp.storage.objects(bucket, "firestore/")
    return sorted({name.split("/")[1] for name in names})


def test_backups_lists_exports_newest_first_with_their_age(stack: Stack) -> None:
    """Prod's seeded exports: dates newest first, all collections, size, complete, fresh."""
    _, answer = run(stack, "backups")
    dates = exports_in(stack, "fluxori-prod-backup")
    assert answer.index(f"*{dates[-1]}*") < answer.index(f"*{dates[0]}*")
    assert "all collections · 9.9 MB · complete" in answer
    assert ":white_check_mark: Newest complete export" in answer
    assert "Cloud Storage backups (`storage/`)" in answer


def test_stale_backup_is_warned_about(stack: Stack) -> None:
    """Dev's newest export is 20 days old, past the 48 h maximum: the answer warns."""
    _, answer = run(stack, "backups --env dev")
    assert ":warning: *Newest complete export:" in answer
    assert "20 d 0 h old*: older than 48 h" in answer


def test_export_lands_in_the_bucket_and_in_the_backups_list(stack: Stack) -> None:
    """A confirmed export of two collections: documents and bytes in the thread, then listed."""
    card = plan(stack, "export --collections users,orders --env staging")
    assert "gcloud firestore export gs://fluxori-staging-backup/firestore/" in text_of(card)
    assert "--collection-ids='users,orders'" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert "Exported 6,600 documents (8.1 MB) of `users`, `orders`" in thread(stack, card)
    _, answer = run(stack, "backups --env staging")
    assert "`orders`, `users` · 8.1 MB · complete" in answer


def test_missing_bucket_and_bad_collection_are_refused_without_change(stack: Stack) -> None:
    """No backup bucket, or a bad collection id: a clear reason, no plan, nothing written."""
    stack.gcp.storage.delete_bucket("fluxori-dev-backup")
    before = exports_in(stack, "fluxori-staging-backup")
    for text, reason in (
        ("export --env dev", "The backup bucket `gs://fluxori-dev-backup` does not exist"),
        ("export --collections users,a/b --env staging", "`a/b` is not a collection id"),
    ):
        assert reason in private_answer(stack, text)
    _, answer = run(stack, "backups --env dev")
    assert "The backup bucket `gs://fluxori-dev-backup` does not exist" in answer
    assert exports_in(stack, "fluxori-staging-backup") == before
    assert stack.bot.deps.store.search(Filters(target="firestore", states=(State.PENDING,))) == []
