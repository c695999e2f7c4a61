"""Reliability: Google and Slack faults, and storms, end with a clear message and a correct
record; nothing runs twice and nothing is lost."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import grpc

from bot.changes import maintenance
from bot.store import State
from tests.support.slack import (
    BOB,
    action_id_of,
    cards,
    click,
    envelope,
    plan,
    push,
    run,
    serving,
    text_of,
    thread,
)
from tests.support.stack import OPS_CHANNEL, Stack


def test_unavailable_reads_are_retried(stack: Stack) -> None:
    """Two UNAVAILABLE answers on a read are retried with backoff; the user sees the status."""
    stack.gcp.faults.inject("GetService", code=grpc.StatusCode.UNAVAILABLE, times=2)
    _, answer = run(stack, "status fluxori-backend")
    assert "Traffic" in answer


def test_quota_on_logs_is_explained(stack: Stack) -> None:
    """RESOURCE_EXHAUSTED from Logging: a throttling message, not an error dump."""
    stack.gcp.faults.inject("ListLogEntries", code=grpc.StatusCode.RESOURCE_EXHAUSTED, times=1000)
    _, answer = run(stack, "errors fluxori-backend")
    assert "throttling" in answer


def test_not_found_service_is_explained(stack: Stack) -> None:
    """NOT_FOUND from Cloud Run says it does not exist and suggests checking --env."""
    stack.gcp.faults.inject("GetService", code=grpc.StatusCode.NOT_FOUND, message="no such service")
    _, answer = run(stack, "status fluxori-frontend --env dev")
    assert "does not exist" in answer
    assert "--env" in answer


def test_deadline_on_the_update_is_not_blindly_repeated(stack: Stack) -> None:
    """DEADLINE_EXCEEDED on UpdateService: one attempt, failed record, what to check next."""
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    stack.gcp.faults.inject("UpdateService", code=grpc.StatusCode.DEADLINE_EXCEEDED, times=1)
    stack.gcp.faults.inject(
        "UpdateService", code=grpc.StatusCode.INTERNAL, times=5, message="should not be reached"
    )
    click(stack, card, "action.confirm", BOB)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.FAILED
    assert serving(stack) == before
    assert "Check `/ops status` before retrying" in thread(stack, card)


def test_slack_rate_limit_does_not_lose_the_outcome(stack: Stack) -> None:
    """429 with Retry-After on a thread post: the outcome is recorded at once, and the sweep
    after Retry-After delivers the thread's posts in their order."""
    card = plan(stack, "rollback fluxori-backend")
    stack.slack.fail_next("chat.postMessage", status=429, retry_after=1, times=1)
    click(stack, card, "action.confirm", BOB)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.SUCCEEDED
    assert "Traffic of `fluxori-backend` now" not in thread(stack, card)
    stack.advance(seconds=5)
    assert maintenance.sweep(stack.bot.deps).delivered == 2
    text = thread(stack, card)
    assert text.index("Moving traffic") < text.index("Traffic of `fluxori-backend` now")


def test_slack_500s_are_retried_within_limits(stack: Stack) -> None:
    """Two 500s on chat.update (the approved card, retried once): the final update supersedes
    it and the card shows the outcome."""
    card = plan(stack, "rollback fluxori-backend")
    stack.slack.fail_next("chat.update", status=500, times=2)
    click(stack, card, "action.confirm", BOB)
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "Done" in text_of(updated)


def test_fifty_concurrent_confirms_one_execution(stack: Stack) -> None:
    """A storm of 50 clicks from two approvers on one plan runs it once."""
    card = plan(stack, "rollback fluxori-backend")
    users = ("U_BOB", "U_CAROL")

    def confirm(i: int) -> int:
        try:
            return stack.slack.click(users[i % 2], OPS_CHANNEL, card["ts"], "action.confirm").status
        except LookupError:  # the buttons were already replaced: Slack shows nothing to click
            return 0

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(confirm, range(50)))
    assert set(statuses) <= {200, 0}
    assert statuses.count(200) >= 1
    stack.idle(timeout=20)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert [e.kind for e in record.events].count("started") == 1


def test_two_hundred_duplicate_pushes_one_card(stack: Stack) -> None:
    """200 concurrent deliveries of one alert: exactly one card."""
    body = envelope("alert-open.json", "storm-1")
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: push(stack, body).status_code, range(200)))
    assert set(statuses) == {200}
    assert len(cards(stack)) == 1


def test_twenty_users_at_once_are_all_answered(stack: Stack) -> None:
    """Slash commands from 20 users at once: every one gets its answer, once."""
    users = [f"U_USER{i:02d}" for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        replies = list(
            pool.map(
                lambda u: stack.slack.slash_command(u, OPS_CHANNEL, text="status fluxori-frontend"),
                users,
            )
        )
    assert all(r.status == 200 for r in replies)
    stack.idle(timeout=20)
    roots = stack.slack.messages(OPS_CHANNEL)
    assert all("fluxori-frontend" in text_of(r) for r in roots)
    named = [u for r in roots for u in users if f"<@{u}>" in json.dumps(r["blocks"][:1])]
    assert sorted(named) == sorted(users)  # each once: alike and waiting together, one answer
