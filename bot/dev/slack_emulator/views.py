"""views.*: modals (opened with a trigger id that lasts 3 s, stacked up to 3 deep) and the
App Home tab, one per user. Slack reports a bad view as `invalid_arguments` with reasons."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.dev.slack_emulator import blocks as bk
from bot.dev.slack_emulator import ids
from bot.dev.slack_emulator.errors import ApiError, invalid_arguments
from bot.dev.slack_emulator.state import TRIGGER_SECONDS, View, Workspace

Json = dict[str, Any]
MODAL_TEXT = 24  # title, submit and close
PRIVATE_METADATA = 3000
CALLBACK_ID = 255
EXTERNAL_ID = 255
PUSH_LIMIT = 3


def open_view(ws: Workspace, args: Json) -> Json:
    spec = view_spec(args, "modal")
    user = exchange_trigger(ws, args)
    _check_external_id(ws, spec)
    clear(ws, user)
    view = _store(ws, user, spec)
    ws.modal_stacks[user] = [view.id]
    return {"view": copy.deepcopy(view.body)}


def push(ws: Workspace, args: Json) -> Json:
    spec = view_spec(args, "modal")
    user = exchange_trigger(ws, args)
    _check_external_id(ws, spec)
    return {"view": copy.deepcopy(push_view(ws, user, spec).body)}


def update(ws: Workspace, args: Json) -> Json:
    view = _find(ws, args)
    spec = view_spec(args, view.body["type"])
    if args.get("hash") and args["hash"] != view.body["hash"]:
        raise ApiError("hash_conflict")
    _check_external_id(ws, spec, view.id)
    replace(ws, view, spec)
    return {"view": copy.deepcopy(view.body)}


def publish(ws: Workspace, args: Json) -> Json:
    user = str(args.get("user_id") or "")
    if user not in ws.users:
        raise ApiError("user_not_found")
    spec = view_spec(args, "home")
    current = ws.views.get(ws.homes.get(user, ""))
    if current and args.get("hash") and args["hash"] != current.body["hash"]:
        raise ApiError("hash_conflict")
    view_id = current.id if current else ids.short_id("V")
    ws.views[view_id] = View(view_id, user, _body(ws, view_id, spec))
    ws.homes[user] = view_id
    return {"view": copy.deepcopy(ws.views[view_id].body)}


def view_spec(args: Json, kind: str) -> Json:
    """The `view` argument, checked against Slack's limits for its kind."""
    view = args.get("view")
    if not isinstance(view, dict):
        raise invalid_arguments("must be a JSON object [json-pointer:/view]")
    found = spec_problems(view, kind)
    if found:
        raise invalid_arguments(*found)
    return view


def spec_problems(view: Json, kind: str) -> list[str]:
    check = bk.Check()
    if view.get("type") != kind:
        check.fail(f"must be `{kind}`", "/view/type")
    blocks = view.get("blocks")
    if not bk.is_block_list(blocks):
        check.fail("must be an array of block objects", "/view/blocks")
    else:
        check.found += bk.problems(blocks, bk.SURFACE_BLOCKS, "/view/blocks")
    if kind == "modal":
        _modal_texts(check, view)
    check.length(view.get("private_metadata"), PRIVATE_METADATA, "/view/private_metadata")
    check.length(view.get("callback_id"), CALLBACK_ID, "/view/callback_id")
    check.length(view.get("external_id"), EXTERNAL_ID, "/view/external_id")
    return check.found


def _modal_texts(check: bk.Check, view: Json) -> None:
    check.text(view.get("title"), MODAL_TEXT, "/view/title", plain_only=True)
    for key in ("close", "submit"):
        if view.get(key) is not None:
            check.text(view[key], MODAL_TEXT, f"/view/{key}", plain_only=True)
    has_input = any(b.get("type") == "input" for b in view.get("blocks") or [])
    if has_input and view.get("submit") is None:
        check.fail("a modal with input blocks needs a submit button", "/view/submit")


def exchange_trigger(ws: Workspace, args: Json) -> str:
    """The user a trigger id was issued to; each trigger works once, within 3 seconds."""
    trigger_id = str(args.get("trigger_id") or "")
    if not trigger_id:
        raise invalid_arguments("missing required field: trigger_id")
    trigger = ws.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.exchanged:
        raise ApiError("exchanged_trigger_id")
    if ws.clock() - trigger.issued_at > TRIGGER_SECONDS:
        raise ApiError("expired_trigger_id")
    trigger.exchanged = True
    return trigger.user


# -- operations shared with view_submission responses (response_action)


def push_view(ws: Workspace, user: str, spec: Json) -> View:
    stack = ws.modal_stacks.get(user) or []
    if not stack:
        raise invalid_arguments("no modal is open to push a view onto")
    if len(stack) >= PUSH_LIMIT:
        raise ApiError("push_limit_reached")
    view = _store(ws, user, spec, root=stack[0], previous=stack[-1])
    stack.append(view.id)
    return view


def replace(ws: Workspace, view: View, spec: Json) -> None:
    """New content, same id and place in the stack, new hash; shown errors are dropped."""
    body = view.body
    view.body = _body(ws, view.id, spec, body["root_view_id"], body["previous_view_id"])
    view.errors = {}


def close(ws: Workspace, view: View) -> None:
    """Close the top view of its stack; the one below it shows again."""
    view.closed = True
    stack = ws.modal_stacks.get(view.user, [])
    if view.id in stack:
        stack.remove(view.id)


def clear(ws: Workspace, user: str) -> None:
    for view_id in ws.modal_stacks.pop(user, []):
        ws.views[view_id].closed = True


def _find(ws: Workspace, args: Json) -> View:
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if not view_id and not external_id:
        raise invalid_arguments("either view_id or external_id is required")
    for view in ws.views.values():
        matches = view.id == view_id or (external_id and view.body["external_id"] == external_id)
        if matches and not view.closed:
            return view
    raise ApiError("not_found")


def _check_external_id(ws: Workspace, spec: Json, own_id: str = "") -> None:
    external_id = spec.get("external_id")
    if not external_id:
        return
    for view in ws.views.values():
        if view.id != own_id and view.body.get("external_id") == external_id:
            raise ApiError("duplicate_external_id")


def _store(ws: Workspace, user: str, spec: Json, root: str = "", previous: str = "") -> View:
    view_id = ids.short_id("V")
    view = View(view_id, user, _body(ws, view_id, spec, root, previous))
    ws.views[view_id] = view
    return view


def _body(ws: Workspace, view_id: str, spec: Json, root: str = "", previous: str = "") -> Json:
    seed = ws.seed
    return {
        "id": view_id,
        "team_id": seed.team_id,
        "type": spec["type"],
        "title": copy.deepcopy(spec.get("title")),
        "close": copy.deepcopy(spec.get("close")),
        "submit": copy.deepcopy(spec.get("submit")),
        "blocks": bk.with_block_ids(copy.deepcopy(spec["blocks"])),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "external_id": spec.get("external_id", ""),
        "state": {"values": {}},
        "hash": ids.view_hash(),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "root_view_id": root or view_id,
        "previous_view_id": previous or None,
        "app_id": seed.app_id,
        "app_installed_team_id": seed.team_id,
        "bot_id": seed.bot_id,
    }


METHODS: dict[str, Callable[[Workspace, Json], Json]] = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
