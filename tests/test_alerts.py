"""Alerts through POST /pubsub/alerts: verified, de-duplicated, posted with runbook buttons."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

from bot.changes import maintenance
from tests.support.models import PROD_BACKEND
from tests.support.slack import BOB, SAMPLES, cards, envelope, push, text_of
from tests.support.stack import OPS_CHANNEL, Stack


def test_open_incident_posts_a_card_with_runbook_buttons(stack: Stack) -> None:
    """The sample high-error-rate incident becomes one card with its first steps."""
    reply = push(stack, json.loads((SAMPLES / "pubsub-push-alert-open.json").read_text()))
    assert reply.status_code == 200
    [card] = cards(stack)
    text = text_of(card)
    for expected in (
        "fluxori-backend high 5xx rate",
        "17.400",
        "alert.rollback",
        "Runbook",
        "<!date^",
    ):
        assert expected in text


def test_ten_concurrent_deliveries_post_one_card_and_no_token_posts_none(stack: Stack) -> None:
    """Ten concurrent copies of one envelope: one card. Without a token: 401 and nothing."""
    assert push(stack, envelope("alert-open.json"), token=None).status_code == 401
    assert cards(stack) == []
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda _: push(stack, envelope("alert-open.json")), range(10)))
    assert [r.status_code for r in replies] == [200] * 10
    assert len(cards(stack)) == 1


def test_same_incident_state_in_another_message_is_posted_once(stack: Stack) -> None:
    """Monitoring may publish the same incident state twice under different message ids."""
    push(stack, envelope("alert-open.json", "m-1"))
    push(stack, envelope("alert-open.json", "m-2"))
    assert len(cards(stack)) == 1


def test_bad_tokens_are_refused(stack: Stack) -> None:
    """A forged token or one for another audience posts nothing."""
    assert (
        push(
            stack, envelope("alert-open.json"), token=f"Bearer {stack.google.forged()}"
        ).status_code
        == 401
    )
    wrong = stack.google.mint(aud="https://elsewhere.example")
    assert push(stack, envelope("alert-open.json"), token=f"Bearer {wrong}").status_code == 401
    other = stack.google.mint(email="intruder@evil.iam.gserviceaccount.com")
    assert push(stack, envelope("alert-open.json"), token=f"Bearer {other}").status_code == 403
    assert cards(stack) == []


def test_unreadable_push_is_acknowledged_and_reported(stack: Stack) -> None:
    """Garbage from an authenticated sender: 200 (no redelivery loop) and a short notice."""
    reply = push(stack, b"this is not an envelope")
    assert reply.status_code == 200
    notice = stack.slack.messages(OPS_CHANNEL)[-1]
    assert "could not read" in text_of(notice)
    bad_incident = {
        "message": {"data": base64.b64encode(b'{"incident": 3}').decode(), "messageId": "x"}
    }
    assert push(stack, bad_incident).status_code == 200
    assert "`x`" in text_of(stack.slack.messages(OPS_CHANNEL)[-1])


def test_slack_down_answers_503_and_the_redelivery_posts(stack: Stack) -> None:
    """A failed post is a 503 so Pub/Sub retries; the retry is not mistaken for a duplicate."""
    stack.slack.fail_next("chat.postMessage", status=500, times=3)  # the call and its 2 retries
    assert push(stack, envelope("alert-open.json")).status_code == 503
    assert cards(stack) == []
    assert push(stack, envelope("alert-open.json")).status_code == 200
    assert len(cards(stack)) == 1


def test_closed_incident_updates_its_card_and_replies(stack: Stack) -> None:
    """Closing: the card shows resolved with its duration, loses its buttons; the thread hears."""
    push(stack, envelope("alert-open.json", "m-1"))
    card = cards(stack)[0]
    push(stack, envelope("alert-closed.json", "m-2"))
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "Resolved" in text_of(updated)
    assert "after 25m" in text_of(updated)
    assert "alert.rollback" not in text_of(updated)
    assert "Resolved" in text_of(stack.slack.replies(OPS_CHANNEL, card["ts"])[-1])


def test_close_without_open_posts_a_resolved_card(stack: Stack) -> None:
    """A close whose open was never seen still tells the channel."""
    push(stack, envelope("alert-closed.json"))
    assert "Resolved" in text_of(stack.slack.messages(OPS_CHANNEL)[-1])


def test_buttons_show_errors_and_roll_back_from_the_alert_thread(stack: Stack) -> None:
    """Show errors answers in the alert's thread; Roll back plans there and Bob's confirm acts."""
    push(stack, envelope("alert-open.json"))
    card = cards(stack)[0]
    stack.slack.click("U_ALICE", OPS_CHANNEL, card["ts"], "alert.errors")
    stack.idle()
    thread = stack.slack.replies(OPS_CHANNEL, card["ts"])
    assert "asked: Show errors" in text_of(thread[-1])
    stack.slack.click("U_ALICE", OPS_CHANNEL, card["ts"], "alert.rollback")
    stack.idle()
    plan_card = stack.slack.replies(OPS_CHANNEL, card["ts"])[-1]
    assert "Plan: Roll back fluxori-backend" in text_of(plan_card)
    stack.slack.click(BOB, OPS_CHANNEL, plan_card["ts"], "action.confirm")
    stack.idle()
    names = [r.name.rsplit("/", 1)[-1] for r in stack.gcp.run.revisions(PROD_BACKEND.name)]
    assert stack.gcp.run.serving_split(PROD_BACKEND.name) == {names[1]: 100}
    record = stack.bot.deps.store.search(
        __import__("bot.store", fromlist=["Filters"]).Filters(limit=1)
    )[0]
    assert record.alert_id == "0.nx7q2hk4b9aa"


def test_show_errors_clicked_while_slack_is_down_is_answered_once_it_is_back(
    stack: Stack,
) -> None:
    """The answer of a card's button is recorded when Slack fails it, and the sweep posts it
    in the alert's thread once Slack answers again."""
    push(stack, envelope("alert-open.json"))
    card = cards(stack)[0]
    stack.slack.fail_next("chat.postMessage", status=500, times=1000)
    stack.slack.click("U_ALICE", OPS_CHANNEL, card["ts"], "alert.errors")
    stack.idle()
    assert stack.slack.replies(OPS_CHANNEL, card["ts"]) == []
    stack.slack.faults.clear()
    stack.advance(seconds=600)  # past the outbox's backoff
    maintenance.sweep(stack.bot.deps)
    thread = stack.slack.replies(OPS_CHANNEL, card["ts"])
    assert [m for m in thread if "asked: Show errors" in text_of(m)]


def test_acknowledge_shows_who_is_on_it(stack: Stack) -> None:
    """Acknowledge records the engineer and shows it on the card, once."""
    push(stack, envelope("alert-open.json"))
    card = cards(stack)[0]
    stack.slack.click(BOB, OPS_CHANNEL, card["ts"], "alert.ack")
    stack.idle()
    updated = stack.slack.message(OPS_CHANNEL, card["ts"])
    assert updated is not None
    assert "<@U_BOB> is on it" in text_of(updated)
    assert "alert.ack" not in text_of(updated)


def test_scale_up_opens_a_form_with_doubled_max(stack: Stack) -> None:
    """high-latency's Scale up opens the scale form proposing twice the max instances."""
    doc = envelope("alert-open.json")
    incident = json.loads(base64.b64decode(doc["message"]["data"]))
    incident["incident"]["policy_user_labels"]["runbook"] = "high-latency"
    doc["message"]["data"] = base64.b64encode(json.dumps(incident).encode()).decode()
    push(stack, doc)
    card = cards(stack)[0]
    stack.slack.click("U_ALICE", OPS_CHANNEL, card["ts"], "alert.scale_up")
    stack.idle()
    view = stack.slack.open_views("U_ALICE")[-1]
    current = stack.gcp.run.get(PROD_BACKEND.name).scaling.max_instance_count
    assert f"max instances {current} → {current * 2}" in json.dumps(view, ensure_ascii=False)
