"""`/ops history` finds every record, however old, on both stores, and tells reviewers what
happened: what changed, why it failed, where (environment, thread), and how to see older."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import registry
from bot.changes import maintenance
from bot.dev.local_google import LocalGoogleCerts
from bot.ops import history, home
from bot.store import Event, Filters, State
from bot.store.base import SEEN_TTL
from bot.store.filtering import action_branches, refusal_equalities
from bot.store.model import event_record
from gcp.emulator import Emulator
from tests.support.records import START, record, seed_sqlite
from tests.support.slack import ALICE, BOB, CAROL, click, plan, text_of
from tests.support.stack import OPS_CHANNEL, Stack, start_stack

FIRESTORE_TF = Path(__file__).resolve().parent.parent / "deploy" / "terraform" / "firestore.tf"
FAILED_BECAUSE = "Cloud Run refused the update: quota exceeded for CPU in africa-south1"


def ask(stack: Stack, text: str, user: str = CAROL) -> tuple[str, str]:
    """Run `/ops TEXT`; the answer's first line (who ran what) and the rest of it."""
    assert stack.slack.slash_command(user, OPS_CHANNEL, text=text).status == 200
    stack.idle()
    who, *answer = stack.slack.messages(OPS_CHANNEL)[-1]["blocks"]
    return json.dumps(who, ensure_ascii=False), json.dumps(answer, ensure_ascii=False)


def shown(answer: str, count: int) -> list[int]:
    """Which of records 0..count-1 an answer lists."""
    return [n for n in range(count) if f"scale #{n:02d}" in answer]


def store_path(stack: Stack) -> str:
    return stack.bot.deps.settings.store.removeprefix("sqlite:")


# --- Firestore: every query the store issues has its composite index ---------------------


def declared_indexes(name: str) -> set[tuple[str, ...]]:
    """The equality fields of each composite index declared in firestore.tf's `locals`."""
    found = re.search(rf"{name}\s*=\s*(\[.*?\n  \])", FIRESTORE_TF.read_text(), re.S)
    assert found, f"{name} is not declared in {FIRESTORE_TF.name}"
    return {tuple(fields) for fields in json.loads(found.group(1))}


def every_filters() -> Iterator[Filters]:
    """Each combination of the filters people use, with and without a time window."""
    for env, target, states, user, before in itertools.product(
        ("", "prod"),
        ("", "fluxori-backend"),
        ((), (State.FAILED,), (State.FAILED, State.SUCCEEDED)),
        ("", ALICE),
        (None, START),
    ):
        yield Filters(env=env, target=target, states=states, user=user, before=before)


def test_every_history_query_has_its_composite_index() -> None:
    """Each shape of history query (its equality fields, newest first) has exactly one
    composite index in deploy/terraform/firestore.tf, and no index is left unused."""
    actions = {tuple(b) for f in every_filters() for b in action_branches(f) if b}
    refusals = {tuple(refusal_equalities(f)) for f in every_filters()}
    assert declared_indexes("action_index_equalities") == actions
    assert declared_indexes("refusal_index_equalities") == refusals
    text = FIRESTORE_TF.read_text()
    assert 'collection = "ops_actions", fields = concat(f, ["created_at"])' in text
    assert 'collection = "ops_refusals", fields = concat(f, ["at"])' in text
    assert 'fields.key == length(each.value.fields) - 1 ? "DESCENDING" : "ASCENDING"' in text


# --- SQLite: every record, at once ----------------------------------------------------------


def test_the_oldest_of_100k_actions_is_found_at_once(stack: Stack) -> None:
    """With 100,000 actions, a filter matching only the oldest (a failed one by a rare user)
    answers it, with why it failed; the lookup stays far under a generous bound."""
    oldest = record(0, requested_by="U_RARE", state=State.FAILED, outcome=FAILED_BECAUSE)
    stack.bot.deps.store.create(oldest)
    seed_sqlite(store_path(stack), 100_000, START + timedelta(seconds=1))
    _, answer = ask(stack, "history --user <@U_RARE> --outcome failed")
    assert "scale #00" in answer
    assert FAILED_BECAUSE in answer
    cmd = registry.parse("history --user <@U_RARE>", stack.bot.deps.config)
    began = time.perf_counter()
    blocks = history.render(cmd, stack.bot.deps)
    took_ms = (time.perf_counter() - began) * 1000
    print(f"history --user (oldest of 100k, SQLite): {took_ms:.1f} ms")
    assert "scale #00" in json.dumps(blocks)
    assert took_ms < 1000  # generous: tests/bench.py reports the real figure


def test_a_refusal_older_than_the_newest_500_is_found(stack: Stack) -> None:
    """`--outcome refused --user` finds a refusal with 600 newer ones of other people."""
    store = stack.bot.deps.store
    context = {"verb": "rollback", "env": "prod", "target": "fluxori-backend"}
    store.record_refusal(Event(START, "refused", "U_RARE", "outside the change window"), context)
    for i in range(600):
        at = START + timedelta(minutes=i + 1)
        store.record_refusal(Event(at, "refused", f"U{i % 7}", "rate limit"), context)
    _, answer = ask(stack, "history --outcome refused --user <@U_RARE>")
    assert "outside the change window" in answer
    assert "No refused requests" not in answer


def test_a_full_page_says_how_many_and_the_before_that_shows_older(stack: Stack) -> None:
    """12 matches with `--limit 5`: the newest 5 of 12, and the `--before` it suggests
    shows the next 5, none repeated."""
    for n in range(12):
        stack.bot.deps.store.create(record(n))
    _, first = ask(stack, "history --limit 5")
    assert "Showing the newest 5 of 12" in first
    assert shown(first, 12) == list(range(7, 12))
    cursor = re.search(r"--before ([0-9T:.-]+)", first)
    assert cursor
    _, second = ask(stack, f"history --limit 5 --before {cursor.group(1)}")
    assert shown(second, 12) == list(range(2, 7))
    assert "Showing the newest 5 of 7" in second


def test_a_page_larger_than_a_message_still_ends_with_the_way_to_older(stack: Stack) -> None:
    """`--limit 100` over 60 matches shows what fits in one Slack message (50 blocks) and
    says how to see the rest, instead of a cut-off answer."""
    for n in range(60):
        stack.bot.deps.store.create(record(n))
    _, answer = ask(stack, "history --limit 100")
    assert shown(answer, 60) == list(range(13, 60))
    assert "Showing the newest 47 of 60" in answer
    assert "truncated" not in answer


def test_since_and_before_bound_the_window(stack: Stack) -> None:
    """`--since DATE --before DATE` lists only what was created in between, and says so."""
    for n, day in enumerate((0, 1, 2)):
        stack.bot.deps.store.create(record(n, created_at=START + timedelta(days=day)))
    _, answer = ask(stack, "history --since 2026-01-02 --before 2026-01-03T12:00")
    assert "scale #01" in answer
    assert "scale #02" in answer
    assert "scale #00" not in answer
    assert "since 2026-01-02T00:00:00 before 2026-01-03T12:00:00" in answer


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("history --before yesterday", "is not a date"),
        ("history --since 2026-13-45", "is not a date"),
        ("history --since 2026-02-01 --before 2026-01-01", "must be earlier than"),
        ("errors fluxori-backend --since 2026-01-01", "is not a duration"),
    ],
)
def test_bad_dates_are_answered_with_the_reason(stack: Stack, text: str, reason: str) -> None:
    """A date history cannot read is refused privately with what to type instead."""
    assert stack.slack.slash_command(CAROL, OPS_CHANNEL, text=text).status == 200
    assert reason in text_of(stack.slack.ephemerals(CAROL, OPS_CHANNEL)[-1])


# --- What reviewers read --------------------------------------------------------------------


def test_entries_show_what_changed_why_it_failed_and_link_the_thread(stack: Stack) -> None:
    """A confirmed scale shows its before → after and a permalink to its card; a failed
    change shows why."""
    card = plan(stack, "scale fluxori-backend min=3")
    click(stack, card, "action.confirm", BOB)
    stack.bot.deps.store.create(
        record(1, state=State.FAILED, outcome=FAILED_BECAUSE, created_at=datetime.now(UTC))
    )
    _, answer = ask(stack, "history fluxori-backend")
    assert re.search(r"Min instances: `\d+` → `3`", answer, re.I), answer
    assert f"*Why:* {FAILED_BECAUSE}" in answer
    link = f"https://{stack.slack.workspace.seed.domain}.slack.com/archives/{OPS_CHANNEL}/p"
    assert f"<{link}{card['ts'].replace('.', '')}|thread>" in answer


def test_env_dev_lists_only_dev_and_says_so(stack: Stack) -> None:
    """`--env dev` lists dev's actions only and is labelled dev; without it every
    environment is listed and labelled so, not as the default environment."""
    for n, env in enumerate(("dev", "staging", "prod")):
        stack.bot.deps.store.create(record(n, env=env, summary=f"scale in {env}"))
    root, answer = ask(stack, "history --env dev")
    assert "· *dev*" in root
    assert "History · dev" in answer
    assert "scale in dev" in answer
    assert "scale in prod" not in answer
    assert "scale in staging" not in answer
    root, answer = ask(stack, "history")
    assert "· *all environments*" in root
    assert "History · all environments" in answer
    assert all(f"scale in {env}" in answer for env in ("dev", "staging", "prod"))


def test_deduplication_keys_older_than_their_window_are_gone_after_the_sweep(
    stack: Stack,
) -> None:
    """The maintenance sweep deletes SQLite's de-duplication keys older than SEEN_TTL and
    keeps younger ones, as Firestore's TTL does."""
    store, now = stack.bot.deps.store, stack.bot.deps.now()
    for i in range(30):
        assert store.first_seen(f"old/{i}", now - SEEN_TTL - timedelta(hours=1))
    assert store.first_seen("young", now - timedelta(hours=1))
    maintenance.sweep(stack.bot.deps)
    with sqlite3.connect(store_path(stack)) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM seen")]
    assert keys == ["young"]


# --- Firestore (Google's emulator): past the old 1,000-action window ---------------------------


@pytest.fixture
def firestore_stack(
    request: pytest.FixtureRequest,
    emulator: Emulator,
    tmp_path: Path,
    google: LocalGoogleCerts,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Stack, Any]]:
    """The bot with BOT_STORE=firestore on Google's emulator (a project of its own), and a
    client of that project for seeding."""
    from tests.support.emulators import firestore_client, unique_project

    host = request.getfixturevalue("firestore_emulator")
    project = unique_project()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    stack = start_stack(emulator, tmp_path, google, store="firestore")
    yield stack, firestore_client(host, project)
    stack.stop()


def write_all(client: Any, collection: str, documents: list[tuple[str, dict[str, Any]]]) -> None:
    """Seed documents in batches of 500 (Firestore's limit per commit)."""
    for start in range(0, len(documents), 500):
        batch = client.batch()
        for doc_id, data in documents[start : start + 500]:
            batch.set(client.collection(collection).document(doc_id), data)
        batch.commit()


@pytest.mark.emulators
def test_firestore_finds_what_is_older_than_the_newest_1000_and_500(
    firestore_stack: tuple[Stack, Any],
) -> None:
    """On Firestore, `--user` finds an action behind 1,100 newer ones and `--outcome refused`
    a refusal behind 600 newer ones, through the same command."""
    stack, client = firestore_stack
    actions = [record(0, requested_by="U_RARE", summary="the oldest")]
    actions += [record(n, requested_by=f"U{n % 9}") for n in range(1, 1101)]
    write_all(client, "ops_actions", [(a.id, a.to_record()) for a in actions])
    context = {"verb": "rollback", "env": "prod", "target": "fluxori-backend"}
    refusals = [
        (
            f"r{i:04d}",
            {
                **event_record(Event(START + timedelta(minutes=i), "refused", by, why)),
                "context": context,
            },
        )
        for i, (by, why) in enumerate(
            [("U_RARE", "outside the change window")]
            + [(f"U{i % 7}", "rate limit") for i in range(600)]
        )
    ]
    write_all(client, "ops_refusals", refusals)
    _, answer = ask(stack, "history --user <@U_RARE>")
    assert "the oldest" in answer
    assert "No actions" not in answer
    _, answer = ask(stack, "history --limit 3")
    assert "Showing the newest 3 of 1101" in answer
    _, answer = ask(stack, "history --outcome refused --user <@U_RARE>")
    assert "outside the change window" in answer


def test_home_lists_the_readers_environments_however_busy_the_others(stack: Stack) -> None:
    """App Home of a dev reader lists dev's latest action and its pending plan behind 60
    newer prod actions."""
    store = stack.bot.deps.store
    store.create(record(0, env="dev", summary="the dev change"))
    store.create(record(1, env="dev", state=State.PENDING, summary="the dev plan"))
    for n in range(2, 62):
        store.create(record(n, state=State.PENDING if n % 2 else State.SUCCEEDED))
    blocks = json.dumps(home.home_blocks(stack.bot.deps, ("dev",)), ensure_ascii=False)
    assert "the dev change" in blocks
    assert "the dev plan" in blocks
    assert "scale #02" not in blocks


def test_a_refused_self_approval_is_listed_under_refused(stack: Stack) -> None:
    """Alice's own Confirm in prod is refused: `--outcome refused` lists it, who and why."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", ALICE)
    _, answer = ask(stack, "history --outcome refused")
    assert "second person" in answer
    assert "<@U_ALICE>" in answer


def test_a_refusal_keeps_its_time_readable(stack: Stack) -> None:
    """A rate-limit refusal carries a time; history shows it as a date Slack renders in the
    reader's time zone, not as escaped text."""
    policy = stack.bot.deps.policy
    policy.config = replace(policy.config, rate_limit=1)
    plan(stack, "rollback fluxori-backend")
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend max=12")
    stack.idle()
    _, answer = ask(stack, "history --outcome refused")
    assert "<!date^" in answer
    assert "&lt;!date^" not in answer
