"""The HTTP edges in front of the bot: Slack replays, payload shapes, body size, and which
push identity each push route accepts. Over real HTTP with signed requests and tokens."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from bot import container
from bot.dev.devserver import BackgroundServer
from bot.ops import home
from bot.runtime import job_inputs
from bot.runtime.web import MAX_BODY
from gcp.clients import FAST_SETTINGS
from tests.support.replay import replaying
from tests.support.slack import ALICE, cards, envelope, push
from tests.support.stack import OPS_CHANNEL, Stack


def warnings(log_lines: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["severity"] in ("WARNING", "ERROR", "CRITICAL")]


# --- replays ------------------------------------------------------------------------------


def test_replayed_slash_command_runs_once(stack: Stack, log_lines: io.StringIO) -> None:
    """The same signed /ops command sent twice: one answer; the copy gets 200, empty, a warning."""
    driver, transport = replaying(stack)
    assert driver.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend").status == 200
    stack.idle()
    assert (transport.replays[0].status_code, transport.replays[0].text) == (200, "")
    assert len(stack.slack.messages(OPS_CHANNEL)) == 1
    assert [w["message"] for w in warnings(log_lines)] == ["slack_request_replayed"]


def test_replayed_click_runs_once(stack: Stack) -> None:
    """The same signed button click sent twice answers in the alert's thread once."""
    assert push(stack, envelope("alert-open.json")).status_code == 200
    card = cards(stack)[0]
    driver, transport = replaying(stack)
    assert driver.click(ALICE, OPS_CHANNEL, card["ts"], "alert.revisions").status == 200
    stack.idle()
    assert transport.replays[0].status_code == 200
    assert len(stack.slack.replies(OPS_CHANNEL, card["ts"])) == 1


def test_replayed_event_runs_once(stack: Stack) -> None:
    """The same signed app_home_opened event sent twice publishes the App Home once."""
    driver, transport = replaying(stack)
    assert driver.open_home(ALICE).status == 200
    stack.idle()
    assert transport.replays[0].status_code == 200
    assert len(stack.slack.calls("views.publish")) == 1


@pytest.fixture
def second_instance(stack: Stack) -> Iterator[str]:
    """Another instance of the bot on the same action store, as Cloud Run scales out."""
    other = container.build(stack.bot.deps.settings, FAST_SETTINGS)
    server = BackgroundServer(other.wsgi()).start()
    yield f"{server.url}/slack/events"
    server.stop()
    other.close()


def test_replay_to_another_instance_is_refused(stack: Stack, second_instance: str) -> None:
    """A command replayed to a second instance sharing the store is not run there either."""
    driver, transport = replaying(stack, replay_url=second_instance)
    assert driver.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend").status == 200
    stack.idle()
    assert (transport.replays[0].status_code, transport.replays[0].text) == (200, "")
    assert len(stack.slack.messages(OPS_CHANNEL)) == 1


# --- malformed interaction payloads ---------------------------------------------------------

CLICK = {"type": "block_actions", "user": {"id": ALICE}, "actions": [{"action_id": "x"}]}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({**CLICK, "type": None}, "no type"),
        ({**CLICK, "user": {}}, "no user.id"),
        ({k: v for k, v in CLICK.items() if k != "user"}, "no user.id"),
        ({**CLICK, "actions": "x"}, "no actions"),
        ({**CLICK, "actions": [{"value": "1"}]}, "without action_id"),
        ({**CLICK, "actions": ["x"]}, "without action_id"),
        ({"type": "view_submission", "user": {"id": ALICE}}, "view_submission payload has no view"),
        ({"type": "view_closed", "user": {"id": ALICE}, "view": []}, "has no view"),
    ],
)
def test_signed_malformed_interaction_is_400_and_a_warning(
    stack: Stack, log_lines: io.StringIO, payload: Any, reason: str
) -> None:
    """A signed payload not shaped as Slack sends it: 400 with the reason, a warning, no error."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    reply = stack.slack.driver.send(body, "application/x-www-form-urlencoded")
    assert reply.status == 400
    assert reason in reply.body
    assert [(w["severity"], w["message"]) for w in warnings(log_lines)] == [
        ("WARNING", "slack_request_malformed")
    ]


def test_unsigned_malformed_interaction_is_401(stack: Stack) -> None:
    """Without a valid signature the shape is never looked at: 401."""
    body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    for how in ("unsigned", "bad_signature", "stale_timestamp"):
        reply = stack.slack.tampered(how).send(body, "application/x-www-form-urlencoded")
        assert reply.status == 401


def test_payload_that_is_not_json_is_400(stack: Stack) -> None:
    """A signed form whose payload field is not JSON: 400 with the reason."""
    body = urlencode({"payload": "{not json"}).encode()
    reply = stack.slack.driver.send(body, "application/x-www-form-urlencoded")
    assert (reply.status, reply.body) == (400, "payload is not JSON")


# --- body size ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/slack/events", "/pubsub/alerts", "/tasks"])
def test_oversized_bodies_are_413_on_every_post_route(stack: Stack, path: str) -> None:
    """A body over the limit is refused with a reason before anything reads it; nothing runs."""
    headers = {"Authorization": f"Bearer {stack.google.mint()}"}
    reply = requests.post(
        f"{stack.url}{path}", data=b"x" * (MAX_BODY + 1), headers=headers, timeout=10
    )
    assert reply.status_code == 413
    assert "over" in reply.text
    assert stack.slack.messages(OPS_CHANNEL) == []


# --- push identities: /pubsub/alerts and /tasks ---------------------------------------------


def job_push(kind: str, payload: dict[str, Any], message_id: str = "j-1") -> dict[str, Any]:
    data = json.dumps({"kind": kind, "payload": payload}).encode()
    message = {"data": base64.b64encode(data).decode(), "messageId": message_id}
    return {"message": message, "subscription": "projects/p/subscriptions/jobs"}


def post_task(stack: Stack, body: dict[str, Any], token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(f"{stack.url}/tasks", json=body, headers=headers, timeout=10)


def test_tasks_runs_a_job_pushed_with_the_tasks_identity(stack: Stack) -> None:
    """A tasks token and a job kind the bot runs, naming an input a verified request stored:
    200 and the job's effect (App Home published)."""
    stack.bot.deps.store.put_record(job_inputs.RECORD, "in-1", {"data": {"user": ALICE}})
    job = job_push(home.JOB_KIND, {job_inputs.KEY: "in-1"})
    reply = post_task(stack, job, stack.google.mint_tasks())
    assert (reply.status_code, reply.text) == (200, "done")
    assert len(stack.slack.calls("views.publish")) == 1


def test_alert_token_is_refused_on_tasks(stack: Stack) -> None:
    """A token minted for the alerts subscription cannot run a job: 401 and nothing runs."""
    stack.bot.deps.store.put_record(job_inputs.RECORD, "in-1", {"data": {"user": ALICE}})
    job = job_push(home.JOB_KIND, {job_inputs.KEY: "in-1"})
    reply = post_task(stack, job, stack.google.mint())
    assert reply.status_code == 401
    assert stack.slack.calls("views.publish") == []


def test_tasks_token_is_refused_on_alerts(stack: Stack) -> None:
    """A token minted for /tasks cannot post an alert card: 401 and no card."""
    token = f"Bearer {stack.google.mint_tasks()}"
    assert push(stack, envelope("alert-open.json"), token=token).status_code == 401
    assert cards(stack) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (job_push("no-such-kind", {}), "unknown job kind 'no-such-kind'"),
        ({"message": {"data": base64.b64encode(b"[1]").decode(), "messageId": "1"}}, "no kind"),
        ({"message": {"data": "", "messageId": "1"}}, "not a job this bot runs"),
        ({"hello": "world"}, "not a job this bot runs"),
    ],
)
def test_tasks_refuses_what_is_not_a_known_job(
    stack: Stack, body: dict[str, Any], reason: str
) -> None:
    """An unknown kind or a body that is not a job: 400 with the reason, nothing runs."""
    reply = post_task(stack, body, stack.google.mint_tasks())
    assert reply.status_code == 400
    assert reason in reply.text
    assert stack.slack.calls("views.publish") == []
