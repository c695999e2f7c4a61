"""Alert cards explain themselves (the policy's documentation, values with units), and a closed
incident tells the plans it left waiting."""

from __future__ import annotations

import base64
import copy
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import requests

from bot.store import Filters, State
from tests.support.models import PROD_BACKEND
from tests.support.slack import BOB, SAMPLES, cards, envelope, push, text_of
from tests.support.stack import OPS_CHANNEL, Stack

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_ALERTS = ROOT / "bot" / "dev" / "sandbox_alerts"
TERRAFORM_VARIABLES = {"environment": "prod", "error_rate_threshold": "5"}


def sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return doc


def push_incident(stack: Stack, doc: dict[str, Any], message_id: str) -> requests.Response:
    data = base64.b64encode(json.dumps(doc).encode()).decode()
    return push(stack, {"message": {"data": data, "messageId": message_id}, "subscription": "s"})


def error_rate_runbook() -> str:
    """The high_error_rate policy's documentation as Monitoring delivers it (variables set)."""
    terraform = (ROOT / "deploy" / "terraform" / "monitoring.tf").read_text()
    heredoc = re.search(r"content\s*=\s*<<-MD\n(.*?)\n\s*MD\n", terraform, re.S)
    assert heredoc is not None
    text = textwrap.dedent(heredoc[1])
    return re.sub(r"\$\{var\.(\w+)\}", lambda m: TERRAFORM_VARIABLES[m[1]], text)


def only_card(stack: Stack) -> str:
    [card] = cards(stack)
    return text_of(card)


def test_card_shows_the_policys_runbook_text_as_slack_formatting(stack: Stack) -> None:
    """The documentation from monitoring.tf is on the card, its commands as code spans."""
    doc = sample("alert-open.json")
    doc["incident"]["documentation"]["content"] = error_rate_runbook()
    assert push_incident(stack, doc, "m-1").status_code == 200
    text = only_card(stack)
    assert "answers more than 5 5xx responses per second" in text
    assert "`/ops errors fluxori-backend --env prod`" in text
    assert "`/ops rollback fluxori-backend`" in text


def test_markdown_becomes_mrkdwn_and_stays_data(stack: Stack) -> None:
    """Headings and **bold** turn bold, lists stay lists, a console link is a link; a link
    elsewhere and Slack's control sequences arrive as visible text."""
    doc = sample("alert-open.json")
    doc["incident"]["documentation"]["content"] = (
        "## First steps\n"
        "- **Check** the [dashboard](https://console.cloud.google.com/run?project=fluxori-prod)\n"
        "- read the [runbook](https://evil.example/run) then tell <!channel>\n"
        "1. _roll back_ if a revision is new\n"
    )
    push_incident(stack, doc, "m-1")
    text = only_card(stack)
    assert "*First steps*" in text
    console = "<https://console.cloud.google.com/run?project=fluxori-prod|dashboard>"
    assert f"• *Check* the {console}" in text
    assert "runbook `https://evil.example/run` _(link not shown" in text
    assert "<https://evil.example" not in text
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in text
    assert "1. _roll back_ if a revision is new" in text


def test_long_documentation_is_cut_with_a_note(stack: Stack) -> None:
    """Documentation of 10 KiB (Monitoring's limit) is cut at a paragraph, with a note."""
    doc = sample("alert-open.json")
    paragraphs = [f"Step {i}: " + "check the service. " * 20 for i in range(30)]
    doc["incident"]["documentation"]["content"] = "\n\n".join(paragraphs)
    push_incident(stack, doc, "m-1")
    [card] = cards(stack)
    [runbook] = [b for b in card["blocks"] if "Step 0:" in json.dumps(b)]
    assert "the rest is on the incident's page" in runbook["text"]["text"]
    assert "Step 29:" not in text_of(card)
    assert len(runbook["text"]["text"]) < 1600


def test_values_carry_the_unit_of_the_condition(stack: Stack) -> None:
    """A 5xx rate in requests/s, latency in ms, a ratio condition in %."""
    push(stack, envelope("alert-open.json", "m-1"))
    assert "*Observed* 17.4 requests/s against threshold 5 requests/s" in only_card(stack)
    latency = json.loads((SANDBOX_ALERTS / "high-latency-open.json").read_text())
    push_incident(stack, latency, "m-2")
    assert "*Observed* 1,843 ms against threshold 1,000 ms" in text_of(cards(stack)[-1])
    ratio = copy.deepcopy(sample("alert-open.json"))
    incident = ratio["incident"]
    incident.update(incident_id="0.ratio", observed_value="0.052", threshold_value="0.05")
    threshold = incident["condition"]["conditionThreshold"]
    threshold["denominatorFilter"] = threshold["filter"].replace(
        ' AND metric.labels.response_code_class = "5xx"', ""
    )
    push_incident(stack, ratio, "m-3")
    assert "*Observed* 5.2% against threshold 5%" in text_of(cards(stack)[-1])


def roll_back_plan(stack: Stack, alert: dict[str, Any]) -> dict[str, Any]:
    """Roll back pressed on the alert's card; the plan card posted in its thread."""
    stack.slack.click("U_ALICE", OPS_CHANNEL, alert["ts"], "alert.rollback")
    stack.idle()
    plan = stack.slack.replies(OPS_CHANNEL, alert["ts"])[-1]
    assert "action.confirm" in text_of(plan)
    return plan


def test_closing_the_incident_marks_its_waiting_plan_which_stays_confirmable(
    stack: Stack,
) -> None:
    """The pending rollback gets "Incident resolved at …" (a Slack date) and keeps Confirm;
    the resolved reply names it; Bob can still confirm it, knowingly."""
    push(stack, envelope("alert-open.json", "m-1"))
    [alert] = cards(stack)
    plan = roll_back_plan(stack, alert)
    push(stack, envelope("alert-closed.json", "m-2"))
    marked = stack.slack.message(OPS_CHANNEL, plan["ts"])
    assert marked is not None
    assert "Incident resolved at <!date^1767181500^" in text_of(marked)
    assert "action.confirm" in text_of(marked)
    [action] = stack.bot.deps.store.search(Filters(states=(State.PENDING,)))
    assert [e.kind for e in action.events][-1] == "incident_resolved"
    reply = text_of(stack.slack.replies(OPS_CHANNEL, alert["ts"])[-1])
    assert "Resolved after 25m" in reply
    assert f"Still waiting for confirmation:\\n• {action.summary} `{action.id}`" in reply
    stack.slack.click(BOB, OPS_CHANNEL, plan["ts"], "action.confirm")
    stack.idle()
    done = stack.slack.message(OPS_CHANNEL, plan["ts"])
    assert done is not None
    assert "Done: approved by <@U_BOB>" in text_of(done)
    assert "Incident resolved at" in text_of(done)
    names = [r.name.rsplit("/", 1)[-1] for r in stack.gcp.run.revisions(PROD_BACKEND.name)]
    assert stack.gcp.run.serving_split(PROD_BACKEND.name) == {names[1]: 100}


def test_closing_leaves_finished_plans_alone(stack: Stack) -> None:
    """A plan cancelled before the close is neither marked nor named as waiting."""
    push(stack, envelope("alert-open.json", "m-1"))
    [alert] = cards(stack)
    plan = roll_back_plan(stack, alert)
    stack.slack.click("U_ALICE", OPS_CHANNEL, plan["ts"], "action.cancel")
    stack.idle()
    push(stack, envelope("alert-closed.json", "m-2"))
    cancelled = stack.slack.message(OPS_CHANNEL, plan["ts"])
    assert cancelled is not None
    assert "Incident resolved" not in text_of(cancelled)
    reply = text_of(stack.slack.replies(OPS_CHANNEL, alert["ts"])[-1])
    assert "Resolved after 25m" in reply
    assert "Still waiting" not in reply
