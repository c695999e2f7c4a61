"""Driving the stack as people in Slack would, and reading what they would see."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from tests.support.models import PROD_BACKEND
from tests.support.stack import OPS_CHANNEL, Stack, eventually

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


ALICE, BOB, CAROL = "U_ALICE", "U_BOB", "U_CAROL"


def text_of(message: dict[str, Any]) -> str:
    return message.get("text", "") + json.dumps(message.get("blocks", []), ensure_ascii=False)


WHO_RAN = re.compile(r"^((?:<@\w+>(?:, | and )?)+) ran `/ops ([^`]+)`")


def who_line(message: dict[str, Any]) -> str:
    """A message's first line of text: for a command's answer, who ran what and where."""
    block = (message.get("blocks") or [{}])[0]
    element = (block.get("elements") or [{}])[0]
    return element.get("text", "") if isinstance(element.get("text"), str) else ""


def asked(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(who, command) for each person an answer names (commands alike that waited together
    share one answer); empty for any other message."""
    found = WHO_RAN.match(who_line(message))
    if not found:
        return []
    return [(user, found.group(2)) for user in re.findall(r"<@(\w+)>", found.group(1))]


def askers(message: dict[str, Any]) -> list[str]:
    """Who an answer says ran its command, each once."""
    return [user for user, _ in asked(message)]


def plan(stack: Stack, text: str, user: str = ALICE) -> dict[str, Any]:
    """Run a mutating command; return its plan card."""
    assert stack.slack.slash_command(user, OPS_CHANNEL, text=text).status == 200
    stack.idle()
    return stack.slack.messages(OPS_CHANNEL)[-1]


def action_id_of(card: dict[str, Any]) -> str:
    for block in card["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "action.confirm":
                return str(element["value"])
    raise AssertionError(f"no Confirm button in {text_of(card)}")


def click(stack: Stack, card: dict[str, Any], action: str, user: str) -> None:
    reply = stack.slack.click(user, OPS_CHANNEL, card["ts"], action)
    assert reply.status == 200
    stack.idle()


def thread(stack: Stack, card: dict[str, Any]) -> str:
    return "\n".join(text_of(m) for m in stack.slack.replies(OPS_CHANNEL, card["ts"]))


def serving(stack: Stack) -> dict[str, int]:
    return stack.gcp.run.serving_split(PROD_BACKEND.name)


def previous_revision(stack: Stack, back: int = 1) -> str:
    """The revision `back` steps before the newest (0: the newest)."""
    names = [r.name.rsplit("/", 1)[-1] for r in stack.gcp.run.revisions(PROD_BACKEND.name)]
    return names[back]


def run(
    stack: Stack, text: str, user: str = ALICE, channel: str = OPS_CHANNEL
) -> tuple[dict[str, Any], str]:
    """Send `/ops text`; return the answer (one message: who ran what, then the answer) and
    its text."""
    reply = stack.slack.slash_command(user, channel, text=text)
    assert reply.status == 200
    stack.idle()
    answer = stack.slack.messages(channel)[-1]
    assert stack.slack.replies(channel, answer["ts"]) == []
    return answer, text_of(answer)


def ephemeral(stack: Stack, text: str, user: str = ALICE) -> str:
    """What `user` alone is told for `/ops text` (the ack's text, else an ephemeral)."""
    reply = stack.slack.slash_command(user, OPS_CHANNEL, text=text)
    assert reply.status == 200
    stack.idle()
    answer = str(reply.json().get("text", "")) if reply.body else ""
    return answer or text_of(stack.slack.ephemerals(user, OPS_CHANNEL)[-1])


def envelope(name: str, message_id: str = "m-1") -> dict[str, Any]:
    incident = json.loads((SAMPLES / name).read_text())
    data = base64.b64encode(json.dumps(incident).encode()).decode()
    return {
        "message": {"data": data, "messageId": message_id, "attributes": {}},
        "subscription": "s",
    }


def push(stack: Stack, body: Any, token: str | None = "valid") -> requests.Response:
    headers = {}
    if token == "valid":
        headers["Authorization"] = f"Bearer {stack.google.mint()}"
    elif token:
        headers["Authorization"] = token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{stack.url}/pubsub/alerts", data=data, headers=headers, timeout=10)


def cards(stack: Stack) -> list[dict[str, Any]]:
    return [
        m
        for m in stack.slack.messages(OPS_CHANNEL)
        if "alert.ack" in text_of(m) or "Resolved" in text_of(m)
    ]


def send_interaction(stack: Stack, payload: dict[str, Any]) -> int:
    """POST an interaction payload signed as Slack signs it; the HTTP status."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return stack.slack.driver.send(body, "application/x-www-form-urlencoded").status


def click_payload(
    stack: Stack, user: str, message: dict[str, Any], action_id: str, channel: str = OPS_CHANNEL
) -> dict[str, Any]:
    """A block_actions payload for a button of `message`, as if clicked in `channel`."""
    value = next(
        e.get("value", "")
        for b in message["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == action_id
    )
    return {
        "type": "block_actions",
        "user": {"id": user},
        "api_app_id": "A_OPS",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "channel": {"id": channel},
        "response_url": f"{stack.slack.url}/respond/unused",
        "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }


def reply_containing(stack: Stack, thread_ts: str, text: str) -> dict[str, Any]:
    """The first message in the thread of `thread_ts` whose blocks contain `text`."""

    def found() -> dict[str, Any] | None:
        replies = stack.slack.replies(OPS_CHANNEL, thread_ts)
        return next((m for m in replies if text in text_of(m)), None)

    return eventually(found, what=f"a reply containing {text!r}")


def plan_from_button(
    stack: Stack, message: dict[str, Any], action_id: str, thread_ts: str
) -> dict[str, Any]:
    """Alice presses `action_id` on `message`; the plan card it posts in `thread_ts`."""
    stack.slack.click(ALICE, OPS_CHANNEL, message["ts"], action_id)
    stack.idle()
    return reply_containing(stack, thread_ts, "action.confirm")


def confirmed_by_bob(stack: Stack, plan_card: dict[str, Any]) -> dict[str, int]:
    """Bob confirms the plan; the traffic split after it."""
    click(stack, plan_card, "action.confirm", BOB)
    return serving(stack)


def thread_messages(stack: Stack, root: dict[str, Any], containing: str) -> list[dict[str, Any]]:
    return [m for m in stack.slack.replies(OPS_CHANNEL, root["ts"]) if containing in text_of(m)]


def private_answer(stack: Stack, text: str, user: str = ALICE) -> str:
    """Send `/ops text`; the text of the last answer only `user` sees (a refusal, a usage)."""
    assert stack.slack.slash_command(user, OPS_CHANNEL, text=text).status == 200
    stack.idle()
    return text_of(stack.slack.ephemerals(user, OPS_CHANNEL)[-1])
