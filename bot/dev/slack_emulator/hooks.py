"""response_url: what Slack does with a JSON message posted to the URL it sent with a slash
command or a block action (also with a slash command's immediate answer)."""

from __future__ import annotations

from typing import Any

from bot.dev.slack_emulator.content import message_content
from bot.dev.slack_emulator.errors import ApiError
from bot.dev.slack_emulator.faults import Faults
from bot.dev.slack_emulator.state import (
    RESPONSE_URL_SECONDS,
    RESPONSE_URL_USES,
    ApiCall,
    ResponseTarget,
    Workspace,
)
from bot.dev.slack_emulator.wire import Request, Response, json_response

Json = dict[str, Any]


def handle(ws: Workspace, faults: Faults, request: Request) -> Response:
    """A POST to /hooks/<kind>/<team>/<key>: apply it and log it like a Web API call."""
    fault = faults.take("response_url")
    failure = fault.suffer() if fault else None
    if failure is not None:
        return failure
    try:
        body = request.json()
    except ValueError:
        body = None
    key = request.path.rstrip("/").rsplit("/", 1)[-1]
    with ws.lock:
        status, answer = post(ws, key, body)
        error = "" if answer.get("ok") else str(answer.get("error"))
        ws.calls.append(
            ApiCall("response_url", body if isinstance(body, dict) else {}, status, error)
        )
    return json_response(answer, status)


def post(ws: Workspace, key: str, body: Any) -> tuple[int, Json]:
    """HTTP status and answer for a POST to the response URL `key`; the workspace is locked."""
    target = ws.responses.get(key)
    if target is None:
        return 404, {"ok": False, "error": "invalid_url"}
    if ws.clock() - target.issued_at > RESPONSE_URL_SECONDS:
        return 404, {"ok": False, "error": "expired_url"}
    if target.uses >= RESPONSE_URL_USES:
        return 404, {"ok": False, "error": "used_url"}
    if not isinstance(body, dict):
        return 400, {"ok": False, "error": "invalid_payload"}
    target.uses += 1
    try:
        apply(ws, target, body)
    except ApiError as err:
        return 400, err.body()
    return 200, {"ok": True}


def apply(ws: Workspace, target: ResponseTarget, body: Json) -> None:
    """delete_original, replace_original, or a new message: in the channel or to the user."""
    if _flag(body.get("delete_original")):
        _delete_original(ws, target)
        return
    content = message_content(body)
    if _flag(body.get("replace_original")) and target.message_ts:
        _replace_original(ws, target, content)
    elif body.get("response_type") == "in_channel":
        root = None
        if body.get("thread_ts"):
            root = ws.thread_root(target.channel, str(body["thread_ts"]))
        ws.add_message(target.channel, ws.bot_message("", None) | content, root)
    else:
        message = ws.bot_message("", None) | content
        ws.add_ephemeral(target.user, target.channel, message, str(body.get("thread_ts") or ""))


def _delete_original(ws: Workspace, target: ResponseTarget) -> None:
    if not target.message_ts:
        raise ApiError("no_original_message")
    if target.is_ephemeral:
        ws.remove_ephemeral(target.user, target.message_ts)
    else:
        ws.remove_message(target.channel, target.message_ts)


def _replace_original(ws: Workspace, target: ResponseTarget, content: Json) -> None:
    if target.is_ephemeral:
        original = ws.find_ephemeral(target.user, target.message_ts)
    else:
        original = ws.find_message(target.channel, target.message_ts)
    if original is None:
        raise ApiError("message_not_found")
    original.pop("blocks", None)
    original.pop("attachments", None)
    original.update(content)
    if not target.is_ephemeral:
        original["edited"] = {"user": ws.seed.bot_user_id, "ts": ws.ts.next()}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")
