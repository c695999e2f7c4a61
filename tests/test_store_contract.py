"""One contract for every action store: SQLite, and Firestore through Google's emulator."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import Action, ActionStore, Event, Filters, State
from bot.store.base import RECORD_TTL, SEEN_TTL
from bot.store.outbox import DELIVERED_TTL, Kind, OutboxEntry, OutboxState, update_key
from bot.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulators)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ActionStore]:
    """Each adapter, empty."""
    if request.param == "sqlite":
        sqlite = SqliteStore(str(tmp_path / "actions.sqlite"))
        yield sqlite
        sqlite.close()
        return
    from bot.store.firestore import FirestoreStore
    from tests.support.emulators import firestore_client

    host = request.getfixturevalue("firestore_emulator")
    yield FirestoreStore(firestore_client(host), prefix=f"t{uuid.uuid4().hex[:8]}_")


def make(n: int = 1, **overrides: object) -> Action:
    fields: dict[str, object] = {
        "id": f"a{n:03d}-{uuid.uuid4().hex[:6]}",
        "verb": "rollback",
        "env": "prod",
        "target": "fluxori-backend",
        "requested_by": "U_ALICE",
        "created_at": NOW + timedelta(minutes=n),
        "expires_at": NOW + timedelta(minutes=n + 15),
        "params": {"to": "fluxori-backend-00041-abc"},
        "plan": {"etag": "e1", "split": {"a": 100}},
    }
    fields.update(overrides)
    return Action(**fields)  # type: ignore[arg-type]


def ev(kind: str, by: str = "U_BOB") -> Event:
    return Event(NOW, kind, by, f"{kind} detail")


def test_create_and_get_round_trip(store: ActionStore) -> None:
    """Every field, datetimes and events included, comes back as written."""
    action = make(events=(ev("requested", "U_ALICE"),), channel="C_OPS", thread_ts="1.2")
    store.create(action)
    assert store.get(action.id) == action
    assert store.get("missing") is None


def test_transition_happens_once_under_concurrency(store: ActionStore) -> None:
    """Twenty concurrent approvals of one pending action: exactly one wins."""
    action = make()
    store.create(action)

    def approve(i: int) -> bool:
        claim = store.transition(
            action.id,
            (State.PENDING,),
            State.APPROVED,
            ev("approved", f"U{i}"),
            {"approved_by": f"U{i}"},
        )
        return claim.won

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(approve, range(20)))
    assert wins.count(True) == 1
    stored = store.get(action.id)
    assert stored is not None
    assert stored.state is State.APPROVED
    assert [e.kind for e in stored.events] == ["approved"]


def test_transition_from_wrong_state_reports_current(store: ActionStore) -> None:
    """A late click sees who got there first."""
    action = make()
    store.create(action)
    store.transition(
        action.id, (State.PENDING,), State.CANCELLED, ev("cancelled"), {"cancelled_by": "U_BOB"}
    )
    late = store.transition(action.id, (State.PENDING,), State.APPROVED, ev("approved"))
    assert not late.won
    assert late.action is not None
    assert late.action.cancelled_by == "U_BOB"


def test_service_lock_refuses_second_change_until_first_ends(store: ActionStore) -> None:
    """While one change to a service runs, another is refused with the holder's id."""
    first, second = make(1), make(2)
    store.create(first)
    store.create(second)
    assert store.transition(
        first.id, (State.PENDING,), State.APPROVED, ev("approved"), lock=True
    ).won
    refused = store.transition(
        second.id, (State.PENDING,), State.APPROVED, ev("approved"), lock=True
    )
    assert (refused.won, refused.holder) == (False, first.id)
    store.transition(first.id, (State.APPROVED,), State.SUCCEEDED, ev("succeeded"))
    assert store.transition(
        second.id, (State.PENDING,), State.APPROVED, ev("approved"), lock=True
    ).won


def test_lock_is_per_environment(store: ActionStore) -> None:
    """A change in staging does not block one in prod."""
    prod, staging = make(1), make(2, env="staging")
    for action in (prod, staging):
        store.create(action)
        assert store.transition(
            action.id, (State.PENDING,), State.APPROVED, ev("approved"), lock=True
        ).won


def test_update_sets_fields_and_appends_event(store: ActionStore) -> None:
    """Non-state fields (card ts, heartbeat) update without changing the state."""
    action = make()
    store.create(action)
    store.update(action.id, {"card_ts": "9.9", "heartbeat_at": NOW}, ev("step"))
    stored = store.get(action.id)
    assert stored is not None
    assert (stored.card_ts, stored.heartbeat_at, stored.state) == ("9.9", NOW, State.PENDING)
    assert stored.events[-1].kind == "step"


def test_search_newest_first_with_filters(store: ActionStore) -> None:
    """History lists newest first and filters by env, target, user and outcome."""
    actions = [
        make(1),
        make(2, env="staging"),
        make(3, target="fluxori-frontend", requested_by="U_CAROL"),
        make(4, state=State.SUCCEEDED, approved_by="U_CAROL"),
    ]
    for action in actions:
        store.create(action)
    assert [a.id for a in store.search(Filters())] == [a.id for a in reversed(actions)]
    assert [a.id for a in store.search(Filters(env="staging"))] == [actions[1].id]
    assert [a.id for a in store.search(Filters(target="fluxori-frontend"))] == [actions[2].id]
    assert [a.id for a in store.search(Filters(user="U_CAROL"))] == [actions[3].id, actions[2].id]
    assert [a.id for a in store.search(Filters(outcome="succeeded"))] == [actions[3].id]
    assert len(store.search(Filters(limit=2))) == 2


def test_search_pages_with_a_time_window_and_counts_every_match(store: ActionStore) -> None:
    """`since` (inclusive) and `before` (exclusive) bound created_at; count ignores the limit."""
    actions = [make(i, requested_by="U_ALICE" if i % 2 else "U_BOB") for i in range(1, 8)]
    for action in actions:
        store.create(action)
    page = store.search(Filters(user="U_ALICE", limit=2))
    assert [a.id for a in page] == [actions[6].id, actions[4].id]
    older = store.search(Filters(user="U_ALICE", limit=2, before=page[-1].created_at))
    assert [a.id for a in older] == [actions[2].id, actions[0].id]
    window = Filters(since=actions[2].created_at, before=actions[5].created_at)
    assert [a.id for a in store.search(window)] == [a.id for a in reversed(actions[2:5])]
    assert store.count(Filters(user="U_ALICE", limit=1)) == 4
    assert store.count(window) == 3
    assert store.count(Filters(env="dev")) == 0


def test_search_several_states_for_a_user_in_one_environment(store: ActionStore) -> None:
    """States combine with the user (requester or approver), the environment and the target."""
    mine = make(1, state=State.FAILED, requested_by="U_CAROL")
    approved = make(2, state=State.SUCCEEDED, approved_by="U_CAROL")
    other_env = make(3, state=State.FAILED, requested_by="U_CAROL", env="dev")
    pending = make(4, requested_by="U_CAROL")
    for action in (mine, approved, other_env, pending):
        store.create(action)
    filters = Filters(
        env="prod", target="fluxori-backend", user="U_CAROL", states=(State.FAILED, State.SUCCEEDED)
    )
    assert [a.id for a in store.search(filters)] == [approved.id, mine.id]
    assert store.count(filters) == 2


def test_refused_requests_are_searched_and_counted(store: ActionStore) -> None:
    """Refusals filter by environment, target, who was refused and time; overrides are not
    refusals."""
    for i in range(6):
        context = {"verb": "scale", "env": "dev" if i % 2 else "prod", "target": "fluxori-backend"}
        at = NOW + timedelta(minutes=i)
        store.record_refusal(Event(at, "refused", f"U{i % 3}", f"reason {i}"), context)
    store.record_refusal(Event(NOW, "cooldown_overridden", "U0", "urgent"), {"env": "prod"})
    newest = store.search_refused(Filters(limit=2))
    assert [r["detail"] for r in newest] == ["reason 5", "reason 4"]
    dev = Filters(env="dev", target="fluxori-backend", before=NOW + timedelta(minutes=5))
    assert [r["detail"] for r in store.search_refused(dev)] == ["reason 3", "reason 1"]
    assert [r["detail"] for r in store.search_refused(Filters(user="U0"))] == [
        "reason 3",
        "reason 0",
    ]
    assert store.count_refused(Filters(limit=1)) == 6
    assert store.count_refused(Filters(since=NOW + timedelta(minutes=4))) == 2


def test_expired_and_stale_queries(store: ActionStore) -> None:
    """Pending past expiry and running without a recent heartbeat are found."""
    old = make(1, expires_at=NOW - timedelta(minutes=1))
    fresh = make(2)
    stale = make(3, state=State.RUNNING, heartbeat_at=NOW - timedelta(minutes=5))
    alive = make(4, state=State.RUNNING, heartbeat_at=NOW)
    for action in (old, fresh, stale, alive):
        store.create(action)
    assert [a.id for a in store.expired_pending(NOW)] == [old.id]
    assert [a.id for a in store.stale_running(NOW - timedelta(minutes=1))] == [stale.id]


def test_first_seen_is_true_once_under_concurrency(store: ActionStore) -> None:
    """De-duplication: one of many concurrent callers sees a key first."""
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: store.first_seen("msg/123", NOW), range(16)))
    assert results.count(True) == 1
    assert store.first_seen("msg/124", NOW)


def test_refusals_are_recorded(store: ActionStore) -> None:
    """A refused request is on record with who, what and why."""
    store.record_refusal(Event(NOW, "refused", "U_EVE", "rate limit"), {"verb": "scale"})
    recorded = store.refusals()
    assert (recorded[0]["by"], recorded[0]["context"]) == ("U_EVE", {"verb": "scale"})


def test_forget_allows_a_key_again(store: ActionStore) -> None:
    """A failed delivery forgets its key so the redelivery is processed."""
    assert store.first_seen("msg/9", NOW)
    store.forget("msg/9")
    assert store.first_seen("msg/9", NOW)


def test_records_round_trip(store: ActionStore) -> None:
    """Small JSON documents (an alert's card) are stored by kind and key."""
    store.put_record("alert", "0.abc/1", {"ts": "1.2", "channel": "C_OPS"})
    assert store.get_record("alert", "0.abc/1") == {"ts": "1.2", "channel": "C_OPS"}
    assert store.get_record("alert", "missing") is None


def test_concurrent_record_changes_are_never_lost(store: ActionStore) -> None:
    """Twenty concurrent appends to one record (compare-and-set) all land; a change that
    returns None leaves the record as it is."""

    def append(i: int) -> None:
        store.change_record(
            "alert_group", "g/1", lambda data: {"ids": [*(data or {}).get("ids", []), i]}
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(20)))
    stored = store.get_record("alert_group", "g/1")
    assert stored is not None
    assert sorted(stored["ids"]) == list(range(20))
    assert store.change_record("alert_group", "g/1", lambda data: None) == stored


@pytest.mark.emulators
def test_firestore_alert_records_carry_their_expiry(request: pytest.FixtureRequest) -> None:
    """Firestore deletes an alert record 90 days after it is written (TTL on expire_at); the
    field never reaches the caller."""
    from bot.store.firestore import FirestoreStore
    from tests.support.emulators import firestore_client

    client = firestore_client(request.getfixturevalue("firestore_emulator"))
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    store = FirestoreStore(client, prefix=prefix)
    before = datetime.now(UTC)
    store.put_record("alert", "0.abc/1", {"ts": "1.2"})
    (raw,) = [doc.to_dict() or {} for doc in client.collection(f"{prefix}records").stream()]
    assert before + RECORD_TTL <= raw["expire_at"] <= datetime.now(UTC) + RECORD_TTL
    assert store.get_record("alert", "0.abc/1") == {"ts": "1.2"}


def entry(key: str, at: int = 0, **overrides: object) -> OutboxEntry:
    fields: dict[str, object] = {
        "key": key,
        "kind": Kind.POST,
        "channel": "C_OPS",
        "text": f"{key} text",
        "created_at": NOW + timedelta(seconds=at),
        "due_at": NOW + timedelta(seconds=at),
        "blocks": [{"type": "actions", "elements": [{"type": "button", "value": key}]}],
        "thread_ts": "1.0",
    }
    fields.update(overrides)
    return OutboxEntry(**fields)  # type: ignore[arg-type]


def an_update(text: str, at: int = 0) -> OutboxEntry:
    key = update_key("C_OPS", "5.5")
    return entry(key, at, kind=Kind.UPDATE, ts="5.5", thread_ts="", text=text)


def test_outbox_entries_round_trip_oldest_first(store: ActionStore) -> None:
    """Entries come back as written, pending ones oldest first; a post's key is added once."""
    second, first = entry("post:b", at=2), entry("post:a", at=1)
    store.outbox_add(second)
    store.outbox_add(first)
    store.outbox_add(replace(first, text="a repeated add"))
    assert store.outbox_get("post:a") == first
    assert store.outbox_get("missing") is None
    assert store.outbox_pending() == [first, second]


def test_outbox_update_replaces_pending_content(store: ActionStore) -> None:
    """Successive updates of one message collapse into the latest, one revision each."""
    store.outbox_add(an_update("approved"))
    store.outbox_add(an_update("done", at=1))
    (pending,) = store.outbox_pending()
    assert (pending.text, pending.revision) == ("done", 1)


def test_outbox_update_keeps_the_retry_time_slack_set(store: ActionStore) -> None:
    """An update added while an earlier one waits out a 429 replaces its content and waits
    as long, instead of being sent at once into another 429."""
    store.outbox_add(an_update("approved"))
    sent = store.outbox_claim(an_update("").key, "L1", NOW, timedelta(seconds=30))
    assert sent is not None
    store.outbox_retry(sent, NOW + timedelta(seconds=5), "ratelimited")
    store.outbox_add(an_update("done", at=1))
    (pending,) = store.outbox_pending()
    assert (pending.text, pending.due_at) == ("done", NOW + timedelta(seconds=5))


def test_outbox_claim_is_exclusive_until_the_lease_ends(store: ActionStore) -> None:
    """Of many concurrent senders one gets the lease; another may take it once it expired."""
    store.outbox_add(entry("post:a"))
    hold = timedelta(seconds=30)
    with ThreadPoolExecutor(8) as pool:
        claims = list(
            pool.map(lambda i: store.outbox_claim("post:a", f"L{i}", NOW, hold), range(16))
        )
    assert len([c for c in claims if c is not None]) == 1
    assert store.outbox_claim("post:a", "late", NOW + timedelta(seconds=29), hold) is None
    assert store.outbox_claim("post:a", "late", NOW + timedelta(seconds=31), hold) is not None
    assert store.outbox_claim("missing", "late", NOW, hold) is None


def test_outbox_delivered_keeps_the_ts(store: ActionStore) -> None:
    """A delivered post leaves the pending list, keeps Slack's ts and cannot be claimed."""
    store.outbox_add(entry("post:a"))
    sent = store.outbox_claim("post:a", "L1", NOW, timedelta(seconds=30))
    assert sent is not None
    assert store.outbox_settle(sent, OutboxState.DELIVERED, NOW, ts="7.7")
    done = store.outbox_get("post:a")
    assert done is not None
    assert (done.state, done.ts, done.finished_at) == (OutboxState.DELIVERED, "7.7", NOW)
    assert store.outbox_pending() == []
    assert store.outbox_claim("post:a", "L2", NOW, timedelta(seconds=30)) is None


def test_outbox_update_replaced_while_sent_stays_pending(store: ActionStore) -> None:
    """An update replaced while it was being sent is not marked delivered: the newer content
    is still to send, and a later update re-opens a delivered one."""
    store.outbox_add(an_update("approved"))
    sent = store.outbox_claim(an_update("").key, "L1", NOW, timedelta(seconds=30))
    assert sent is not None
    store.outbox_add(an_update("done", at=1))
    assert not store.outbox_settle(sent, OutboxState.DELIVERED, NOW)
    resent = store.outbox_claim(sent.key, "L2", NOW, timedelta(seconds=30))
    assert resent is not None
    assert resent.text == "done"
    assert store.outbox_settle(resent, OutboxState.DELIVERED, NOW)
    store.outbox_add(an_update("undone", at=2))
    assert [e.text for e in store.outbox_pending()] == ["undone"]


def test_outbox_retry_sets_the_next_attempt(store: ActionStore) -> None:
    """A transient failure releases the lease, counts the attempt and sets when it is due;
    a sender whose lease was taken over changes nothing."""
    store.outbox_add(entry("post:a"))
    hold = timedelta(seconds=30)
    sent = store.outbox_claim("post:a", "L1", NOW, hold)
    assert sent is not None
    store.outbox_retry(sent, NOW + timedelta(seconds=4), "internal_error")
    (pending,) = store.outbox_pending()
    assert (pending.attempts, pending.due_at, pending.error) == (
        1,
        NOW + timedelta(seconds=4),
        "internal_error",
    )
    slow = store.outbox_claim("post:a", "L2", NOW, hold)
    fast = store.outbox_claim("post:a", "L3", NOW + timedelta(minutes=1), hold)
    assert slow is not None
    assert fast is not None
    assert not store.outbox_settle(slow, OutboxState.DELIVERED, NOW, ts="1.1")
    store.outbox_retry(slow, NOW, "late")
    assert store.outbox_settle(fast, OutboxState.DROPPED, NOW, error="channel_not_found")
    done = store.outbox_get("post:a")
    assert done is not None
    assert (done.state, done.error, done.attempts) == (OutboxState.DROPPED, "channel_not_found", 1)


def test_approved_before_lists_plans_that_never_started(store: ActionStore) -> None:
    """Approved actions approved before a time are found; running or recent ones are not."""
    stalled = make(1, state=State.APPROVED, approved_at=NOW - timedelta(minutes=3))
    recent = make(2, state=State.APPROVED, approved_at=NOW)
    running = make(3, state=State.RUNNING, approved_at=NOW - timedelta(minutes=3))
    for action in (stalled, recent, running):
        store.create(action)
    assert [a.id for a in store.approved_before(NOW - timedelta(minutes=1))] == [stalled.id]


def test_sqlite_purges_delivered_entries_after_a_day(tmp_path: Path) -> None:
    """Finished entries are deleted a day after delivery; pending ones are kept."""
    sqlite = SqliteStore(str(tmp_path / "actions.sqlite"))
    sqlite.outbox_add(entry("post:a"))
    sqlite.outbox_add(entry("post:b"))
    sent = sqlite.outbox_claim("post:a", "L1", NOW, timedelta(seconds=30))
    assert sent is not None
    sqlite.outbox_settle(sent, OutboxState.DELIVERED, NOW, ts="1.1")
    assert sqlite.outbox_purge(NOW + timedelta(hours=23)) == 0
    assert sqlite.outbox_purge(NOW + DELIVERED_TTL + timedelta(seconds=1)) == 1
    assert sqlite.outbox_get("post:a") is None
    assert sqlite.outbox_get("post:b") is not None
    sqlite.close()


@pytest.mark.emulators
def test_firestore_delivered_entries_carry_their_expiry(request: pytest.FixtureRequest) -> None:
    """Firestore deletes a delivered entry a day after delivery (TTL on expire_at); a pending
    one has no expiry."""
    from bot.store.firestore import FirestoreStore
    from tests.support.emulators import firestore_client

    client = firestore_client(request.getfixturevalue("firestore_emulator"))
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    store = FirestoreStore(client, prefix=prefix)
    store.outbox_add(entry("post:a"))
    store.outbox_add(entry("post:b"))
    sent = store.outbox_claim("post:a", "L1", NOW, timedelta(seconds=30))
    assert sent is not None
    store.outbox_settle(sent, OutboxState.DELIVERED, NOW, ts="1.1")
    raw = {d.id: d.to_dict() or {} for d in client.collection(f"{prefix}outbox").stream()}
    assert raw["post:a"]["expire_at"] == NOW + DELIVERED_TTL
    assert raw["post:b"]["expire_at"] is None


def test_sqlite_forgets_deduplication_keys_and_records_once_expired(tmp_path: Path) -> None:
    """De-duplication keys older than SEEN_TTL and records past RECORD_TTL are deleted by
    purge_expired; younger ones stay (Firestore's TTL policies do the same there)."""
    sqlite = SqliteStore(str(tmp_path / "actions.sqlite"))
    assert sqlite.first_seen("old", NOW - SEEN_TTL - timedelta(seconds=1))
    assert sqlite.first_seen("young", NOW - SEEN_TTL + timedelta(minutes=1))
    sqlite.put_record("alert", "incident-1", {"ts": "1.2"})
    assert sqlite.purge_expired(NOW) == 1
    assert sqlite.first_seen("old", NOW)
    assert not sqlite.first_seen("young", NOW)
    assert sqlite.get_record("alert", "incident-1") == {"ts": "1.2"}
    assert sqlite.purge_expired(datetime.now(UTC) + RECORD_TTL + timedelta(minutes=1)) == 3
    assert sqlite.get_record("alert", "incident-1") is None
    sqlite.close()


def test_sqlite_reads_run_while_a_write_is_open(tmp_path: Path) -> None:
    """WAL with a connection per concurrent caller: a read is answered while another
    connection holds the write transaction."""
    sqlite = SqliteStore(str(tmp_path / "actions.sqlite"))
    action = make()
    sqlite.create(action)
    writer = sqlite3.connect(str(tmp_path / "actions.sqlite"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with ThreadPoolExecutor(4) as pool:
            found = list(pool.map(lambda _: sqlite.get(action.id), range(8)))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert found == [action] * 8
    sqlite.close()
