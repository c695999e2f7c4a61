"""The sandbox page's JSON endpoints over HTTP, against a real Sandbox (emulated Google Cloud
and Slack, the production bot server in a child process), and the page's static files."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from bot.dev import emoji_table
from bot.dev.sandbox import Sandbox, free_port
from bot.dev.sandbox_page import add_routes
from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.routes import STATIC
from bot.registry import VERBS
from gcp.log_queries import PRESETS
from tests.support.stack import eventually, running_sandbox

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 10.0
T = TypeVar("T")
Json = dict[str, Any]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as box:
        yield box


@pytest.fixture(scope="module")
def url(sandbox: Sandbox) -> str:
    return sandbox.slack.url


def post(url: str, path: str, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    return requests.post(f"{url}{path}", json=payload, data=data, timeout=10)


def _buttons(message: Json) -> list[Json]:
    return [
        element
        for block in message.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def serving(url: str, project: str, service: str) -> dict[str, int]:
    """Cloud Run's traffic split of one service, as the page's Google Cloud panel shows it."""
    services = requests.get(f"{url}/_sandbox/gcp", timeout=5).json()["services"]
    name = f"projects/{project}/locations/africa-south1/services/{service}"
    return dict(next(s["split"] for s in services if s["name"] == name))


def open_modal(url: str, user: str) -> Json | None:
    """The user's top modal once its form is filled in (the bot reads the values first)."""
    views = requests.get(f"{url}/_sandbox/modals", params={"user": user}, timeout=5).json()
    top = views["views"][-1] if views["views"] else None
    if top and any(b["type"] == "input" for b in top["blocks"]):
        return dict(top)
    return None


# -- acting as a person, through the bot


def test_command_reaches_the_bot_as_the_chosen_user(sandbox: Sandbox, url: str) -> None:
    """POST /_sandbox/command sends /ops as that user; the bot's answer is theirs alone."""
    reply = post(url, "/_sandbox/command", {"user": "U_CAROL", "text": "/ops help"})
    assert reply.status_code == 200
    answer = reply.json()
    assert (answer["ok"], answer["status"], answer["error"]) == (True, 200, "")
    shown = sandbox.slack.ephemerals("U_CAROL", "C_OPS")
    assert "Fluxori ops: /ops commands" in shown[-1]["blocks"][0]["text"]["text"]
    assert not [m for m in sandbox.slack.ephemerals("U_BOB") if m["ts"] == shown[-1]["ts"]]


def test_click_confirms_a_plan_and_the_traffic_moves(sandbox: Sandbox, url: str) -> None:
    """POST /_sandbox/click presses a plan's Confirm as the user; Cloud Run's traffic moves."""
    slack = sandbox.slack
    post(
        url,
        "/_sandbox/command",
        {"user": "U_ALICE", "text": "/ops rollback fluxori-frontend --env dev"},
    )
    card = eventually(
        lambda: next(
            (
                m
                for m in slack.messages("C_OPS")
                if m["text"].startswith("Roll back fluxori-frontend to")
            ),
            None,
        ),
        timeout=DEADLINE,
        what="rollback plan card",
    )
    target = card["text"].rsplit(" ", 1)[-1]
    confirm = next(b for b in _buttons(card) if b["action_id"] == "action.confirm")
    click = {
        "user": "U_ALICE",
        "channel": "C_OPS",
        "message_ts": card["ts"],
        "action_id": "action.confirm",
        "value": confirm["value"],
    }
    answer = post(url, "/_sandbox/click", click).json()
    assert (answer["ok"], answer["status"]) == (True, 200)
    eventually(
        lambda: serving(url, "fluxori-dev", "fluxori-frontend") == {target: 100} or None,
        timeout=DEADLINE,
        what=f"dev traffic on {target}",
    )


def test_modal_submit_shows_field_errors_then_close_removes_it(url: str) -> None:
    """Submitting the scale form with a bad value leaves it open with the error; close shuts it."""
    post(
        url,
        "/_sandbox/command",
        {"user": "U_BOB", "text": "/ops scale fluxori-frontend --env staging"},
    )
    view = eventually(lambda: open_modal(url, "U_BOB"), timeout=DEADLINE, what="scale form")
    assert view["title"]["text"] == "Scale service"

    submit = {"user": "U_BOB", "view_id": view["id"], "values": {"memory": "64Gi"}}
    answer = post(url, "/_sandbox/view/submit", submit).json()
    assert (answer["ok"], answer["status"]) == (True, 200)
    shown = open_modal(url, "U_BOB")
    assert shown is not None
    assert "64Gi" in shown["errors"]["memory"]

    empty = {"user": "U_BOB", "view_id": view["id"], "values": {"min": ""}}
    refused = post(url, "/_sandbox/view/submit", empty)
    assert refused.status_code == 400
    assert "required inputs ['min'] are empty" in refused.json()["error"]

    closed = post(url, "/_sandbox/view/close", {"user": "U_BOB", "view_id": view["id"]})
    assert closed.json() == {"ok": True, "closed": view["id"]}
    views = requests.get(f"{url}/_sandbox/modals", params={"user": "U_BOB"}, timeout=5).json()
    assert views == {"views": []}


def test_home_publishes_the_users_app_home(url: str) -> None:
    """POST /_sandbox/home sends app_home_opened; the bot publishes that user's home view."""
    answer = post(url, "/_sandbox/home", {"user": "U_CAROL"}).json()
    assert (answer["ok"], answer["status"]) == (True, 200)

    def home() -> Json | None:
        state = requests.get(f"{url}/_emulator/state", timeout=5).json()
        view_id = state["home"].get("U_CAROL")
        return state["views"][view_id] if view_id else None

    view = eventually(home, timeout=DEADLINE, what="Carol's App Home")
    assert view["blocks"][0]["text"]["text"] == "Fluxori ops"


def test_members_are_the_people_in_the_channel(url: str) -> None:
    """GET /_sandbox/members lists who may act in #fluxori-ops; an unknown channel is a 404."""
    members = requests.get(f"{url}/_sandbox/members", timeout=5)
    assert members.json() == {"channel": "C_OPS", "members": ["U_ALICE", "U_BOB", "U_CAROL"]}
    missing = requests.get(f"{url}/_sandbox/members", params={"channel": "C_NOPE"}, timeout=5)
    assert (missing.status_code, missing.json()["error"]) == (404, "no channel C_NOPE")


# -- what the page may get wrong


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/_sandbox/command", b"{not json", "the body must be JSON"),
        ("/_sandbox/command", [1, 2], "the body must be a JSON object"),
        ("/_sandbox/command", {"text": "/ops help"}, "missing field `user`"),
        ("/_sandbox/command", {"user": "U_ALICE"}, "missing field `text`"),
        ("/_sandbox/command", {"user": "U_ALICE", "text": ""}, "`text` must be a non-empty string"),
        ("/_sandbox/command", {"user": "U_NOBODY", "text": "/ops"}, "unknown user 'U_NOBODY'"),
        ("/_sandbox/command", {"user": "U_ALICE", "text": "/deploy x"}, "start with /ops"),
        (
            "/_sandbox/click",
            {"user": "U_ALICE", "channel": "C_OPS", "message_ts": "1.0"},
            "missing field `action_id`",
        ),
        (
            "/_sandbox/click",
            {
                "user": "U_ALICE",
                "channel": "C_OPS",
                "message_ts": "1.0",
                "action_id": "a",
                "value": 3,
            },
            "`value` must be a string",
        ),
        (
            "/_sandbox/view/submit",
            {"user": "U_ALICE", "view_id": "V1", "values": [1]},
            "`values` must be an object",
        ),
        ("/_sandbox/view/click", {"user": "U_ALICE", "action_id": "a"}, "missing field `view_id`"),
        ("/_sandbox/view/close", {"user": "U_ALICE"}, "missing field `view_id`"),
        ("/_sandbox/home", {}, "missing field `user`"),
    ],
)
def test_bad_requests_are_400_with_the_reason(url: str, path: str, body: Any, reason: str) -> None:
    """Bad JSON, missing or mistyped fields and unknown users are a 400 saying what is wrong."""
    reply = post(url, path, body)
    assert reply.status_code == 400
    assert reply.json()["ok"] is False
    assert reason in reply.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        (
            "/_sandbox/click",
            {"user": "U_ALICE", "channel": "C_OPS", "message_ts": "1.000001", "action_id": "a"},
            "U_ALICE sees no message 1.000001 in C_OPS",
        ),
        (
            "/_sandbox/view/submit",
            {"user": "U_ALICE", "view_id": "V_NOPE"},
            "U_ALICE has no open view V_NOPE",
        ),
        (
            "/_sandbox/view/click",
            {"user": "U_ALICE", "view_id": "V_NOPE", "action_id": "a"},
            "U_ALICE has no open view V_NOPE",
        ),
        (
            "/_sandbox/view/close",
            {"user": "U_ALICE", "view_id": "V_NOPE"},
            "U_ALICE has no open view V_NOPE",
        ),
    ],
)
def test_what_the_user_cannot_see_is_404(url: str, path: str, body: Json, reason: str) -> None:
    """A click on a message or view the user does not have is a 404 naming it."""
    reply = post(url, path, body)
    assert (reply.status_code, reply.json()["error"]) == (404, reason)


def test_modals_need_a_known_user(url: str) -> None:
    """GET /_sandbox/modals without a known user is a 400 listing the users."""
    reply = requests.get(f"{url}/_sandbox/modals", params={"user": "U_X"}, timeout=5)
    assert reply.status_code == 400
    assert "one of U_ALICE, U_BOB, U_CAROL, U_DAVE" in reply.json()["error"]


def test_a_bot_that_does_not_answer_is_a_502() -> None:
    """With no bot listening, the page is told so instead of hanging or seeing a 500."""
    slack = SlackEmulator(
        bot_url=f"http://127.0.0.1:{free_port()}/slack/events", signing_secret="s"
    )
    add_routes(slack)
    slack.start()
    try:
        reply = post(slack.url, "/_sandbox/command", {"user": "U_ALICE", "text": "/ops help"})
    finally:
        slack.stop()
    assert reply.status_code == 502
    assert reply.json()["error"] == "the bot did not answer (ConnectionError); is it running?"


# -- the page itself


def test_page_and_its_files_are_served(url: str) -> None:
    """GET / is the page; its script and stylesheet are served with their types."""
    page = requests.get(f"{url}/", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "#fluxori-ops" in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        served = requests.get(f"{url}/{name}", timeout=5)
        assert served.status_code == 200
        assert kind in served.headers["Content-Type"]


def test_page_loads_nothing_from_the_network() -> None:
    """No CDN fonts, scripts or styles: every URL the page loads is its own."""
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert not re.search(r"@import|url\((?!\"?data:)", text), path.name
        assert 'fetch("http' not in text, path.name


# -- Slack's emoji shortcodes


def test_every_shortcode_the_bot_writes_is_an_emoji_the_page_knows(url: str) -> None:
    """GET /emoji.json maps every :shortcode: in the bot's strings to an emoji character."""
    table = requests.get(f"{url}/emoji.json", timeout=5).json()["shortcodes"]
    written = emoji_table.shortcodes_written(emoji_table.bot_sources())
    assert {"pushpin", "stopwatch", "double_vertical_bar", "large_orange_circle"} <= written
    assert sorted(written - set(table)) == []
    assert all(not table[name].isascii() for name in written)


def test_the_emoji_table_is_the_one_generated_from_emoji_datasource() -> None:
    """static/emoji.json is what `python -m bot.dev.emoji_table` makes from the pinned package."""
    if shutil.which("npm") is None:
        reason = f"regenerating the emoji table needs npm ({emoji_table.SOURCE})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert emoji_table.TABLE.read_text(encoding="utf-8") == emoji_table.generate()


# -- typed mentions, as Slack escapes them


def answer_to(url: str, user: str, text: str) -> str:
    """The bot's immediate answer (a usage error's text) to `user`'s command."""
    reply = post(url, "/_sandbox/command", {"user": user, "text": text}).json()
    return str(reply["body"])


def test_typed_mentions_reach_the_bot_as_slack_escapes_them(sandbox: Sandbox, url: str) -> None:
    """@carol and #fluxori-ops reach the bot as <@U…|carol> and <#C…|…>; unknown names as typed."""
    post(url, "/_sandbox/command", {"user": "U_CAROL", "text": "/ops history --user @carol"})
    eventually(
        lambda: any(
            "ran `/ops history --user &lt;@U_CAROL|carol&gt;`" in str(m["blocks"])
            for m in sandbox.slack.messages("C_OPS")
        ),
        timeout=DEADLINE,
        what="the command echoed with Carol's escaped mention",
    )
    channel = answer_to(url, "U_CAROL", "/ops history fluxori-backend #fluxori-ops")
    assert "I did not expect `&lt;#C_OPS|fluxori-ops&gt;`" in channel
    unknown = answer_to(url, "U_CAROL", "/ops history fluxori-backend @nobody")
    assert "I did not expect `@nobody`" in unknown


# -- the alert panel


def _alert_cards(sandbox: Sandbox, policy: str) -> list[Json]:
    return [m for m in sandbox.slack.messages("C_OPS") if policy in m["text"]]


def last(items: list[Json]) -> Json | None:
    return items[-1] if items else None


def _fire(url: str, sample: str) -> None:
    answer = post(url, "/_sandbox/alert", {"sample": sample}).json()
    assert (answer["ok"], answer["status"]) == (True, 200), answer


def test_a_fired_alert_starts_now_on_the_serving_revision(sandbox: Sandbox, url: str) -> None:
    """The sample's fixed date and revision are replaced by now and what Cloud Run serves."""
    split = serving(url, "fluxori-prod", "fluxori-backend")
    revision = max(split, key=lambda r: split[r])
    before = int(time.time())
    _fire(url, "high-latency-open")
    card = eventually(
        lambda: last(_alert_cards(sandbox, "high latency")),
        timeout=DEADLINE,
        what="high latency card",
    )
    shown = str(card["blocks"])
    assert revision in shown
    assert "00042-zap" not in shown  # the sample's revision, which the platform does not have
    started = re.search(r"<!date\^(\d+)\^", shown)
    assert started, shown
    assert before <= int(started.group(1)) <= time.time()


def test_closed_updates_the_card_it_opened_and_a_new_open_is_a_new_card(
    sandbox: Sandbox, url: str
) -> None:
    cards_before = len(_alert_cards(sandbox, "high 5xx rate"))
    _fire(url, "high-error-rate-open")
    card = eventually(
        lambda: last(_alert_cards(sandbox, "high 5xx rate")[cards_before:]),
        timeout=DEADLINE,
        what="5xx card",
    )
    _fire(url, "high-error-rate-closed")
    eventually(
        lambda: (
            (sandbox.slack.message("C_OPS", card["ts"]) or {})
            .get("text", "")
            .startswith("Resolved")
            or None
        ),
        timeout=DEADLINE,
        what="the card marked resolved",
    )
    assert "Resolved" in str(sandbox.slack.replies("C_OPS", card["ts"]))
    _fire(url, "high-error-rate-open")  # a new incident, not a duplicate of the closed one
    eventually(
        lambda: len(_alert_cards(sandbox, "high 5xx rate")) == cards_before + 2 or None,
        timeout=DEADLINE,
        what="a second 5xx card",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"sample": "meteor-strike"}, "unknown sample 'meteor-strike'; one of high-error-rate"),
        ({}, "unknown sample ''"),
        (b"not json", "the body must be JSON"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
def test_a_bad_alert_request_is_400_with_the_reason(url: str, body: Any, reason: str) -> None:
    reply = post(url, "/_sandbox/alert", body)
    assert reply.status_code == 400
    assert reason in reply.json()["error"]


def test_the_composer_suggests_the_bots_own_grammar(url: str) -> None:
    """GET /_sandbox/commands is the bot's /ops grammar, so the page cannot drift from it."""
    grammar = requests.get(f"{url}/_sandbox/commands", timeout=5).json()
    verbs = {v["name"]: v for v in grammar["verbs"]}
    assert list(verbs) == list(VERBS)
    assert verbs["logs"]["usage"] == "SERVICE PRESET [--since 1h]"
    assert verbs["history"]["takes_service"] is True
    assert verbs["rotate-secret"]["takes_service"] is False
    assert grammar["presets"] == list(PRESETS)
