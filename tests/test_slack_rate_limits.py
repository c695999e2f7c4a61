"""The Slack emulator's rate limits, as Slack documents them: chat.postMessage about one
message a second per channel with short bursts, other methods by tier, 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.dev.slack_emulator import ManualClock, SlackEmulator
from bot.dev.slack_emulator.rate_limits import POST_BURST, TIER_BURST_SECONDS

TOKEN = "xoxb-rate-limit-test-token"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(clock: ManualClock) -> Iterator[WebClient]:
    """A plain WebClient (no retry handlers) on an emulator with Slack's limits on."""
    slack = SlackEmulator(bot_token=TOKEN, clock=clock, rate_limits=True)
    slack.start()
    yield WebClient(token=TOKEN, base_url=slack.api_url)
    slack.stop()


def post(client: WebClient, channel: str = "C_OPS") -> None:
    client.chat_postMessage(channel=channel, text="hello")


def test_a_burst_to_one_channel_is_limited_to_about_one_a_second(
    client: WebClient, clock: ManualClock
) -> None:
    """A short burst goes through; the next post is a 429 with Retry-After; a second later
    one more may go."""
    for _ in range(POST_BURST):
        post(client)
    with pytest.raises(SlackApiError) as refused:
        post(client)
    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert refused.value.response.headers["Retry-After"] == "1"
    clock.advance(1.0)
    post(client)


def test_each_channel_has_its_own_limit(client: WebClient) -> None:
    """A busy #fluxori-ops does not hold back a post elsewhere: #general answers as it would
    anyway (the bot is not in it), not `ratelimited`."""
    for _ in range(POST_BURST):
        post(client)
    with pytest.raises(SlackApiError) as answered:
        post(client, channel="C_GENERAL")
    assert answered.value.response["error"] == "not_in_channel"


def test_a_tier_3_method_allows_fifty_a_minute(client: WebClient, clock: ManualClock) -> None:
    """chat.update (Tier 3, 50+ per minute): a burst of a few seconds' worth, then 429 until
    the bucket refills."""
    ts = client.chat_postMessage(channel="C_OPS", text="to edit")["ts"]
    allowed = int(50 / 60 * TIER_BURST_SECONDS)
    for _ in range(allowed):
        client.chat_update(channel="C_OPS", ts=ts, text="edited")
    with pytest.raises(SlackApiError) as refused:
        client.chat_update(channel="C_OPS", ts=ts, text="edited")
    assert refused.value.response.status_code == 429
    clock.advance(60 / 50)
    client.chat_update(channel="C_OPS", ts=ts, text="edited")


def test_unlimited_by_default() -> None:
    """Without `rate_limits`, the emulator answers every call (tests opt in)."""
    slack = SlackEmulator(bot_token=TOKEN)
    slack.start()
    try:
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        for _ in range(POST_BURST * 3):
            post(client)
        assert len(slack.messages("C_OPS")) == POST_BURST * 3
        assert [c for c in slack.calls() if c.status == 429] == []
    finally:
        slack.stop()
