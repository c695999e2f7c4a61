"""Read-only /ops verbs end to end: signed slash command -> root message -> threaded answer."""

from __future__ import annotations

import json

import grpc

from tests.support.models import PROD_BACKEND
from tests.support.slack import ALICE, run, text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually


def test_status_names_the_serving_revision(stack: Stack) -> None:
    """One message says who ran what where and names the revision serving traffic."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend --env prod")
    assert reply.status == 200
    assert reply.elapsed < 1.0
    stack.idle()
    [message] = stack.slack.messages(OPS_CHANNEL)
    answer = text_of(message)
    assert "<@U_ALICE> ran `/ops status fluxori-backend --env prod`" in answer
    assert stack.slack.replies(OPS_CHANNEL, message["ts"]) == []
    serving = stack.gcp.run.serving_split(PROD_BACKEND.name)
    assert next(name for name, pct in serving.items() if pct == 100) in answer
    assert "100%" in answer


def test_revisions_lists_the_newest_with_traffic(stack: Stack) -> None:
    """`revisions --limit 3` shows the three newest revisions from Cloud Run."""
    _, answer = run(stack, "revisions fluxori-backend --limit 3")
    names = [r.name.rsplit("/", 1)[-1] for r in stack.gcp.run.revisions(PROD_BACKEND.name)]
    assert all(name in answer for name in names[:3])
    assert names[3] not in answer


def test_errors_are_grouped_with_counts_and_a_logs_link(stack: Stack) -> None:
    """`errors` groups ERROR entries by message and links to Logs Explorer."""
    _, answer = run(stack, "errors fluxori-backend --since 3h")
    assert "Query timeout" in answer or "Slow query" in answer
    assert "×" in answer
    assert "console.cloud.google.com/logs/query" in answer


def test_log_preset_runs_the_runbooks_query(stack: Stack) -> None:
    """`logs … token-verification` finds the seeded token verification failures."""
    _, answer = run(stack, "logs fluxori-backend token-verification --since 3h")
    assert "Token verification" in answer


def test_slo_shows_compliance_and_budget(stack: Stack) -> None:
    """`slo` shows the seeded 99% availability SLO with compliance, budget and a fast burn."""
    _, answer = run(stack, "slo fluxori-backend")
    assert "99% of requests are successful over 24h" in answer
    assert "error budget left" in answer
    assert ":large_orange_circle:" in answer  # an hour of 12% errors: a fast burn


def test_help_is_ephemeral_and_lists_every_verb(stack: Stack) -> None:
    """`/ops` alone answers only the user, with every verb."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="")
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    listed = json.dumps(body["blocks"])
    for verb in (
        "status",
        "revisions",
        "errors",
        "logs",
        "rollback",
        "scale",
        "rotate-secret",
        "slo",
        "history",
    ):
        assert f"/ops {verb}" in listed
    assert stack.slack.messages(OPS_CHANNEL) == []


def test_bad_input_is_answered_privately_with_a_suggestion(stack: Stack) -> None:
    """A typo gets an ephemeral 'did you mean' and nothing is posted in the channel."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backnd")
    assert reply.status == 200
    assert "Did you mean `fluxori-backend`?" in reply.json()["text"]
    stack.idle()
    assert stack.slack.messages(OPS_CHANNEL) == []
    assert "Did you mean" in stack.slack.ephemerals(ALICE, OPS_CHANNEL)[0]["text"]


def test_bad_signature_and_stale_timestamp_get_401(stack: Stack) -> None:
    """Requests Slack did not sign, or signed over five minutes ago, are refused."""
    for how in ("bad_signature", "stale_timestamp"):
        reply = stack.slack.tampered(how).slash_command(
            ALICE, OPS_CHANNEL, text="status fluxori-backend"
        )
        assert reply.status == 401
    stack.idle()
    assert stack.slack.messages(OPS_CHANNEL) == []


def test_channel_without_the_bot_gets_an_ephemeral_answer_and_a_fix(stack: Stack) -> None:
    """In a channel the bot is not in, the answer comes privately with how to invite it."""
    stack.slack.slash_command(ALICE, "C_GENERAL", text="status fluxori-frontend")
    stack.idle()
    private = eventually(
        lambda: stack.slack.ephemerals(ALICE, "C_GENERAL"), what="ephemeral answer"
    )
    assert "/invite" in text_of(private[-1])
    assert "fluxori-frontend" in text_of(private[-1])


def test_google_error_is_a_short_message_in_the_thread(stack: Stack) -> None:
    """PERMISSION_DENIED from Cloud Run becomes an actionable sentence, not a stack trace."""
    stack.gcp.faults.inject("GetService", code=grpc.StatusCode.PERMISSION_DENIED, message="denied")
    _, answer = run(stack, "status fluxori-backend")
    assert "not allowed" in answer
    assert "Traceback" not in answer


def test_long_output_stays_within_block_kit_limits(stack: Stack) -> None:
    """The largest answers are accepted by Slack: no invalid_blocks."""
    run(stack, "errors fluxori-backend --since 30d --limit 100")
    run(stack, "logs fluxori-backend errors --since 30d --limit 100")
    assert stack.slack.problems == []
    assert all(call.ok for call in stack.slack.calls("chat.postMessage"))


def test_the_word_payload_in_a_command_reaches_the_bot(stack: Stack) -> None:
    """slack-bolt takes any form body containing "payload" for an interaction; a command that
    names it is still answered as a command, with the words it was given."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="status payload")
    assert reply.status == 200
    assert "payload" in reply.body
    assert "fluxori-backend" in reply.body  # the known services, as for any unknown one
