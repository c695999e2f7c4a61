"""Alert storms: past the threshold, one group card per policy carries the live count and
every incident (each reachable by its link and closable), updated in place."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot import config as config_loader
from bot.alerts import storm
from bot.dev.local_google import LocalGoogleCerts
from bot.errors import ConfigError
from gcp.emulator import Emulator
from tests.support.slack import ALICE, BOB, SAMPLES, click_payload, push, send_interaction, text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually, start_stack

SAMPLE = json.loads((SAMPLES / "alert-open.json").read_text())
ERRORS = ("fluxori-backend high 5xx rate", "fluxori-backend", "high-error-rate")
LATENCY = ("fluxori-frontend high latency", "fluxori-frontend", "high-latency")
CONSOLE = "https://console.cloud.google.com/monitoring/alerting/alerts/"


def body(policy: tuple[str, str, str], n: int, state: str = "open") -> dict[str, Any]:
    """Incident `n` of `policy` as Monitoring publishes it, with a message id of its own."""
    doc = copy.deepcopy(SAMPLE)
    incident = doc["incident"]
    name, service, runbook = policy
    incident_id = incident_id_of(policy, n)
    incident.update(
        incident_id=incident_id,
        policy_name=name,
        state=state,
        url=f"{CONSOLE}{incident_id}?project=fluxori-prod",
        ended_at=incident["started_at"] + 600 if state == "closed" else None,
    )
    incident["resource"]["labels"]["revision_name"] = f"{service}-{n:05d}-abc"
    incident["policy_user_labels"].update(service=service, runbook=runbook)
    data = base64.b64encode(json.dumps(doc).encode()).decode()
    message = {"data": data, "messageId": f"{incident_id}-{state}", "attributes": {}}
    return {"message": message, "subscription": "s"}


def incident_id_of(policy: tuple[str, str, str], n: int) -> str:
    return f"0.{policy[2]}-{n:03d}"


def deliver(stack: Stack, doc: dict[str, Any]) -> list[int]:
    """Push as Pub/Sub does: a non-2xx answer is delivered again, until acknowledged."""
    statuses: list[int] = []
    while not statuses or statuses[-1] >= 300:
        assert len(statuses) < 20, f"never acknowledged: {statuses}"
        statuses.append(push(stack, doc).status_code)
    return statuses


def roots(stack: Stack) -> list[dict[str, Any]]:
    return stack.slack.messages(OPS_CHANNEL)


def group_card(stack: Stack, policy: tuple[str, str, str]) -> dict[str, Any]:
    [card] = [m for m in roots(stack) if f"Alert storm: {policy[0]}" in text_of(m)]
    return card


def listed(stack: Stack, card: dict[str, Any], user: str = ALICE) -> list[str]:
    """Every page of the card's List all incidents, as the user sees them (ephemeral)."""
    pages: list[str] = []
    assert stack.slack.click(user, OPS_CHANNEL, card["ts"], "alert.group_list").status == 200
    while True:
        stack.idle()
        page = stack.slack.ephemerals(user, OPS_CHANNEL)[-1]
        pages.append(text_of(page))
        if "Next page" not in pages[-1]:
            return pages
        assert stack.slack.click(user, OPS_CHANNEL, page["ts"], "alert.group_list").status == 200


def ids_in(text: str) -> set[str]:
    return set(re.findall(r"Incident (0\.[\w-]+)", text))


def settled(stack: Stack, check: Any, timeout: float = 15.0) -> None:
    """Deliver pending card updates (as the sweep does) until `check` holds."""
    eventually(lambda: stack.bot.deps.outbox.deliver_due() >= 0 and check(), timeout, "the card")


@pytest.fixture
def limited(emulator: Emulator, tmp_path: Path, google: LocalGoogleCerts) -> Iterator[Stack]:
    """The stack with the Slack emulator enforcing Slack's documented rate limits."""
    running = start_stack(emulator, tmp_path, google, slack_limits=True)
    yield running
    running.stop()


def test_a_storm_of_two_policies_reaches_the_channel_as_grouped_cards(limited: Stack) -> None:
    """100 incidents of two policies within 20 s under Slack's limits: a few cards each before
    the threshold, then one group card per policy; every incident reachable exactly once,
    closes counted, nothing lost (failed pushes redelivered) and few 429s."""
    stack = limited
    began = time.monotonic()
    incidents = [(policy, n) for n in range(50) for policy in (ERRORS, LATENCY)]
    with ThreadPoolExecutor(8) as pool:
        pushed = list(pool.map(lambda pn: deliver(stack, body(pn[0], pn[1])), incidents))
    pushing = time.monotonic() - began
    assert pushing < 20  # the 100 incidents arrived (and were acknowledged) within 20 s
    shut = [(policy, n) for n in range(0, 50, 5) for policy in (ERRORS, LATENCY)]
    with ThreadPoolExecutor(8) as pool:
        pushed += list(pool.map(lambda pn: deliver(stack, body(pn[0], pn[1], "closed")), shut))
    assert all(statuses[-1] == 200 for statuses in pushed)
    assert len(roots(stack)) <= 2 * 3 + 2  # own cards before the threshold, one group each
    own_cards = {text_of(m) for m in roots(stack) if "Alert storm" not in text_of(m)}
    own = {i for text in own_cards for i in ids_in_links(text)}
    closed = {incident_id_of(policy, n) for policy, n in shut}
    assert all("Resolved" in t for t in own_cards if ids_in_links(t) & closed)
    for policy in (ERRORS, LATENCY):
        expected = {incident_id_of(policy, n) for n in range(50)}
        grouped, shut_in_group = len(expected - own), len(expected & closed - own)
        count = f"{grouped} incidents*: *{grouped - shut_in_group} open*, {shut_in_group} closed"
        settled(stack, lambda p=policy, c=count: c in text_of(group_card(stack, p)))
        card = group_card(stack, policy)
        assert "earlier incidents of this policy have their own cards" in text_of(card)
        assert ids_in("".join(listed(stack, card))) == expected - own
    rate_limited = [c.method for c in stack.slack.calls() if c.status == 429]
    assert len(rate_limited) <= 3, Counter(rate_limited)  # paced, not hammering


def ids_in_links(text: str) -> set[str]:
    return set(re.findall(re.escape(CONSOLE) + r"(0\.[\w-]+)", text))


def test_below_the_threshold_each_incident_keeps_its_card(stack: Stack) -> None:
    """Three incidents of one policy: three cards; the fourth starts the group card."""
    for n in range(3):
        deliver(stack, body(ERRORS, n))
    assert len(roots(stack)) == 3
    deliver(stack, body(ERRORS, 3))
    assert len(roots(stack)) == 4
    text = text_of(group_card(stack, ERRORS))
    assert "1 incidents*: *1 open*, 0 closed" in text
    assert f"<{CONSOLE}{incident_id_of(ERRORS, 3)}?project=fluxori-prod|Incident" in text


def test_concurrent_pushes_of_one_policy_make_one_group_card(stack: Stack) -> None:
    """Threshold 2: thirty incidents pushed 16 at a time make one card and one group card
    holding the other 29."""
    stack.bot.deps.config = replace(stack.bot.deps.config, storm_threshold=2)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: deliver(stack, body(ERRORS, n)), range(30)))
    assert len(roots(stack)) == 2
    settled(stack, lambda: "29 incidents*: *29 open*" in text_of(group_card(stack, ERRORS)))


def test_a_redelivery_or_late_duplicate_changes_nothing(stack: Stack) -> None:
    """The same open or close delivered again: no new post, the count stays."""
    for n in range(5):
        deliver(stack, body(ERRORS, n))
    deliver(stack, body(ERRORS, 4, "closed"))
    stack.idle()
    before = group_card(stack, ERRORS)
    updates = len(stack.slack.calls("chat.update"))
    for doc in (body(ERRORS, 4), body(ERRORS, 4, "closed"), body(ERRORS, 3)):
        assert deliver(stack, doc) == [200]
        doc["message"]["messageId"] += "-again"
        assert deliver(stack, doc) == [200]
    stack.idle()
    assert len(roots(stack)) == 4
    assert group_card(stack, ERRORS) == before
    assert len(stack.slack.calls("chat.update")) == updates
    assert "2 incidents*: *1 open*, 1 closed" in text_of(before)


def test_closing_every_incident_says_so_on_the_group_card(stack: Stack) -> None:
    """All closed: the card says so in place, without a new post, and only List remains."""
    for n in range(6):
        deliver(stack, body(ERRORS, n))
    for n in range(3, 6):
        deliver(stack, body(ERRORS, n, "closed"))
    stack.idle()
    text = text_of(group_card(stack, ERRORS))
    assert "All 3 incidents closed." in text
    assert "alert.rollback" not in text
    assert "alert.group_list" in text
    assert len(roots(stack)) == 4
    assert stack.slack.replies(OPS_CHANNEL, group_card(stack, ERRORS)["ts"]) == []


def test_slack_refusing_the_group_card_answers_503_and_nothing_is_lost(stack: Stack) -> None:
    """The group card's post fails: 503 for Pub/Sub to retry; the next incident posts the card,
    the redelivery lands in it, once."""
    for n in range(3):
        deliver(stack, body(ERRORS, n))
    stack.slack.fail_next("chat.postMessage", status=500, times=3)  # the call and 2 retries
    assert push(stack, body(ERRORS, 3)).status_code == 503
    assert deliver(stack, body(ERRORS, 4)) == [200]
    assert deliver(stack, body(ERRORS, 3)) == [200]
    assert len(roots(stack)) == 4
    settled(stack, lambda: "2 incidents*: *2 open*" in text_of(group_card(stack, ERRORS)))


def test_group_buttons_act_for_the_policy_and_the_list_is_for_readers(stack: Stack) -> None:
    """Show errors answers in the group card's thread; mixed services offer only the list;
    the list answers page by page, newest first."""
    for n in range(25):
        deliver(stack, body(ERRORS, n))
    card = group_card(stack, ERRORS)
    assert "alert.rollback" in text_of(card)
    stack.slack.click(ALICE, OPS_CHANNEL, card["ts"], "alert.errors")
    stack.idle()
    assert "asked: Show errors" in text_of(stack.slack.replies(OPS_CHANNEL, card["ts"])[-1])
    pages = listed(stack, card)
    assert len(pages) == 2
    assert "incidents 1–20 of 22" in pages[0]
    assert pages[0].index("Incident 0.high-error-rate-024") < pages[0].index("-023")
    assert ids_in("".join(pages)) == {incident_id_of(ERRORS, n) for n in range(3, 25)}
    mixed = copy.deepcopy(body(ERRORS, 99))
    doc = json.loads(base64.b64decode(mixed["message"]["data"]))
    doc["incident"]["policy_user_labels"]["service"] = "fluxori-frontend"
    mixed["message"]["data"] = base64.b64encode(json.dumps(doc).encode()).decode()
    deliver(stack, mixed)
    stack.idle()
    text = text_of(group_card(stack, ERRORS))
    assert "alert.rollback" not in text
    assert "fluxori-backend · fluxori-frontend · prod" in text


def test_acknowledge_on_a_group_card_names_who_is_on_the_storm_once(stack: Stack) -> None:
    """Acknowledge on the group card: the card names who is on it, in place, and its thread
    says so once; a second click made before the card changed does nothing more. The card
    keeps every incident and its other buttons."""
    for n in range(6):
        deliver(stack, body(ERRORS, n))
    card = group_card(stack, ERRORS)
    assert "alert.ack" in text_of(card)
    posts = len(roots(stack))
    late = click_payload(stack, ALICE, card, "alert.ack")  # clicked before the card changed
    assert stack.slack.click(BOB, OPS_CHANNEL, card["ts"], "alert.ack").status == 200
    assert send_interaction(stack, late) == 200
    stack.idle()
    settled(stack, lambda: "<@U_BOB> is on it" in text_of(group_card(stack, ERRORS)))
    text = text_of(group_card(stack, ERRORS))
    assert "alert.ack" not in text
    assert "U_ALICE" not in text
    assert "3 incidents*: *3 open*" in text
    assert "alert.rollback" in text
    thread = [text_of(m) for m in stack.slack.replies(OPS_CHANNEL, card["ts"])]
    [said] = [t for t in thread if "is on it" in t]
    assert "<@U_BOB> is on it." in said
    assert len(roots(stack)) == posts


def test_a_bad_list_click_gets_a_clear_answer(stack: Stack) -> None:
    """A list button naming no group on record, or no page, is answered so, ephemerally."""
    for n in range(4):
        deliver(stack, body(ERRORS, n))
    card = group_card(stack, ERRORS)
    for value in ("group:nothing:0", "group:", "group:x:page", "alert.list"):
        payload = {**click_payload(stack, ALICE, card, "alert.group_list"), "response_url": ""}
        payload["actions"][0]["value"] = value
        assert send_interaction(stack, payload) == 200
        stack.idle()
        told = text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
        assert "That alert group is not on record." in told


def test_a_quiet_window_ends_the_group(stack: Stack) -> None:
    """No incident of the policy for a whole window: the next ones get their own cards again
    until the threshold starts a new group."""
    for n in range(4):
        deliver(stack, body(ERRORS, n))
    stack.advance(stack.bot.deps.config.storm_window_seconds + 1)
    for n in range(4, 8):
        deliver(stack, body(ERRORS, n))
    storms = [m for m in roots(stack) if "Alert storm" in text_of(m)]
    assert len(roots(stack)) == 8
    assert [ids_in(text_of(m)) for m in storms] == [
        {incident_id_of(ERRORS, 3)},
        {incident_id_of(ERRORS, 7)},
    ]


def test_the_threshold_and_window_are_configured_in_bot_config(tmp_path: Path) -> None:
    """[alert_storm] sets both; a wrong value or key is named (the defaults: 4, 10 minutes)."""
    path = tmp_path / "bot.toml"
    base = '[environments.prod]\nproject = "acme-prod"\nregion = "europe-west4"\n'
    path.write_text(base + "[alert_storm]\nthreshold = 6\nwindow_minutes = 3\n")
    config = config_loader.load(str(path))
    assert (config.storm_threshold, config.storm_window_seconds) == (6, 180)
    path.write_text(base)
    assert (config_loader.load(str(path)).storm_threshold, config.storm_window_seconds) == (4, 180)
    path.write_text(base + '[alert_storm]\nthreshold = 1\nwindow_minutes = "5"\nsize = 2\n')
    with pytest.raises(ConfigError) as info:
        config_loader.load(str(path))
    assert info.value.problems == [
        f"{path}: unknown key `alert_storm.size`.",
        f"{path}: alert_storm.threshold must be a whole number, 2 or more.",
        f"{path}: alert_storm.window_minutes must be a whole number, 1 or more.",
    ]


@pytest.mark.emulators
def test_concurrent_pushes_make_one_group_card_on_firestore(
    emulator: Emulator,
    tmp_path: Path,
    google: LocalGoogleCerts,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """With BOT_STORE=firestore (Google's emulator) and threshold 2: one card, then six
    incidents pushed three at a time make one group card holding them all."""
    from tests.support.emulators import unique_project

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", request.getfixturevalue("firestore_emulator"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", unique_project())
    stack = start_stack(emulator, tmp_path, google, store="firestore")
    stack.bot.deps.config = replace(stack.bot.deps.config, storm_threshold=2)
    try:
        assert stack.bot.deps.store.get_record("alert", "none") is None  # the client loaded
        deliver(stack, body(ERRORS, 0))
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda n: deliver(stack, body(ERRORS, n)), range(1, 7)))
        assert len(roots(stack)) == 2
        settled(stack, lambda: "6 incidents*: *6 open*" in text_of(group_card(stack, ERRORS)))
    finally:
        stack.stop()


def test_roll_back_from_the_group_card_plans_in_its_thread_and_hears_the_close(
    stack: Stack,
) -> None:
    """Roll back on the group card plans for the policy's service in the card's thread; when
    that incident closes, the waiting plan says so and the card counts it, with no new post."""
    for n in range(5):
        deliver(stack, body(ERRORS, n))
    stack.idle()
    card = group_card(stack, ERRORS)
    stack.slack.click(ALICE, OPS_CHANNEL, card["ts"], "alert.rollback")
    stack.idle()
    [plan] = stack.slack.replies(OPS_CHANNEL, card["ts"])
    assert "Plan: Roll back fluxori-backend" in text_of(plan)
    deliver(stack, body(ERRORS, 4, "closed"))
    stack.idle()
    marked = stack.slack.message(OPS_CHANNEL, plan["ts"])
    assert marked is not None
    assert "Incident resolved at" in text_of(marked)
    assert "2 incidents*: *1 open*, 1 closed" in text_of(group_card(stack, ERRORS))
    assert len(roots(stack)) == 4
    assert len(stack.slack.replies(OPS_CHANNEL, card["ts"])) == 1


def test_a_group_card_counts_the_earlier_cards_whichever_push_creates_its_record(
    stack: Stack,
) -> None:
    """Only the incident that starts a group knows how many had cards of their own before
    it, and pushes run in parallel: the next incident can reach the group's record first.
    The card still says how many came earlier."""
    deps = stack.bot.deps
    threshold = deps.config.storm_threshold
    store_change = deps.store.change_record
    started: list[bool] = []

    def change_record(kind: str, key: str, change: Any) -> dict[str, Any] | None:
        stored = store_change(kind, key, change)
        if kind == storm.POLICY and (stored or {}).get("group") and not started:
            started.append(True)  # the group has just started: the next push runs in between
            assert deliver(stack, body(ERRORS, threshold))[-1] == 200
        return stored

    deps.store.change_record = change_record  # type: ignore[method-assign]
    for n in range(threshold):
        assert deliver(stack, body(ERRORS, n))[-1] == 200
    assert started
    settled(stack, lambda: "*2 incidents*" in text_of(group_card(stack, ERRORS)))
    earlier = f"{threshold - 1} earlier incidents of this policy have their own cards."
    assert earlier in text_of(group_card(stack, ERRORS))
