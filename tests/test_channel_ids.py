"""A channel given by name is looked up once at start-up and used as its id everywhere, since
Slack's chat.update (and the readers) take only ids; an unknown name stops start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.dev.local_google import AUDIENCE, PUSH_ACCOUNT, LocalGoogleCerts
from bot.dev.sandbox import free_port
from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.seed import ChannelSeed, Seed
from tests.support.processes import serve, serve_env
from tests.support.slack import envelope, text_of
from tests.support.stack import BOT_CONFIG_BASE, BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET, eventually

# More channels than the bot's page of conversations.list, listed before #fluxori-ops.
CROWDED = Seed(
    channels=(
        *(ChannelSeed(f"C_FILL{i:03}", f"team-{i:03}", ()) for i in range(250)),
        *Seed().channels,
    )
)


@contextmanager
def slack_emulator(seed: Seed | None = None, port: int = 0) -> Iterator[SlackEmulator]:
    slack = SlackEmulator(
        f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, BOT_TOKEN, seed=seed
    )
    slack.start()
    try:
        yield slack
    finally:
        slack.stop()


def push_sample(port: int, google: LocalGoogleCerts, name: str, message_id: str) -> int:
    reply = requests.post(
        f"http://127.0.0.1:{port}/pubsub/alerts",
        json=envelope(name, message_id),
        headers={"Authorization": f"Bearer {google.mint()}"},
        timeout=10,
    )
    return reply.status_code


def config_naming_the_channel(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "bot.toml"
    path.write_text('channel = "#fluxori-ops"\n' + BOT_CONFIG_BASE)
    return {"BOT_CONFIG": str(path)}


@pytest.mark.parametrize(
    ("seed", "channel_setting"),
    [
        (None, lambda _: {"SLACK_OPS_CHANNEL": "#fluxori-ops"}),
        (CROWDED, config_naming_the_channel),
    ],
    ids=["SLACK_OPS_CHANNEL", "BOT_CONFIG-past-the-first-page"],
)
def test_serve_with_a_channel_name_posts_an_alert_and_turns_it_resolved(
    tmp_path: Path,
    google: LocalGoogleCerts,
    seed: Seed | None,
    channel_setting: Callable[[Path], dict[str, str]],
) -> None:
    """`python -m bot serve` given #fluxori-ops posts the alert card and, when the incident
    closes, updates that card to Resolved (chat.update with the id) and replies in its thread."""
    port = free_port()
    with slack_emulator(seed, port) as slack:
        push_auth = {
            "PUSH_AUDIENCE": AUDIENCE,
            "PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "GOOGLE_CERTS_URL": google.url,
        }
        env = serve_env(slack, tmp_path, **push_auth, **channel_setting(tmp_path))
        process = serve(env, port)
        try:
            assert push_sample(port, google, "alert-open.json", "m-1") == 200
            [card] = slack.messages(OPS_CHANNEL)
            assert push_sample(port, google, "alert-closed.json", "m-2") == 200
            updated = slack.message(OPS_CHANNEL, card["ts"])
            assert updated is not None
            assert "Resolved: fluxori-backend high 5xx rate" in text_of(updated)
            assert "alert.ack" not in text_of(updated)
            replies = eventually(lambda: slack.replies(OPS_CHANNEL, card["ts"]), what="reply")
            assert "Resolved" in text_of(replies[-1])
            assert [c.error for c in slack.calls("chat.update")] == [""]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0


def start_up_errors(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        env={**keep, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_unknown_channel_name_stops_start_up_with_one_line(tmp_path: Path) -> None:
    """A name no channel has: exit 2 and one line naming it, no traceback, nothing served."""
    with slack_emulator() as slack:
        result = start_up_errors(serve_env(slack, tmp_path, SLACK_OPS_CHANNEL="#fluxori-opz"))
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        "  - channel #fluxori-opz: no such channel the bot can see; check the name or give its id."
    ]
    assert "Traceback" not in result.stderr


def test_malformed_channel_and_unreachable_slack_stop_start_up(tmp_path: Path) -> None:
    """A value that is neither an id nor a name, or a Slack that cannot be reached: exit 2."""
    with slack_emulator() as slack:
        malformed = start_up_errors(serve_env(slack, tmp_path, SLACK_OPS_CHANNEL="Fluxori Ops!"))
    assert malformed.returncode == 2
    assert "SLACK_OPS_CHANNEL `Fluxori Ops!` must be a channel id" in malformed.stderr
    unreachable = f"http://127.0.0.1:{free_port()}/api/"
    env = {**serve_env(slack, tmp_path, SLACK_OPS_CHANNEL="#fluxori-ops")}
    result = start_up_errors({**env, "SLACK_API_URL": unreachable})
    assert result.returncode == 2
    assert "channel #fluxori-ops: cannot reach Slack" in result.stderr
    assert "Traceback" not in result.stderr


# -- the Slack emulator keeps Slack's rule: names only where Slack documents them


@pytest.fixture
def client() -> Iterator[WebClient]:
    with slack_emulator(CROWDED) as slack:
        yield WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def api_error(call: Callable[[], Any]) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def test_emulator_refuses_a_channel_name_where_slack_takes_an_id(client: WebClient) -> None:
    """chat.update, chat.delete, chat.getPermalink and conversations.* answer a name with
    channel_not_found; chat.postMessage accepts it."""
    ts = client.chat_postMessage(channel="#fluxori-ops", text="card")["ts"]
    by_name: list[Callable[[], Any]] = [
        lambda: client.chat_update(channel="#fluxori-ops", ts=ts, text="resolved"),
        lambda: client.chat_delete(channel="fluxori-ops", ts=ts),
        lambda: client.chat_getPermalink(channel="#fluxori-ops", message_ts=ts),
        lambda: client.conversations_history(channel="#fluxori-ops"),
        lambda: client.conversations_info(channel="#fluxori-ops"),
    ]
    assert [api_error(call) for call in by_name] == ["channel_not_found"] * len(by_name)
    assert client.chat_update(channel="C_OPS", ts=ts, text="resolved")["ok"]


def test_emulator_lists_channels_in_pages(client: WebClient) -> None:
    """conversations.list pages by cursor, leaves archived channels out on request, and
    refuses a bad limit or cursor as Slack does."""
    pages = [
        [c["name"] for c in page["channels"]]
        for page in client.conversations_list(limit=100, exclude_archived=True)
    ]
    assert [len(p) for p in pages] == [100, 100, 52]  # old-incidents is archived
    assert pages[-1][-2:] == ["fluxori-ops", "general"]
    assert api_error(lambda: client.conversations_list(limit=1001)) == "invalid_limit"
    assert api_error(lambda: client.conversations_list(cursor="not-a-cursor")) == "invalid_cursor"
