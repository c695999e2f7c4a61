"""The requests Slack sends to an app, built from the workspace: slash command forms,
block_actions and view_submission payloads, event_callback envelopes."""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bot.dev.slack_emulator.state import View, Workspace

Json = dict[str, Any]
VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent
VALUE_ELEMENTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input")
ONE_OPTION_ELEMENTS = ("static_select", "radio_buttons", "external_select", "overflow")
MANY_OPTION_ELEMENTS = ("checkboxes", "multi_static_select", "multi_external_select")
SELECTED = {
    "users_select": ("selected_user", "initial_user"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
}
# A typed @handle or #channel: at the start or after a space, not inside <...> already.
_MENTION = re.compile(r"(?<![^\s])([@#])([a-z0-9._-]+)")


def slash_command(
    ws: Workspace, user: str, channel: str, command: str, text: str, response_url: str, trigger: str
) -> dict[str, str]:
    seed = ws.seed
    known = ws.channels.get(channel)
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": seed.team_id,
        "team_domain": seed.domain,
        "channel_id": channel,
        "channel_name": known.name if known else "privategroup",
        "user_id": user,
        "user_name": ws.user_ref(user)["name"],
        "command": command,
        "text": escape_entities(ws, text),
        "api_app_id": seed.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger,
    }


def escape_entities(ws: Workspace, text: str) -> str:
    """The text as Slack sends it for a command with "Escape channels, users, and links sent
    to your app" on (the manifest's `should_escape: true`): a mention of a member becomes
    `<@U012ABCDEF|name>` and a channel `<#C012ABCDEF|name>`; a name Slack does not know stays
    as typed. https://api.slack.com/interactivity/slash-commands#creating_commands
    """

    def entity(match: re.Match[str]) -> str:
        sigil, name = match.groups()
        if sigil == "@":
            user = next((u for u in ws.users.values() if u.name == name), None)
            return f"<@{user.id}|{name}>" if user else match.group()
        channel = next((c for c in ws.channels.values() if c.name == name), None)
        return f"<#{channel.id}|{name}>" if channel else match.group()

    return _MENTION.sub(entity, text)


def find_action(blocks: list[Json], action_id: str, value: str | None) -> tuple[str, Json]:
    """The block id and element a user would click; LookupError names what is there."""
    available = []
    for block in blocks:
        for element in _interactive(block):
            available.append(f"{element.get('action_id')}={element.get('value', '')}")
            if element.get("action_id") != action_id:
                continue
            if value is None or element.get("value") == value or _option(element, value):
                return str(block.get("block_id", "")), element
    wanted = action_id + (f"={value}" if value is not None else "")
    raise LookupError(f"no element {wanted} to click; the surface has: {available or 'none'}")


def action(block_id: str, element: Json, value: str | None) -> Json:
    """One entry of `actions`, as Slack describes the click."""
    kind = element["type"]
    entry: Json = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "type": kind,
        "action_ts": f"{time.time():.6f}",
    }
    if kind == "button":
        entry["text"] = copy.deepcopy(element.get("text"))
        entry.update({k: element[k] for k in ("value", "style") if k in element})
    elif kind in ONE_OPTION_ELEMENTS:
        entry["selected_option"] = _option(element, value or "")
    return entry


def block_actions_on_message(
    ws: Workspace,
    user: str,
    channel: str,
    message: Json,
    is_ephemeral: bool,
    clicked: Json,
    response_url: str,
    trigger: str,
) -> Json:
    container: Json = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": is_ephemeral,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    known = ws.channels.get(channel)
    payload = _interaction(ws, "block_actions", user, trigger) | {
        "container": container,
        "channel": {"id": channel, "name": known.name if known else "privategroup"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }
    if not is_ephemeral:  # Slack does not send an ephemeral message's content back
        payload["message"] = copy.deepcopy(message)
    return payload


def block_actions_on_view(
    ws: Workspace, user: str, view: View, clicked: Json, trigger: str
) -> Json:
    return _interaction(ws, "block_actions", user, trigger) | {
        "container": {"type": "view", "view_id": view.id},
        "view": copy.deepcopy(view.body),
        "actions": [clicked],
    }


def view_submission(ws: Workspace, user: str, view: View, state: Json, trigger: str) -> Json:
    submitted = copy.deepcopy(view.body) | {"state": {"values": state}}
    return _interaction(ws, "view_submission", user, trigger) | {
        "view": submitted,
        "response_urls": [],
    }


def view_state(view: View, values: Mapping[str, Any]) -> tuple[Json, list[str]]:
    """state.values for every input block (given values over initial ones), and the block
    ids of required inputs left empty (Slack's client would not let the user submit)."""
    state: Json = {}
    missing: list[str] = []
    for block in view.body["blocks"]:
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element, block_id = block["element"], block["block_id"]
        given = values.get(block_id)
        if isinstance(given, Mapping):
            given = given.get(element.get("action_id", ""))
        entry = element_state(element, given)
        state[block_id] = {element.get("action_id", ""): entry}
        if not block.get("optional") and _is_empty(entry):
            missing.append(block_id)
    return state, missing


def element_state(element: Json, given: Any) -> Json:
    """What one input holds: given (a value, a list for multi-selects, or a raw dict) or its
    initial value."""
    kind = element["type"]
    if isinstance(given, Mapping):
        return {"type": kind, **given}
    if kind in VALUE_ELEMENTS:
        value = given if given is not None else element.get("initial_value")
        return {"type": kind, "value": None if value is None else str(value)}
    if kind in ONE_OPTION_ELEMENTS:
        option = _option(element, given) if given is not None else element.get("initial_option")
        return {"type": kind, "selected_option": option}
    if kind in MANY_OPTION_ELEMENTS:
        if given is None:
            return {"type": kind, "selected_options": element.get("initial_options", [])}
        chosen = [_option(element, str(v)) for v in given]
        return {"type": kind, "selected_options": [o for o in chosen if o]}
    if kind in SELECTED:
        key, initial = SELECTED[kind]
        return {"type": kind, key: given if given is not None else element.get(initial)}
    return {"type": kind, "value": given}


def event_callback(ws: Workspace, event: Json, event_id: str) -> Json:
    seed = ws.seed
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": seed.team_id,
        "api_app_id": seed.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": seed.team_id,
                "user_id": seed.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def app_home_opened(ws: Workspace, user: str) -> Json:
    event: Json = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user.removeprefix("U"),
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    home = ws.views.get(ws.homes.get(user, ""))
    if home is not None:
        event["view"] = copy.deepcopy(home.body)
    return event


def new_event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def _interaction(ws: Workspace, kind: str, user: str, trigger: str) -> Json:
    seed = ws.seed
    return {
        "type": kind,
        "token": VERIFICATION_TOKEN,
        "team": {"id": seed.team_id, "domain": seed.domain},
        "user": ws.user_ref(user),
        "api_app_id": seed.app_id,
        "trigger_id": trigger,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _interactive(block: Json) -> list[Json]:
    if block.get("type") == "actions":
        return [e for e in block.get("elements", []) if isinstance(e, dict)]
    accessory = block.get("accessory")
    return [accessory] if isinstance(accessory, dict) and "action_id" in accessory else []


def _option(element: Json, value: str) -> Json | None:
    options = [o for group in element.get("option_groups", []) for o in group.get("options", [])]
    options += element.get("options", [])
    return next((copy.deepcopy(o) for o in options if o.get("value") == value), None)


def _is_empty(entry: Json) -> bool:
    held = [v for k, v in entry.items() if k != "type"]
    return all(v in (None, "", []) for v in held)
