"""The messages a new user trips over, as an on-call engineer reads them: suggestions only when
they help, limits said, grammar per state, usage that names the flag, each log message once,
an exhausted budget said so, a stale plan not called failed, long input clipped, progress that
does not linger, the check's time announced, and unreadable interactions explained."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.changes import approval
from bot.dev.slack_emulator.transport import BotResponse
from bot.registry import VERBS as REGISTERED
from bot.registry import parse
from bot.store import Action, State
from gcp.emulator.logs import run_entry
from handlers import scale, slo
from handlers.commands import UsageError, suggest
from handlers.config import FLUXORI_DEFAULTS
from tests.support.models import PROD_BACKEND, rev
from tests.support.slack import (
    ALICE,
    BOB,
    CAROL,
    action_id_of,
    click,
    click_payload,
    ephemeral,
    plan,
    previous_revision,
    run,
    send_interaction,
    serving,
    text_of,
    thread,
)
from tests.support.stack import OPS_CHANNEL, Stack, change_out_of_band, eventually

VERBS = tuple(REGISTERED)
LONG = "x" * 4907


def error_lines(log_lines: io.StringIO) -> list[str]:
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.strip()]
    return [line["message"] for line in lines if line["severity"] in ("ERROR", "CRITICAL")]


# --- suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "meant"),
    [("revs", "revisions"), ("rollbak", "rollback"), ("staus", "status"), ("stauts", "status")],
)
def test_typos_and_abbreviations_are_suggested(word: str, meant: str) -> None:
    """A real typo or abbreviation of a verb gets its suggestion."""
    assert suggest(word, VERBS) == f" Did you mean `{meant}`?"


@pytest.mark.parametrize("word", ["bogus", "deploy", "reboot", "xyzzy", "roll", "lo"])
def test_words_not_close_to_a_verb_get_no_suggestion(word: str) -> None:
    """A word far from every verb (or equally close to two) suggests nothing."""
    assert suggest(word, VERBS) == ""


def test_bogus_verb_is_answered_without_a_misleading_suggestion(stack: Stack) -> None:
    """`/ops bogus` lists where to look, not `logs`; `/ops revs` suggests `revisions`."""
    bogus = ephemeral(stack, "bogus")
    assert "`bogus` is not an /ops command" in bogus
    assert "Did you mean" not in bogus
    assert "Did you mean `revisions`?" in ephemeral(stack, "revs fluxori-backend")


# --- usage ----------------------------------------------------------------------------------


def test_env_without_a_value_names_the_flag_and_its_values(stack: Stack) -> None:
    """`--env` with no value says what it takes, with an example that can be typed."""
    answer = ephemeral(stack, "status fluxori-backend --env")
    assert "`--env` needs a value: one of `dev`, `staging`, `prod` (default `prod`)" in answer
    assert "e.g. `--env dev`" in answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("errors fluxori-backend --since", "`--since` needs a value: a duration such as `30m`"),
        ("revisions fluxori-backend --limit", "`--limit` needs a value: a whole number from 1"),
        ("roll-forward fluxori-backend --canary", "`--canary` needs a value: a percentage"),
        ("history --user", "`--user` needs a value: a mention, e.g. `--user @alice`"),
    ],
)
def test_every_flag_without_a_value_says_what_it_takes(text: str, expected: str) -> None:
    """Each flag left without a value is named with what it takes."""
    with pytest.raises(UsageError, match=re.escape(expected)):
        parse(text, FLUXORI_DEFAULTS)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"min": "-1"}, "`min=-1` must be a whole number of 0 or more."),
        ({"max": "lots"}, "`max=lots` must be a whole number of 1 or more."),
        ({"concurrency": "1.5"}, "`concurrency=1.5` must be a whole number from 1 to 1000."),
        ({"memory": "2" * 40}, "is too long; use e.g. `2Gi`."),
    ],
)
def test_scale_values_say_what_is_allowed(settings: dict[str, str], expected: str) -> None:
    """A scale value that does not parse is answered with the values allowed."""
    _, problems = scale.parse_change(settings)
    assert len(problems) == 1
    assert expected in problems[0]


def test_negative_min_is_answered_with_what_is_allowed(stack: Stack) -> None:
    """`/ops scale … min=-1` is refused with "0 or more", not only "a whole number"."""
    answer = ephemeral(stack, "scale fluxori-backend min=-1")
    assert "`min=-1` must be a whole number of 0 or more." in answer


# --- long input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        LONG,
        f"status {LONG}",
        f"status fluxori-backend {LONG}",
        f"scale fluxori-backend memory={LONG}",
        f"scale fluxori-backend cpu={LONG}",
        f"scale fluxori-backend max={LONG}",
        f"history --user {LONG}",
        f"rollback fluxori-backend --to {LONG}",
    ],
)
def test_long_input_is_clipped_wherever_it_is_echoed(stack: Stack, text: str) -> None:
    """4,907 characters typed: what comes back quotes at most a short, marked piece of them."""
    answer = ephemeral(stack, text)
    assert "x" * 30 in answer  # the echo is there, recognisably
    assert "x" * 201 not in answer
    assert "…" in answer
    channel = [text_of(m) for m in stack.slack.messages(OPS_CHANNEL)]
    assert all("x" * 201 not in m for m in channel)


# --- clicks on a plan that moved on -----------------------------------------------------------


def _action(state: State, **fields: Any) -> Action:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base = Action("a-1", "rollback", "prod", "fluxori-backend", ALICE, now, now, state=state)
    return replace(base, **fields)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.APPROVED, "already confirmed by <@U_BOB> and is running."),
        (State.RUNNING, "already confirmed by <@U_BOB> and is running."),
        (State.SUCCEEDED, "already confirmed by <@U_BOB> and is done."),
        (State.FAILED, "already confirmed by <@U_BOB>; it failed (see the thread)."),
        (State.CANCELLED, "already cancelled by <@U_CAROL>."),
        (State.EXPIRED, "expired unconfirmed. Plan again if it is still needed."),
        (State.INTERRUPTED, "confirmed by <@U_BOB>; it was interrupted mid-change"),
        (State.NOT_STARTED, "confirmed by <@U_BOB> but never started; nothing was changed."),
        (State.REFUSED, "this plan was refused."),
    ],
)
def test_too_late_reads_right_for_every_state(state: State, expected: str) -> None:
    """Each state a plan can have moved on to is told in a sentence that reads."""
    who = {"cancelled_by": CAROL} if state is State.CANCELLED else {"approved_by": BOB}
    said = approval._already(_action(state, **who))
    assert said.startswith("Too late: ")
    assert expected in said


def test_too_late_on_a_stale_plan_says_it_was_not_applied() -> None:
    """A plan that failed because the service changed is told as not applied."""
    said = approval._already(_action(State.FAILED, approved_by=BOB, applied=False))
    assert "confirmed by <@U_BOB> but not applied" in said


@pytest.mark.parametrize(
    ("first", "button", "late", "expected"),
    [
        (BOB, "action.confirm", CAROL, "already confirmed by <@U_BOB> and is done."),
        (ALICE, "action.cancel", BOB, "already cancelled by <@U_ALICE>."),
    ],
)
def test_a_late_confirm_is_told_who_acted_first(
    stack: Stack, first: str, button: str, late: str, expected: str
) -> None:
    """Confirm clicked on the card as first posted, after someone confirmed or cancelled it,
    is told who did, in a sentence that reads."""
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, button, first)
    # No response_url: the answer is a chat.postEphemeral, which the emulator keeps.
    payload = {**click_payload(stack, late, card, "action.confirm"), "response_url": ""}
    assert send_interaction(stack, payload) == 200
    stack.idle()
    told = text_of(stack.slack.ephemerals(late, OPS_CHANNEL)[-1])
    assert f"Too late: this plan was {expected}" in told


# --- answers ------------------------------------------------------------------------------------


def test_each_error_message_is_shown_once(stack: Stack) -> None:
    """`/ops errors` shows a message's text once; a stack trace's further lines once below."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    single = "Payment provider answered 502 for order 7781"
    traced = "KeyError: 'tenant_id'\n  File \"app/orders.py\", line 88, in place_order"
    for message in (single, traced):
        entry = run_entry(
            "fluxori-prod", "fluxori-backend", rev(5).name, severity="ERROR", message=message, at=at
        )
        stack.gcp.logs.write("fluxori-prod", entry)
    _, answer = run(stack, "errors fluxori-backend --since 5m")
    assert answer.count("Payment provider answered 502 for order 7781") == 1
    assert answer.count("KeyError: ") == 1
    assert answer.count("line 88, in place_order") == 1


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (0.7, "error budget left *70.0%*"),
        (0.0, "error budget *exhausted* (100.0% of it used)"),
        (-11.176, "error budget *exhausted* (1217.6% of it used)"),
        (None, "error budget left *n/a*"),
    ],
)
def test_budget_is_said_as_left_or_exhausted(remaining: float | None, expected: str) -> None:
    """A negative budget is "exhausted" with how much of it was used, never "-1117.6% left"."""
    assert slo.budget_text(remaining) == expected


def test_overspent_slo_says_the_budget_is_exhausted(stack: Stack) -> None:
    """An SLO overspent by a day of errors reads "exhausted … used", with no negative percentage."""
    name = PROD_BACKEND.name
    newest = stack.gcp.run.get(name).latest_ready_revision
    stack.gcp.monitoring.note_split_change(
        name, {newest: 100}, datetime.now(UTC) - timedelta(days=1)
    )
    _, answer = run(stack, "slo fluxori-backend")
    assert "error budget *exhausted* (" in answer
    assert "% of it used)" in answer
    assert "left *-" not in answer


# --- a change's card and thread -----------------------------------------------------------------


def test_stale_plan_card_says_not_applied_not_failed(stack: Stack) -> None:
    """A plan the service changed under is labelled not applied on its card, not Failed."""
    card = plan(stack, "rollback fluxori-backend")
    change_out_of_band(stack, PROD_BACKEND, 3)
    click(stack, card, "action.confirm", BOB)
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.applied is False
    shown = text_of(stack.slack.message(OPS_CHANNEL, card["ts"]) or {})
    assert "Not applied: the service changed after the preview" in shown
    assert ":x: Failed" not in shown


def test_progress_is_one_message_closed_when_the_result_comes(stack: Stack) -> None:
    """A slow rollout leaves one progress message, turned into "finished after" by the end."""
    stack.gcp.run.operation_delay = 0.3
    card = plan(stack, "rollback fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    replies = [text_of(m) for m in stack.slack.replies(OPS_CHANNEL, card["ts"])]
    progress = [r for r in replies if "Moving traffic" in r]
    assert len(progress) == 1
    assert "Moving traffic: finished after" in progress[0]
    assert "hourglass" not in progress[0]
    assert stack.slack.problems == []


def test_roll_forward_says_when_its_check_comes_and_it_comes_then(stack: Stack) -> None:
    """After a roll forward the thread names the check's time; the check arrives after it."""
    config = stack.bot.deps.config
    stack.bot.deps.config = replace(config, rollback_watch_seconds=1)
    click(stack, plan(stack, "rollback fluxori-backend"), "action.confirm", BOB)
    newest = previous_revision(stack, 0)
    card = plan(stack, "roll-forward fluxori-backend")
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == {newest: 100}
    announced = re.search(r"I will compare the 5xx rate.*?<!date\^(\d+)\^", thread(stack, card))
    assert announced is not None
    due = int(announced.group(1))
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.finished_at is not None
    assert abs(due - (record.finished_at.timestamp() + 1)) <= 2
    check = eventually(lambda: _check_of(stack, card), timeout=10, what="the roll-forward check")
    assert float(check["ts"]) >= due - 1  # Slack's ts has microseconds; `due` whole seconds


def _check_of(stack: Stack, card: dict[str, Any]) -> dict[str, Any] | None:
    """The thread's before → after check message, once posted."""
    replies = stack.slack.replies(OPS_CHANNEL, card["ts"])
    return next((m for m in replies if f"check:{action_id_of(card)}" in text_of(m)), None)


# --- interactions the bot cannot read -----------------------------------------------------------


def test_signed_click_with_a_misshapen_field_is_400_without_an_error(
    stack: Stack, log_lines: io.StringIO
) -> None:
    """A signed click whose channel is not an object: 400 naming it; nothing logs ERROR."""
    payload = {
        "type": "block_actions",
        "user": {"id": ALICE},
        "actions": [{"action_id": "action.confirm", "value": "a-1"}],
        "channel": "C_OPS",
        "container": "x",
    }
    assert send_interaction(stack, payload) == 400
    assert error_lines(log_lines) == []


def _scale_form(stack: Stack) -> dict[str, Any]:
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend")
    stack.idle()
    return eventually(lambda: stack.slack.open_views(ALICE), what="scale form")[-1]


def _submit(stack: Stack, payload: dict[str, Any]) -> BotResponse:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return stack.slack.driver.send(body, "application/x-www-form-urlencoded")


def _submission(view: dict[str, Any], **changed: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": ALICE},
        "team": {"id": "T_FLUXORI"},
        "api_app_id": "A_OPS",
        "trigger_id": "1.2.3",
        "view": {**view, **changed},
    }


def test_scale_form_that_cannot_be_read_tells_the_user(
    stack: Stack, log_lines: io.StringIO
) -> None:
    """A submitted form whose hidden data is damaged says so in the form and how to go on."""
    view = _scale_form(stack)
    reply = _submit(stack, _submission(view, private_metadata="{not json"))
    assert reply.status == 200
    answer = json.loads(reply.body)
    assert answer["response_action"] == "update"
    assert "I could not read this form" in json.dumps(answer["view"])
    assert "/ops scale SERVICE" in json.dumps(answer["view"])
    assert error_lines(log_lines) == []
    assert stack.slack.messages(OPS_CHANNEL) == []


def test_scale_form_with_a_missing_value_marks_the_field(
    stack: Stack, log_lines: io.StringIO
) -> None:
    """A submitted form missing a field's value marks that field; nothing is planned."""
    view = _scale_form(stack)
    values = {k: {"value": {"type": "plain_text_input", "value": "5"}} for k in ("min", "max")}
    values["cpu"] = {"value": {"type": "plain_text_input", "value": "1"}}
    values["concurrency"] = {"value": {"type": "plain_text_input", "value": "80"}}
    reply = _submit(stack, _submission(view, state={"values": values}))  # memory left out
    answer = json.loads(reply.body)
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {"memory": "I could not read a value here; type it again."}
    stack.idle()
    assert stack.slack.messages(OPS_CHANNEL) == []
    assert error_lines(log_lines) == []


def test_a_verb_that_changes_something_is_suggested_only_for_a_slip(stack: Stack) -> None:
    """`restart` is not read as `restore` (which overwrites the database); a one-letter slip
    of a changing verb, or a typo of a read verb, still gets its suggestion."""
    restart = ephemeral(stack, "restart fluxori-backend")
    assert "`restart` is not an /ops command" in restart
    assert "Did you mean" not in restart
    assert "Did you mean `restore`?" in ephemeral(stack, "restor 2026-11-01")
    assert "Did you mean `scale`?" in ephemeral(stack, "scael fluxori-backend")
    assert "Did you mean `status`?" in ephemeral(stack, "stauts fluxori-backend")
