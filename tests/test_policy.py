"""Access control and guardrails through the Slack emulator, with a BOT_CONFIG policy."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import config as config_loader
from bot.dev.local_google import LocalGoogleCerts
from bot.errors import ConfigError
from bot.store import State
from gcp.emulator import Emulator
from tests.support.slack import ALICE, BOB, CAROL, action_id_of, click, plan, serving, text_of
from tests.support.stack import BOT_CONFIG_BASE, OPS_CHANNEL, Stack, eventually, start_stack

POLICY = (
    BOT_CONFIG_BASE
    + """
[policy]
channels = ["C_OPS"]
rate_limit = 3
rate_window_minutes = 10
cooldown_minutes = 10
[policy.prod]
requesters = ["U_ALICE", "U_BOB", "U_CAROL"]
approvers = ["S_SRE"]
two_person = true
"""
)


@pytest.fixture
def guarded(emulator: Emulator, tmp_path: Path, google: LocalGoogleCerts) -> Iterator[Stack]:
    """The bot with the policy above: SRE group approves prod, C_OPS only, limits on."""
    path = tmp_path / "bot.toml"
    path.write_text(POLICY)
    stack = start_stack(emulator, tmp_path, google, config_path=str(path))
    yield stack
    stack.stop()


def last_private(stack: Stack, user: str, channel: str = OPS_CHANNEL) -> str:
    return text_of(stack.slack.ephemerals(user, channel)[-1])


def test_approver_outside_the_group_is_refused_and_a_member_executes(guarded: Stack) -> None:
    """Carol is not in @sre: refused with who can; Bob (in @sre, not the requester) executes."""
    before = serving(guarded)
    card = plan(guarded, "rollback fluxori-backend")
    click(guarded, card, "action.confirm", CAROL)
    assert serving(guarded) == before
    assert "Only a member of <!subteam^S_SRE>" in last_private(guarded, CAROL)
    card_now = guarded.slack.message(OPS_CHANNEL, card["ts"])
    assert card_now is not None
    assert "action.confirm" in text_of(card_now)
    click(guarded, card, "action.confirm", BOB)
    assert serving(guarded) != before


def test_requester_in_the_group_still_needs_a_second_person(guarded: Stack) -> None:
    """Alice is in @sre but requested it herself."""
    card = plan(guarded, "rollback fluxori-backend")
    click(guarded, card, "action.confirm", ALICE)
    assert "second person" in last_private(guarded, ALICE)


def test_group_lookup_failure_fails_closed(guarded: Stack) -> None:
    """When Slack cannot list @sre, approval is refused, not granted."""
    card = plan(guarded, "rollback fluxori-backend")
    guarded.slack.fail_next("usergroups.users.list", status=500, times=3)
    click(guarded, card, "action.confirm", BOB)
    assert "could not check membership" in last_private(guarded, BOB)
    record = guarded.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.PENDING


def test_unlisted_requester_is_refused_and_recorded(guarded: Stack) -> None:
    """Dave may not request prod changes; the refusal names who can and is stored."""
    guarded.slack.slash_command("U_DAVE", OPS_CHANNEL, text="rollback fluxori-backend")
    guarded.idle()
    assert "Only <@U_ALICE> or <@U_BOB> or <@U_CAROL> may request" in last_private(
        guarded, "U_DAVE"
    )
    assert guarded.bot.deps.store.refusals()[0]["by"] == "U_DAVE"


def test_commands_from_other_channels_are_refused(guarded: Stack) -> None:
    """Only #fluxori-ops takes /ops under this policy."""
    reply = guarded.slack.slash_command(ALICE, "C_GENERAL", text="status fluxori-backend")
    assert "only accepted in <#C_OPS>" in reply.json()["text"]


def test_rate_limit_refuses_the_fourth_request(guarded: Stack) -> None:
    """Three change requests in ten minutes are fine; the fourth is refused with when to retry,
    also when it comes from the scale form (no response_url: an ephemeral message)."""
    for _ in range(3):
        plan(guarded, "scale fluxori-frontend max=20", user=CAROL)
    guarded.slack.slash_command(CAROL, OPS_CHANNEL, text="scale fluxori-frontend max=30")
    guarded.idle()
    assert "try again after" in last_private(guarded, CAROL)
    refused_before = len(guarded.slack.ephemerals(CAROL, OPS_CHANNEL))
    guarded.slack.slash_command(CAROL, OPS_CHANNEL, text="scale fluxori-frontend")
    guarded.idle()
    form = eventually(lambda: guarded.slack.open_views(CAROL), what="scale form")[-1]
    guarded.slack.submit_view(CAROL, form["id"], {"max": "30"})
    guarded.idle()
    assert len(guarded.slack.ephemerals(CAROL, OPS_CHANNEL)) == refused_before + 1
    assert "try again after" in last_private(guarded, CAROL)


def test_cooldown_and_its_recorded_override(guarded: Stack) -> None:
    """After a change the service cools down; an approver overrides with a recorded reason."""
    card = plan(guarded, "rollback fluxori-backend")
    click(guarded, card, "action.confirm", BOB)
    guarded.slack.slash_command(CAROL, OPS_CHANNEL, text="scale fluxori-backend max=20")
    guarded.idle()
    assert "cooldown until" in last_private(guarded, CAROL)
    guarded.slack.slash_command(
        CAROL, OPS_CHANNEL, text='scale fluxori-backend max=20 --override "x"'
    )
    guarded.idle()
    assert "Only an approver may override" in last_private(guarded, CAROL)
    guarded.slack.slash_command(
        BOB, OPS_CHANNEL, text='scale fluxori-backend max=20 --override "error budget burning"'
    )
    guarded.idle()
    assert "Plan: Scale fluxori-backend" in text_of(guarded.slack.messages(OPS_CHANNEL)[-1])
    overrides = [r for r in guarded.bot.deps.store.refusals() if r["kind"] == "cooldown_overridden"]
    assert overrides[0]["detail"] == "error budget burning"


def test_tokens_never_reach_the_logs(guarded: Stack, log_lines: io.StringIO) -> None:
    """The bot token and signing secret appear in no log line of a whole change."""
    card = plan(guarded, "rollback fluxori-backend")
    click(guarded, card, "action.confirm", BOB)
    written = log_lines.getvalue()
    assert "change_finished" in written
    settings = guarded.bot.deps.settings
    for secret in (settings.slack_bot_token, settings.slack_signing_secret):
        assert secret not in written


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ("[policy.qa]\nrequesters = []", "`qa` is not one of the environments"),
        ("[policy.prod]\napprovers = []", "nobody could approve a prod change"),
        ('[policy.prod]\napprovers = ["sre-team"]', "are not Slack user ids"),
        ('[policy]\nchannels = ["#ops"]', "are not Slack channel ids"),
        ("[policy]\nrate_limit = -1", "rate_limit must be a whole number"),
    ],
)
def test_wrong_policy_stops_start_up(tmp_path: Path, policy: str, problem: str) -> None:
    """Each policy mistake is named at start-up."""
    path = tmp_path / "bot.toml"
    path.write_text(POLICY.split("[policy]")[0] + policy)
    with pytest.raises(ConfigError) as info:
        config_loader.load(str(path))
    assert any(problem in p for p in info.value.problems)
