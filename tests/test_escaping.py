"""Outside text is data: whatever alert fields, log lines, Google's strings or a user's command
contain, every mrkdwn text the bot produces carries only markup the bot itself writes."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ops import history
from bot.registry import parse
from gcp.emulator.logs import run_entry
from gcp.log_queries import build_filter, logs_explorer_url
from gcp.models import Condition, LogEntry, TrafficTarget
from handlers import alerts, revisions, status
from handlers import blocks as bk
from handlers import logs as log_verbs
from handlers.commands import UsageError
from handlers.config import FLUXORI_DEFAULTS
from tests.support.models import NOW, rev, service
from tests.support.slack import ALICE, SAMPLES, push, run, text_of
from tests.support.stack import OPS_CHANNEL, Stack

GIVEN_USER = "U_BOB"  # the only mention the bot is handed in these renderings
CONSOLE = "https://console.cloud.google.com"
HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0SRE>",
    "<@U_MALLORY>",
    "<#C_ELSEWHERE>",
    "<https://evil.example/|Cloud Console>",
    "<!date^1^{date}|x>",
)
PIECES = st.sampled_from(
    [
        *HOSTILE,
        "`",
        "```",
        "&",
        "&lt;!here&gt;",
        "|",
        "<",
        ">",
        "\n",
        "*",
        f"{CONSOLE}/monitoring",
        "https://console.cloud.google.com.evil.example/",
        "https://console.cloud.google.com@evil.example/",
        "https://evil.example/",
    ]
)
OUTSIDE = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=6).map("".join),
)
TEXT_FIELDS = ("policy_name", "condition_name", "summary", "url", "severity")
NUMBER_FIELDS = ("observed_value", "threshold_value")  # strings in the schema, so any text
TOKEN = re.compile(r"<([^<>]*)>")
DATE = re.compile(r"!date\^\d+\^[^|]*\|[^|]*")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn text object's text in a tree of blocks."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield str(node.get("text", ""))
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def bots_own(token: str, users: tuple[str, ...]) -> bool:
    """Markup the bot writes: a mention of a user it was given, a date, a console link."""
    url, bar, _ = token.partition("|")
    console_link = bar == "|" and (url == CONSOLE or url[len(CONSOLE) : len(CONSOLE) + 1] in "/?#")
    return (
        token in {f"@{user}" for user in users}
        or bool(DATE.fullmatch(token))
        or (console_link and url.startswith(CONSOLE))
    )


def assert_inert(texts: list[str], users: tuple[str, ...] = (GIVEN_USER,)) -> None:
    """No `<…>` but the bot's own, and no stray angle bracket that could pair up later."""
    for text in texts:
        foreign = [t for t in TOKEN.findall(text) if not bots_own(t, users)]
        assert not foreign, f"live markup {foreign} in {text!r}"
        rest = TOKEN.sub("", text)
        assert not {"<", ">"} & set(rest), f"unescaped bracket in {text!r}"
        assert not any(h in text for h in HOSTILE), text


def incident_doc(draw: st.DrawFn, state: str) -> dict[str, Any]:
    def text() -> str:
        return draw(OUTSIDE)

    raw = {k: text() for k in (*TEXT_FIELDS, *NUMBER_FIELDS)}
    return {
        "incident": {
            **raw,
            "incident_id": "0." + text(),
            "state": state,
            "started_at": 1767180000,
            "ended_at": 1767181000 if state == "closed" else None,
            "resource": {
                "labels": {
                    "project_id": draw(st.one_of(st.just("fluxori-prod"), OUTSIDE)),
                    "service_name": draw(st.one_of(st.just("fluxori-backend"), OUTSIDE)),
                    "revision_name": text(),
                    "location": text(),
                }
            },
            "policy_user_labels": {"runbook": text(), "environment": text()},
            "documentation": {
                "content": text(),
                "links": [{"displayName": text(), "url": text()} for _ in range(2)],
            },
        },
        "version": "1.2",
    }


@st.composite
def incident_pairs(draw: st.DrawFn) -> tuple[alerts.Incident, alerts.Incident]:
    opened, closed = (
        alerts.parse_incident(json.dumps(incident_doc(draw, s)).encode(), FLUXORI_DEFAULTS)
        for s in ("open", "closed")
    )
    return opened, closed


@given(incident_pairs())
@settings(max_examples=100, deadline=None)
def test_alert_cards_carry_no_markup_from_the_alert(
    pair: tuple[alerts.Incident, alerts.Incident],
) -> None:
    """Open and closed cards, the resolved reply and the notification text stay inert."""
    opened, closed = pair
    rendered = [
        alerts.card(opened),
        alerts.card(opened, acked_by=GIVEN_USER),
        alerts.closed_card(closed, opened, acked_by=GIVEN_USER),
        alerts.closed_card(closed, None),
        alerts.resolved_reply(closed, opened),
        alerts.unreadable_notice(opened.incident_id, opened.summary),
    ]
    fallbacks = [alerts.fallback(opened), alerts.fallback(closed)]
    fallbacks += [bk.plain_fallback(blocks, "") for blocks in rendered]
    assert_inert([*mrkdwn_texts(rendered), *fallbacks])


log_entries = st.builds(
    LogEntry,
    timestamp=st.just(NOW),
    severity=OUTSIDE,
    message=OUTSIDE,
    service=st.just("fluxori-backend"),
    revision=OUTSIDE,
    status=st.one_of(st.none(), st.integers(100, 599)),
)


@given(st.lists(log_entries, max_size=5))
@settings(max_examples=150, deadline=None)
def test_errors_and_log_presets_carry_no_markup_from_log_lines(entries: list[LogEntry]) -> None:
    """Messages, revisions and severities from the logs render as text, even in code blocks."""
    query = build_filter("fluxori-backend", "errors")
    url = logs_explorer_url("fluxori-prod", query, timedelta(hours=1))
    errors = log_verbs.render_errors(
        parse("errors fluxori-backend", FLUXORI_DEFAULTS), entries, url
    )
    preset = parse("logs fluxori-backend slow-queries", FLUXORI_DEFAULTS)
    assert_inert(
        [*mrkdwn_texts(errors), *mrkdwn_texts(log_verbs.render_entries(preset, entries, url))]
    )


@given(OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE)
@settings(max_examples=150, deadline=None)
def test_status_and_revisions_carry_no_markup_from_google(
    name: str, image: str, message: str, uri: str
) -> None:
    """Revision names, images, readiness messages, tags and URIs from Cloud Run are text."""
    svc = replace(
        service({5: 100}),
        uri=uri,
        image=image,
        latest_ready_revision=name,
        ready=Condition("Ready", "False", message),
        traffic_statuses=(TrafficTarget(percent=100, revision=name, tag=message),),
    )
    revision = replace(rev(5, ready=False), name=name, image=image, ready_message=message)
    rendered = [status.render(svc, "prod"), revisions.render(svc, [revision], "prod", NOW)]
    assert_inert(list(mrkdwn_texts(rendered)))


COMMAND_WORDS = st.sampled_from(
    [
        "status",
        "logs",
        "history",
        "scale",
        "fluxori-backend",
        "--since",
        "--limit",
        "--to",
        "--user",
        "--outcome",
        "--env",
        "--bogus",
        "min=x",
    ]
)


@given(st.lists(st.one_of(COMMAND_WORDS, OUTSIDE), max_size=6).map(" ".join))
@settings(max_examples=300, deadline=None)
def test_usage_errors_quote_the_users_text_as_text(text: str) -> None:
    """Whatever was typed, the usage error shown to the user has no live markup."""
    try:
        cmd = parse(text, FLUXORI_DEFAULTS)
        if cmd.verb == "history":
            history.filters_for(cmd)
    except UsageError as err:
        assert_inert([str(err)])


@given(OUTSIDE)
def test_a_code_span_is_one_span_on_one_line(text: str) -> None:
    """No backtick or line break from outside can end the span or the line early."""
    span = bk.code(text)
    assert span.count("`") == 2
    assert span[0] == span[-1] == "`"
    assert "\n" not in span
    block = bk.code_block(text)
    assert block.startswith("```")
    assert block.endswith("```")
    assert block.count("`") == 6


@given(st.text(alphabet="<>&ab", max_size=300), st.integers(min_value=10, max_value=200))
def test_clipped_escaped_text_is_never_cut_inside_an_entity(text: str, limit: int) -> None:
    """The escaped text fits the limit and reads back as a prefix of the original."""
    shown = bk.escape_clipped(text, limit)
    assert len(shown) <= limit
    kept = shown.removesuffix(bk.TRUNCATED)
    decoded = kept.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert text.startswith(decoded)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "http://console.cloud.google.com/",
        "https://console.cloud.google.com.evil.example/",
        "https://console.cloud.google.com@evil.example/",
        "https://user@console.cloud.google.com/",
        "https://console.cloud.google.com:8443/",
        "https://sub.console.cloud.google.com/",
        "https://console.cloud.google.com/x|Cloud Console",
        "https://console.cloud.google.com/ x",
        "javascript:alert(1)",
    ],
)
def test_links_off_the_console_are_shown_as_text_with_a_note(url: str) -> None:
    """Anything but an https console address is not a link, and says why."""
    shown = bk.link(url, "Cloud Console", bk.CONSOLE)
    assert not TOKEN.search(shown)
    assert "link not shown: not a Google Cloud console address" in shown


def test_console_links_are_links() -> None:
    """A console address stays a link; its `&` is escaped as Slack expects."""
    url = f"{CONSOLE}/monitoring/alerting/alerts/0.x?channelType=pubsub&project=fluxori-prod"
    assert bk.link(url, "Incident", bk.CONSOLE) == f"<{url.replace('&', '&amp;')}|Incident>"


def _envelope(incident: dict[str, Any], message_id: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(incident).encode()).decode()
    return {"message": {"data": data, "messageId": message_id}, "subscription": "s"}


def _channel_texts(stack: Stack) -> list[str]:
    """What people would read in the channel and its threads, as stored by Slack."""
    texts: list[str] = []
    for message in stack.slack.messages(OPS_CHANNEL):
        for shown in (message, *stack.slack.replies(OPS_CHANNEL, message["ts"])):
            texts += [shown.get("text", ""), *mrkdwn_texts(shown.get("blocks", []))]
    return texts


def test_an_alert_with_markup_in_its_fields_is_posted_inert(stack: Stack) -> None:
    """`<!channel>` and a look-alike link in an alert reach Slack as visible text only."""
    doc = json.loads((SAMPLES / "alert-open.json").read_text())
    incident = doc["incident"]
    incident["policy_name"] = "<!channel> Cloud Run down"
    incident["summary"] = "see <https://evil.example/|Cloud Console> now <!here>"
    incident["observed_value"] = "<!everyone>"
    incident["url"] = "https://evil.example/incident"
    incident["documentation"]["links"] = [
        {"displayName": "Cloud Console", "url": "https://evil.example/"}
    ]
    assert push(stack, _envelope(doc, "m-open")).status_code == 200
    incident.update(state="closed", ended_at=incident["started_at"] + 600)
    assert push(stack, _envelope(doc, "m-closed")).status_code == 200
    texts = _channel_texts(stack)
    assert_inert(texts)
    shown = "\n".join(texts)
    assert "&lt;!channel&gt; Cloud Run down" in shown
    assert "link not shown: not a Google Cloud console address" in shown
    assert "Resolved" in shown


def test_a_command_with_a_backtick_and_a_broadcast_is_echoed_inert(stack: Stack) -> None:
    """`/ops status foo\\` <!channel>`: the ephemeral answer shows the text, live in no part."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="status foo` <!channel>")
    assert reply.status == 200
    [answer] = stack.slack.ephemerals(ALICE, OPS_CHANNEL)
    assert_inert([answer.get("text", ""), *mrkdwn_texts(answer.get("blocks", []))])
    assert "&lt;!channel&gt;" in text_of(answer)
    assert stack.slack.messages(OPS_CHANNEL) == []


def test_a_log_line_with_markup_is_answered_inert(stack: Stack) -> None:
    """An error logged with `<!channel>` and backticks shows up in `/ops errors` as text."""
    line = "payment failed for `<!channel>` ```<https://evil.example/|Cloud Console>```"
    at = datetime.now(UTC) - timedelta(minutes=1)
    entry = run_entry(
        "fluxori-prod", "fluxori-backend", rev(5).name, severity="ERROR", message=line, at=at
    )
    stack.gcp.logs.write("fluxori-prod", entry)
    _, answer = run(stack, "errors fluxori-backend --since 5m")
    assert_inert(_channel_texts(stack), users=(ALICE,))
    tick = bk.BACKTICK_LOOKALIKE
    assert f"payment failed for {tick}&lt;!channel&gt;{tick}" in answer
