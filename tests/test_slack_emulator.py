"""The Slack emulator over real HTTP: slack_sdk's WebClient against its Web API, and its
signed requests checked by slack_sdk's SignatureVerifier on a small local receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.dev.slack_emulator import ManualClock, SlackEmulator

TOKEN = "xoxb-emulator-test-token"
SECRET = "emulator-test-signing-secret"
Json = dict[str, Any]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def payload(self) -> Json:
        parsed: Json = json.loads(self.form()["payload"])
        return parsed


class Receiver:
    """The bot's side: a real HTTP server that checks each request with slack_sdk's
    SignatureVerifier (401 when it fails), records it, and answers as scripted."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.received: list[Received] = []
        self.answers: list[Json | str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                verified = receiver.verifier.is_valid_request(body, headers)
                receiver.received.append(Received(headers, body, verified))
                answer = receiver.answers.pop(0) if verified and receiver.answers else ""
                out = json.dumps(answer).encode() if isinstance(answer, dict) else answer.encode()
                self.send_response(200 if verified else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        serve = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        serve.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slack/events"

    @property
    def last(self) -> Received:
        return self.received[-1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    bot = Receiver()
    yield bot
    bot.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def slack(receiver: Receiver, clock: ManualClock) -> Iterator[SlackEmulator]:
    emulator = SlackEmulator(
        bot_url=receiver.url, signing_secret=SECRET, bot_token=TOKEN, clock=clock
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.api_url, timeout=5)


def section(text: str) -> Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, value: str, text: str = "Go") -> Json:
    label = {"type": "plain_text", "text": text}
    return {"type": "button", "action_id": action_id, "value": value, "text": label}


def card(*buttons: Json) -> list[Json]:
    return [section("Plan"), {"type": "actions", "block_id": "plan", "elements": list(buttons)}]


def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def modal(*blocks: Json, title: str = "Scale service", **extra: Any) -> Json:
    view: Json = {"type": "modal", "title": {"type": "plain_text", "text": title}}
    return view | {"blocks": list(blocks)} | extra


def text_input(block_id: str, initial: str | None = None, optional: bool = False) -> Json:
    element: Json = {"type": "plain_text_input", "action_id": "value"}
    if initial is not None:
        element["initial_value"] = initial
    label = {"type": "plain_text", "text": block_id}
    return {"type": "input", "block_id": block_id, "label": label, "element": element} | (
        {"optional": True} if optional else {}
    )


FORM = modal(
    text_input("min", "1"),
    text_input("max", "10"),
    text_input("note", optional=True),
    submit={"type": "plain_text", "text": "Preview plan"},
    callback_id="scale_modal",
)


# -- Web API: identity and directory


def test_auth_test_names_the_bot_and_workspace(client: WebClient) -> None:
    """auth.test answers the bot's user and bot ids, the team and its URL."""
    answer = client.auth_test()
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        "T_FLUXORI",
        "U_BOT",
        "B_BOT",
    )
    assert answer["url"] == "https://fluxori.slack.com/"


def test_tokens_are_checked_like_slack(slack: SlackEmulator) -> None:
    """No token is not_authed, another token is invalid_auth."""
    assert error_of(WebClient(base_url=slack.api_url).auth_test).response["error"] == "not_authed"
    wrong = WebClient(token="xoxb-someone-else", base_url=slack.api_url)
    assert error_of(wrong.auth_test).response["error"] == "invalid_auth"


def test_unknown_method_is_refused(client: WebClient) -> None:
    """A method Slack does not have answers 404 unknown_method."""
    err = error_of(lambda: client.api_call("chat.shout", json={"channel": "C_OPS"}))
    assert (err.response.status_code, err.response["error"]) == (404, "unknown_method")


def test_users_info_gives_name_and_time_zone(client: WebClient) -> None:
    """users.info returns real_name and tz for a seeded user; an unknown id is user_not_found."""
    user = client.users_info(user="U_BOB")["user"]
    assert (user["real_name"], user["tz"], user["profile"]["real_name"]) == (
        "Bob Meyer",
        "Europe/Amsterdam",
        "Bob Meyer",
    )
    assert error_of(lambda: client.users_info(user="U_NOBODY")).response["error"] == (
        "user_not_found"
    )


def test_usergroup_lists_its_members(client: WebClient) -> None:
    """usergroups.users.list gives S_SRE's members; an unknown group is no_such_subteam."""
    assert client.usergroups_users_list(usergroup="S_SRE")["users"] == ["U_ALICE", "U_BOB"]
    err = error_of(lambda: client.usergroups_users_list(usergroup="S_NONE"))
    assert err.response["error"] == "no_such_subteam"


@pytest.mark.parametrize(
    ("channel", "member", "archived"),
    [("C_OPS", True, False), ("C_GENERAL", False, False), ("C_ARCHIVED", True, True)],
)
def test_conversations_info_reports_membership_and_archive(
    client: WebClient, channel: str, member: bool, archived: bool
) -> None:
    """conversations.info tells whether the bot is a member and whether the channel is archived."""
    info = client.conversations_info(channel=channel)["channel"]
    assert (info["id"], info["is_member"], info["is_archived"]) == (channel, member, archived)


# -- Web API: messages


def test_posted_messages_get_unique_increasing_ts(client: WebClient, slack: SlackEmulator) -> None:
    """chat.postMessage stores each message with a fresh, increasing ts and returns it."""
    posted = [client.chat_postMessage(channel="C_OPS", text=f"m{i}") for i in range(3)]
    stamps = [p["ts"] for p in posted]
    assert stamps == sorted(set(stamps), key=float)
    assert [m["text"] for m in slack.messages("C_OPS")] == ["m0", "m1", "m2"]
    assert posted[0]["message"]["user"] == "U_BOT"


def test_blocks_are_stored_with_block_ids(client: WebClient, slack: SlackEmulator) -> None:
    """Blocks posted without a block_id get one, as Slack returns them."""
    ts = client.chat_postMessage(channel="C_OPS", text="t", blocks=[section("hello")])["ts"]
    stored = slack.message("C_OPS", ts)
    assert stored is not None
    assert stored["blocks"][0]["block_id"]


def test_channel_name_is_accepted_for_posting(client: WebClient) -> None:
    """chat.postMessage accepts #name as well as the id, and answers with the id."""
    assert client.chat_postMessage(channel="#fluxori-ops", text="hi")["channel"] == "C_OPS"


def test_replies_form_a_thread_and_count_on_the_parent(
    client: WebClient, slack: SlackEmulator
) -> None:
    """Replies carry the root's thread_ts (also when aimed at a reply); the root counts them."""
    root = client.chat_postMessage(channel="C_OPS", text="root")["ts"]
    first = client.chat_postMessage(channel="C_OPS", text="r1", thread_ts=root)
    client.chat_postMessage(channel="C_OPS", text="r2", thread_ts=first["ts"])
    assert first["message"]["thread_ts"] == root
    assert [r["text"] for r in slack.replies("C_OPS", root)] == ["r1", "r2"]
    parent = slack.messages("C_OPS")[0]
    assert (parent["reply_count"], parent["latest_reply"]) == (
        2,
        slack.replies("C_OPS", root)[1]["ts"],
    )
    assert len(slack.messages("C_OPS")) == 1


def test_reply_to_unknown_thread_is_refused(client: WebClient) -> None:
    """A thread_ts that names no message is invalid_thread_ts."""
    err = error_of(lambda: client.chat_postMessage(channel="C_OPS", text="x", thread_ts="1.000001"))
    assert err.response["error"] == "invalid_thread_ts"


def test_update_changes_content_in_place(client: WebClient, slack: SlackEmulator) -> None:
    """chat.update keeps the ts, replaces what it is given, keeps blocks it is not given."""
    ts = client.chat_postMessage(channel="C_OPS", text="old", blocks=[section("old")])["ts"]
    client.chat_update(channel="C_OPS", ts=ts, text="new", blocks=[section("new")])
    client.chat_update(channel="C_OPS", ts=ts, text="newer")
    message = slack.message("C_OPS", ts)
    assert message is not None
    assert (message["text"], message["blocks"][0]["text"]["text"]) == ("newer", "new")
    assert "edited" in message


def test_update_of_unknown_message_is_refused(client: WebClient) -> None:
    """chat.update on a ts that does not exist is message_not_found."""
    err = error_of(lambda: client.chat_update(channel="C_OPS", ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"


def test_ephemeral_is_kept_for_its_user_only(client: WebClient, slack: SlackEmulator) -> None:
    """chat.postEphemeral returns message_ts and only that user holds the message."""
    answer = client.chat_postEphemeral(channel="C_OPS", user="U_ALICE", text="only you")
    assert [m["ts"] for m in slack.ephemerals("U_ALICE", "C_OPS")] == [answer["message_ts"]]
    assert slack.ephemerals("U_BOB") == []
    assert slack.messages("C_OPS") == []


def test_ephemeral_to_someone_outside_the_channel_is_refused(client: WebClient) -> None:
    """chat.postEphemeral to a user who is not in the channel is user_not_in_channel."""
    err = error_of(lambda: client.chat_postEphemeral(channel="C_OPS", user="U_DAVE", text="x"))
    assert err.response["error"] == "user_not_in_channel"


def test_permalink_points_at_the_message_in_its_thread(client: WebClient) -> None:
    """chat.getPermalink gives the archive link, with thread_ts for a reply."""
    root = client.chat_postMessage(channel="C_OPS", text="root")["ts"]
    reply = client.chat_postMessage(channel="C_OPS", text="r", thread_ts=root)["ts"]
    link = client.chat_getPermalink(channel="C_OPS", message_ts=reply)["permalink"]
    assert link == (
        f"https://fluxori.slack.com/archives/C_OPS/p{reply.replace('.', '')}"
        f"?thread_ts={root}&cid=C_OPS"
    )


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C_MISSING", "channel_not_found"),
        ("C_GENERAL", "not_in_channel"),
        ("C_ARCHIVED", "is_archived"),
    ],
)
def test_posting_where_the_bot_cannot(client: WebClient, channel: str, error: str) -> None:
    """Posting to a missing, foreign or archived channel fails with Slack's error."""
    assert (
        error_of(lambda: client.chat_postMessage(channel=channel, text="x")).response["error"]
        == error
    )


def test_message_without_text_or_blocks_is_no_text(client: WebClient) -> None:
    """A message with neither text nor blocks is no_text."""
    err = error_of(lambda: client.api_call("chat.postMessage", json={"channel": "C_OPS"}))
    assert err.response["error"] == "no_text"


def test_text_over_40000_characters_is_msg_too_long(client: WebClient) -> None:
    """Text longer than 40,000 characters is msg_too_long."""
    err = error_of(lambda: client.chat_postMessage(channel="C_OPS", text="x" * 40_001))
    assert err.response["error"] == "msg_too_long"


def many(count: int, make: Any) -> list[Any]:
    return [make(i) for i in range(count)]


def plain(text: str) -> Json:
    return {"type": "plain_text", "text": text}


BROKEN_BLOCKS = {
    "51 blocks": (many(51, lambda i: section(f"s{i}")), "/blocks]"),
    "section text 3001": ([section("x" * 3001)], "/blocks/0/text/text]"),
    "11 fields": ([{"type": "section", "fields": many(11, lambda i: plain("f"))}], "/fields]"),
    "field 2001": ([{"type": "section", "fields": [plain("x" * 2001)]}], "/fields/0/text]"),
    "header 151": ([{"type": "header", "text": plain("x" * 151)}], "/blocks/0/text/text]"),
    "header mrkdwn": ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "/text]"),
    "button text 76": (card(button("a", "v", "x" * 76)), "/elements/0/text/text]"),
    "action_id 256": (card(button("a" * 256, "v")), "/elements/0/action_id]"),
    "value 2001": (card(button("a", "v" * 2001)), "/elements/0/value]"),
    "26 actions": (card(*many(26, lambda i: button(f"a{i}", "v"))), "/blocks/1/elements]"),
    "11 context elements": (
        [{"type": "context", "elements": many(11, lambda i: plain("c"))}],
        "/blocks/0/elements]",
    ),
    "duplicate block_id": (
        [section("a") | {"block_id": "b"}, section("b") | {"block_id": "b"}],
        "/blocks/1/block_id]",
    ),
}


@pytest.mark.parametrize("case", BROKEN_BLOCKS)
def test_each_block_kit_limit_is_invalid_blocks(client: WebClient, case: str) -> None:
    """Blocks past one of Slack's limits are invalid_blocks, the pointer in the messages."""
    blocks, pointer = BROKEN_BLOCKS[case]
    err = error_of(lambda: client.chat_postMessage(channel="C_OPS", text="t", blocks=blocks))
    assert err.response["error"] == "invalid_blocks"
    messages = err.response["response_metadata"]["messages"]
    assert any(m.startswith("[ERROR] ") and m.endswith(pointer) for m in messages), messages


def test_blocks_exactly_at_every_limit_are_accepted(client: WebClient) -> None:
    """Blocks at (not past) each limit post fine."""
    blocks = [
        {"type": "header", "text": plain("h" * 150)},
        section("s" * 3000),
        {"type": "section", "fields": many(10, lambda i: plain("f" * 2000))},
        {"type": "context", "elements": many(10, lambda i: plain("c"))},
        {"type": "actions", "elements": many(25, lambda i: button(f"a{i}", "v" * 2000, "b" * 75))},
        *many(45, lambda i: {"type": "divider"}),
    ]
    assert len(blocks) == 50
    assert client.chat_postMessage(channel="C_OPS", text="t" * 40_000, blocks=blocks)["ok"]


# -- Web API: views


def test_views_open_needs_a_fresh_trigger(
    client: WebClient, slack: SlackEmulator, clock: ManualClock
) -> None:
    """A trigger opens one modal within 3 s; reused, expired or made-up triggers are refused."""
    trigger = slack.issue_trigger("U_ALICE")
    view = client.views_open(trigger_id=trigger, view=FORM)["view"]
    assert slack.open_views("U_ALICE")[0]["id"] == view["id"]
    assert (
        error_of(lambda: client.views_open(trigger_id=trigger, view=FORM)).response["error"]
        == "exchanged_trigger_id"
    )
    late = slack.issue_trigger("U_ALICE")
    clock.advance(3.1)
    assert (
        error_of(lambda: client.views_open(trigger_id=late, view=FORM)).response["error"]
        == "expired_trigger_id"
    )
    assert (
        error_of(lambda: client.views_open(trigger_id="1.2.abc", view=FORM)).response["error"]
        == "invalid_trigger_id"
    )


def test_views_update_by_id_or_external_id_and_hash(
    client: WebClient, slack: SlackEmulator
) -> None:
    """views.update replaces a view by id or external_id; a stale hash is hash_conflict."""
    opened = client.views_open(
        trigger_id=slack.issue_trigger("U_ALICE"), view=FORM | {"external_id": "scale-1"}
    )["view"]
    loaded = modal(section("Reading values…"), external_id="scale-1")
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=loaded)["view"]
    assert (updated["id"], updated["blocks"][0]["text"]["text"]) == (
        opened["id"],
        "Reading values…",
    )
    stale = lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=loaded)  # noqa: E731
    assert error_of(stale).response["error"] == "hash_conflict"
    assert client.views_update(external_id="scale-1", view=FORM | {"external_id": "scale-1"})["ok"]
    err = error_of(lambda: client.views_update(view_id="VNOPE", view=FORM))
    assert err.response["error"] == "not_found"


def test_bad_view_is_invalid_arguments(client: WebClient, slack: SlackEmulator) -> None:
    """A modal past Slack's limits (title over 24, over 100 blocks) is invalid_arguments."""
    view = modal(*many(101, lambda i: {"type": "divider"}), title="A title far too long for Slack")
    err = error_of(lambda: client.views_open(trigger_id=slack.issue_trigger("U_ALICE"), view=view))
    messages = err.response["response_metadata"]["messages"]
    assert err.response["error"] == "invalid_arguments"
    assert any(m.endswith("[json-pointer:/view/title/text]") for m in messages)
    assert any(m.endswith("[json-pointer:/view/blocks]") for m in messages)


def test_views_publish_keeps_one_home_per_user(client: WebClient, slack: SlackEmulator) -> None:
    """views.publish sets each user's App Home; republishing keeps the view id."""
    home = {"type": "home", "blocks": many(100, lambda i: section(f"line {i}"))}
    first = client.views_publish(user_id="U_ALICE", view=home)["view"]
    client.views_publish(user_id="U_BOB", view={"type": "home", "blocks": [section("Bob's")]})
    again = client.views_publish(user_id="U_ALICE", view={"type": "home", "blocks": [section("2")]})
    assert again["view"]["id"] == first["id"]
    alice, bob = slack.home("U_ALICE"), slack.home("U_BOB")
    assert alice is not None
    assert bob is not None
    assert (alice["blocks"][0]["text"]["text"], bob["blocks"][0]["text"]["text"]) == ("2", "Bob's")
    too_big = {"type": "home", "blocks": many(101, lambda i: {"type": "divider"})}
    err = error_of(lambda: client.views_publish(user_id="U_ALICE", view=too_big))
    assert err.response["error"] == "invalid_arguments"


# -- faults


def test_rate_limit_answers_429_with_retry_after(client: WebClient, slack: SlackEmulator) -> None:
    """fail_next makes the next calls 429 with Retry-After; then the method works again."""
    slack.fail_next("chat.postMessage", status=429, retry_after=7, times=2)
    for _ in range(2):
        err = error_of(lambda: client.chat_postMessage(channel="C_OPS", text="x"))
        assert (err.response.status_code, err.response["error"]) == (429, "ratelimited")
        assert err.response.headers["retry-after"] == "7"
    assert client.chat_postMessage(channel="C_OPS", text="x")["ok"]


def test_sdk_retry_handler_gets_through_a_rate_limit(slack: SlackEmulator) -> None:
    """slack_sdk's RateLimitErrorRetryHandler honours the 429 and the retry succeeds."""
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    slack.fail_next("chat.postMessage", retry_after=0)
    assert client.chat_postMessage(channel="C_OPS", text="x")["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]


def test_server_errors_then_recovery(client: WebClient, slack: SlackEmulator) -> None:
    """fail_next with status 500 fails that many calls, then the method recovers."""
    slack.fail_next("*", status=500, times=1)
    assert error_of(client.auth_test).response.status_code == 500
    assert client.auth_test()["ok"]


def test_slow_answer_trips_a_short_client_timeout(client: WebClient, slack: SlackEmulator) -> None:
    """slow_next delays the answer; a client with a shorter timeout gives up."""
    impatient = WebClient(token=TOKEN, base_url=slack.api_url, timeout=0.25)  # type: ignore[arg-type]
    slack.slow_next("auth.test", 1.0)
    with pytest.raises(TimeoutError):
        impatient.auth_test()
    assert client.auth_test()["ok"]


def test_every_call_is_logged_with_its_arguments(client: WebClient, slack: SlackEmulator) -> None:
    """The call log records method, arguments and outcome, never the token."""
    client.chat_postMessage(channel="C_OPS", text="logged")
    error_of(lambda: client.chat_postMessage(channel="C_GENERAL", text="x"))
    calls = slack.calls("chat.postMessage")
    assert [(c.args["channel"], c.ok, c.error) for c in calls] == [
        ("C_OPS", True, ""),
        ("C_GENERAL", False, "not_in_channel"),
    ]
    assert all("token" not in c.args for c in slack.calls())


# -- the driver: signed requests to the bot


def test_slash_command_is_signed_and_shaped_like_slack(
    slack: SlackEmulator, receiver: Receiver
) -> None:
    """A slash command arrives form-encoded with Slack's fields, and its signature verifies."""
    answer = slack.slash_command("U_ALICE", "C_OPS", text="status fluxori-backend")
    assert answer.status == 200
    assert receiver.last.verified
    form = receiver.last.form()
    assert {k: form[k] for k in ("team_id", "channel_id", "user_id", "user_name", "command")} == {
        "team_id": "T_FLUXORI",
        "channel_id": "C_OPS",
        "user_id": "U_ALICE",
        "user_name": "alice",
        "command": "/ops",
    }
    assert form["text"] == "status fluxori-backend"
    assert form["api_app_id"] == "A_OPS"
    assert form["response_url"].startswith(slack.url + "/hooks/commands/")
    assert form["trigger_id"]


@pytest.mark.parametrize("how", ["bad_signature", "stale_timestamp", "unsigned"])
def test_tampered_requests_fail_verification(
    slack: SlackEmulator, receiver: Receiver, how: Any
) -> None:
    """The tampered driver's requests are refused by slack_sdk's SignatureVerifier."""
    answer = slack.tampered(how).slash_command("U_ALICE", "C_OPS", text="help")
    assert answer.status == 401
    assert not receiver.last.verified
    assert slack.problems == ["/ops help: the bot answered HTTP 401"]


def test_command_answer_is_shown_like_slack(slack: SlackEmulator, receiver: Receiver) -> None:
    """The bot's immediate answer becomes an ephemeral, or a channel message when in_channel."""
    receiver.answers += [{"text": "only you"}, {"response_type": "in_channel", "text": "all"}]
    slack.slash_command("U_ALICE", "C_OPS", text="help")
    slack.slash_command("U_ALICE", "C_OPS", text="status")
    assert [m["text"] for m in slack.ephemerals("U_ALICE")] == ["only you"]
    assert [m["text"] for m in slack.messages("C_OPS")] == ["all"]


def test_response_url_posts_ephemeral_and_in_channel(
    slack: SlackEmulator, receiver: Receiver
) -> None:
    """Posting to a command's response_url adds an ephemeral or a (threaded) channel message."""
    slack.slash_command("U_ALICE", "C_OPS", text="status")
    hook = WebhookClient(receiver.last.form()["response_url"])
    assert hook.send(text="working on it", response_type="ephemeral").status_code == 200
    root = hook.send_dict({"response_type": "in_channel", "text": "root"})
    assert root.status_code == 200
    root_ts = slack.messages("C_OPS")[0]["ts"]
    hook.send_dict({"response_type": "in_channel", "text": "reply", "thread_ts": root_ts})
    assert [m["text"] for m in slack.ephemerals("U_ALICE")] == ["working on it"]
    assert [m["text"] for m in slack.replies("C_OPS", root_ts)] == ["reply"]


def test_response_url_is_good_for_five_uses_and_30_minutes(
    slack: SlackEmulator, receiver: Receiver, clock: ManualClock
) -> None:
    """A response_url answers used_url after five posts and expired_url after 30 minutes."""
    slack.slash_command("U_ALICE", "C_OPS", text="a")
    hook = WebhookClient(receiver.last.form()["response_url"])
    assert [hook.send(text=f"{i}").status_code for i in range(6)] == [200] * 5 + [404]
    assert json.loads(hook.send(text="x").body)["error"] == "used_url"
    slack.slash_command("U_ALICE", "C_OPS", text="b")
    later = WebhookClient(receiver.last.form()["response_url"])
    clock.advance(30 * 60 + 1)
    assert json.loads(later.send(text="x").body)["error"] == "expired_url"


def test_click_sends_block_actions_like_slack(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """A click posts a block_actions payload with the message, the action and a response_url."""
    root = client.chat_postMessage(channel="C_OPS", text="root")["ts"]
    blocks = card(button("action.confirm", "act-1", "Confirm"), button("action.cancel", "act-1"))
    ts = client.chat_postMessage(channel="C_OPS", text="plan", blocks=blocks, thread_ts=root)["ts"]
    assert slack.click("U_BOB", "C_OPS", ts, "action.confirm").status == 200
    payload = receiver.last.payload()
    assert receiver.last.verified
    assert payload["type"] == "block_actions"
    assert (payload["user"]["id"], payload["channel"]["id"]) == ("U_BOB", "C_OPS")
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C_OPS",
        "is_ephemeral": False,
        "thread_ts": root,
    }
    assert payload["message"] == slack.message("C_OPS", ts)
    action = payload["actions"][0]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "type")} == {
        "action_id": "action.confirm",
        "block_id": "plan",
        "value": "act-1",
        "type": "button",
    }
    assert action["text"]["text"] == "Confirm"
    assert action["action_ts"]
    assert payload["response_url"].startswith(slack.url + "/hooks/actions/")
    assert payload["trigger_id"]


def test_click_on_a_missing_button_is_a_test_error(client: WebClient, slack: SlackEmulator) -> None:
    """Clicking an action_id the message does not have raises, naming what is there."""
    ts = client.chat_postMessage(channel="C_OPS", text="p", blocks=card(button("a.ok", "1")))["ts"]
    with pytest.raises(LookupError, match=r"a\.ok=1"):
        slack.click("U_BOB", "C_OPS", ts, "a.nope")


def test_response_url_replaces_then_deletes_the_original(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """An action's response_url can replace the clicked message in place, then delete it."""
    ts = client.chat_postMessage(channel="C_OPS", text="p", blocks=card(button("a.ok", "1")))["ts"]
    slack.click("U_BOB", "C_OPS", ts, "a.ok")
    hook = WebhookClient(receiver.last.payload()["response_url"])
    hook.send(text="approved by Bob", blocks=[section("Approved")], replace_original=True)
    message = slack.message("C_OPS", ts)
    assert message is not None
    assert message["blocks"][0]["text"]["text"] == "Approved"
    hook.send_dict({"delete_original": True})
    assert slack.message("C_OPS", ts) is None


def test_click_on_an_ephemeral_says_so(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """A click on an ephemeral message is flagged is_ephemeral and carries no message."""
    blocks = card(button("a.ok", "1"))
    ts = client.chat_postEphemeral(channel="C_OPS", user="U_ALICE", text="p", blocks=blocks)
    slack.click("U_ALICE", "C_OPS", ts["message_ts"], "a.ok")
    payload = receiver.last.payload()
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload


def test_submit_view_sends_state_and_applies_errors(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """view_submission carries given and initial values; response_action errors stay shown."""
    view = client.views_open(trigger_id=slack.issue_trigger("U_ALICE"), view=FORM)["view"]
    receiver.answers.append({"response_action": "errors", "errors": {"max": "Too many"}})
    slack.submit_view("U_ALICE", view["id"], {"max": "999"})
    payload = receiver.last.payload()
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view["id"]
    values = payload["view"]["state"]["values"]
    assert values["min"]["value"] == {"type": "plain_text_input", "value": "1"}
    assert values["max"]["value"]["value"] == "999"
    assert values["note"]["value"]["value"] is None
    shown = slack.view(view["id"])
    assert shown is not None
    assert shown["errors"] == {"max": "Too many"}
    assert not shown["closed"]
    assert slack.problems == []


def test_submit_view_applies_update_and_close(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """response_action update replaces the modal; an empty answer closes it."""
    view = client.views_open(trigger_id=slack.issue_trigger("U_ALICE"), view=FORM)["view"]
    receiver.answers.append({"response_action": "update", "view": modal(section("Planned"))})
    slack.submit_view("U_ALICE", view["id"])
    shown = slack.view(view["id"])
    assert shown is not None
    assert shown["blocks"][0]["text"]["text"] == "Planned"
    client.views_update(view_id=view["id"], view=FORM)
    slack.submit_view("U_ALICE", view["id"])
    assert slack.open_views("U_ALICE") == []
    closed = lambda: client.views_update(view_id=view["id"], view=FORM)  # noqa: E731
    assert error_of(closed).response["error"] == "not_found"


def test_submit_view_errors_for_a_missing_block_are_a_problem(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """Errors keyed by a block the modal lacks are noted as a problem, as Slack rejects them."""
    view = client.views_open(trigger_id=slack.issue_trigger("U_ALICE"), view=FORM)["view"]
    receiver.answers.append({"response_action": "errors", "errors": {"cpu": "bad"}})
    slack.submit_view("U_ALICE", view["id"])
    assert len(slack.problems) == 1
    assert "`cpu`" in slack.problems[0]


def test_required_input_left_empty_cannot_be_submitted(
    client: WebClient, slack: SlackEmulator
) -> None:
    """Slack's client refuses to submit with a required input empty; so does the driver."""
    view = client.views_open(trigger_id=slack.issue_trigger("U_ALICE"), view=FORM)["view"]
    with pytest.raises(ValueError, match="min"):
        slack.submit_view("U_ALICE", view["id"], {"min": ""})


def test_open_home_sends_a_signed_event_callback(slack: SlackEmulator, receiver: Receiver) -> None:
    """open_home posts an app_home_opened event envelope as JSON, signed."""
    slack.open_home("U_CAROL")
    envelope = json.loads(receiver.last.body)
    assert receiver.last.verified
    assert receiver.last.headers["Content-Type"] == "application/json"
    assert (envelope["type"], envelope["team_id"], envelope["api_app_id"]) == (
        "event_callback",
        "T_FLUXORI",
        "A_OPS",
    )
    assert envelope["event"]["type"] == "app_home_opened"
    assert envelope["event"]["user"] == "U_CAROL"
    assert envelope["event_id"].startswith("Ev")
    assert envelope["event_time"] > 0


def test_event_retry_repeats_the_event_id(slack: SlackEmulator, receiver: Receiver) -> None:
    """A redelivered event keeps its event_id and carries X-Slack-Retry-Num."""
    event = {"type": "app_home_opened", "user": "U_BOB", "tab": "home"}
    slack.send_event(event, event_id="Ev0001", retry_num=1)
    assert json.loads(receiver.last.body)["event_id"] == "Ev0001"
    assert receiver.last.headers["X-Slack-Retry-Num"] == "1"


def test_click_in_home_tab_sends_the_view(
    client: WebClient, slack: SlackEmulator, receiver: Receiver
) -> None:
    """A click in the App Home sends block_actions with the view container."""
    home = {"type": "home", "blocks": card(button("home.refresh", "r"))}
    view_id = client.views_publish(user_id="U_ALICE", view=home)["view"]["id"]
    slack.click_in_view("U_ALICE", view_id, "home.refresh")
    payload = receiver.last.payload()
    assert payload["container"] == {"type": "view", "view_id": view_id}
    assert payload["view"]["id"] == view_id
    assert payload["actions"][0]["value"] == "r"


# -- state for the sandbox page


def test_state_endpoint_shows_channels_messages_and_replies(
    client: WebClient, slack: SlackEmulator
) -> None:
    """GET /_emulator/state returns channels with their messages and threads as JSON."""
    root = client.chat_postMessage(channel="C_OPS", text="root")["ts"]
    client.chat_postMessage(channel="C_OPS", text="reply", thread_ts=root)
    state = requests.get(f"{slack.url}/_emulator/state", timeout=5).json()
    ops = next(c for c in state["channels"] if c["id"] == "C_OPS")
    assert (ops["name"], ops["is_member"]) == ("fluxori-ops", True)
    assert [m["text"] for m in ops["messages"]] == ["root"]
    assert [r["text"] for r in ops["messages"][0]["replies"]] == ["reply"]


# -- arguments in every form slack_sdk sends them


@pytest.mark.parametrize("how", ["urlencoded", "multipart"])
def test_form_and_multipart_bodies_are_read(
    client: WebClient, slack: SlackEmulator, how: str
) -> None:
    """Arguments arrive url-encoded, or multipart (slack_sdk's form once files are attached)."""
    args = {"channel": "C_OPS", "text": how, "blocks": json.dumps([section(how)])}
    if how == "urlencoded":
        client.api_call("chat.postMessage", params=args)
    else:
        client.api_call("chat.postMessage", params=args, files={"file": b"ignored"})
    assert slack.calls()[0].args["text"] == how
    message = slack.messages("C_OPS")[0]
    assert (message["text"], message["blocks"][0]["text"]["text"]) == (how, how)


def test_query_string_arguments_are_read(slack: SlackEmulator) -> None:
    """A GET with the arguments in the query string works, as Slack allows."""
    answer = requests.get(
        f"{slack.api_url}users.info?user=U_CAROL",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert answer["user"]["real_name"] == "Carol Dlamini"


# -- the real Bolt app on the other side


@pytest.fixture
def bolt_bot() -> Iterator[tuple[SlackEmulator, Json]]:
    """A slack_bolt App served over HTTP, talking to its own emulator; yields what it saw."""
    app_holder: list[Any] = []
    httpd = make_server(
        "127.0.0.1", 0, lambda env, start: app_holder[0](env, start), handler_class=QuietWsgi
    )
    serve = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    serve.start()
    emulator = SlackEmulator(
        bot_url=f"http://127.0.0.1:{httpd.server_port}/slack/events",
        signing_secret=SECRET,
        bot_token=TOKEN,
    )
    emulator.start()
    seen: Json = {}
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=emulator.api_url),
        process_before_response=True,  # listeners finish before the HTTP answer: no polling
    )
    wire_bolt_listeners(app, seen)
    app_holder.append(SlackRequestHandler(app))
    yield emulator, seen
    emulator.stop()
    httpd.shutdown()
    httpd.server_close()


class QuietWsgi(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def wire_bolt_listeners(app: App, seen: Json) -> None:
    @app.command("/ops")
    def command(ack: Any, body: Json, client: WebClient) -> None:
        ack({"response_type": "ephemeral", "text": "on it"})
        client.chat_postMessage(
            channel=body["channel_id"], text="plan", blocks=card(button("go", "a1"))
        )
        client.views_open(trigger_id=body["trigger_id"], view=FORM)

    @app.action("go")
    def clicked(ack: Any, body: Json, respond: Any) -> None:
        ack()
        seen["value"] = body["actions"][0]["value"]
        respond(replace_original=True, text="approved")

    @app.view("scale_modal")
    def submitted(ack: Any, view: Json) -> None:
        seen["max"] = view["state"]["values"]["max"]["value"]["value"]
        ack(response_action="errors", errors={"max": "Too many"})


def test_bolt_app_accepts_the_emulators_requests(bolt_bot: tuple[SlackEmulator, Json]) -> None:
    """slack_bolt verifies, parses and answers the emulator's command, click and submission."""
    slack, seen = bolt_bot
    assert slack.slash_command("U_ALICE", "C_OPS", text="scale").status == 200
    assert [m["text"] for m in slack.ephemerals("U_ALICE")] == ["on it"]
    plan = slack.messages("C_OPS")[0]
    assert slack.click("U_BOB", "C_OPS", plan["ts"], "go").status == 200
    replaced = slack.message("C_OPS", plan["ts"])
    assert replaced is not None
    assert (replaced["text"], "blocks" in replaced) == ("approved", False)
    view = slack.open_views("U_ALICE")[0]
    slack.submit_view("U_ALICE", view["id"], {"max": "500"})
    assert seen == {"value": "a1", "max": "500"}
    shown = slack.view(view["id"])
    assert shown is not None
    assert shown["errors"] == {"max": "Too many"}
    assert slack.problems == []
