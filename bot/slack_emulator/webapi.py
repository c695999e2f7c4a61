"""The Web API endpoint: `/api/<method>` with the arguments as a form, multipart or JSON body
(or a query string), the bot token checked, and Slack's `{"ok": ...}` answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.slack_emulator import chat, directory, views
from bot.slack_emulator.errors import ApiError
from bot.slack_emulator.faults import Faults
from bot.slack_emulator.state import ApiCall, Workspace
from bot.slack_emulator.wire import Request, Response, json_response

Json = dict[str, Any]
Method = Callable[[Workspace, Json], Json]
JSON_ARGUMENTS = ("blocks", "view", "attachments")  # JSON strings inside form bodies
METHODS: dict[str, Method] = {**directory.METHODS, **chat.METHODS, **views.METHODS}


class WebApi:
    def __init__(self, workspace: Workspace, bot_token: str, faults: Faults) -> None:
        self.workspace = workspace
        self.bot_token = bot_token
        self.faults = faults

    def handle(self, method: str, request: Request) -> Response:
        try:
            args = arguments(request)
        except ApiError as err:
            return self._answer(method, {}, err.body())
        fault = self.faults.take(method)
        if fault is not None:
            failure = fault.suffer()
            if failure is not None:
                self._log(method, args, fault.status, fault.error)
                return failure
        return self._call(method, args, request)

    def _call(self, method: str, args: Json, request: Request) -> Response:
        if method not in METHODS:
            body = {"ok": False, "error": "unknown_method", "req_method": method}
            return self._answer(method, args, body, status=404)
        token = bearer_token(request) or (
            "" if request.content_type == "application/json" else str(args.get("token", ""))
        )
        if not token:
            return self._answer(method, args, ApiError("not_authed").body())
        if token != self.bot_token:
            return self._answer(method, args, ApiError("invalid_auth").body())
        try:
            with self.workspace.lock:
                body = {"ok": True, **METHODS[method](self.workspace, args)}
        except ApiError as err:
            body = err.body()
        return self._answer(method, args, body)

    def _answer(self, method: str, args: Json, body: Json, status: int = 200) -> Response:
        self._log(method, args, status, "" if body.get("ok") else str(body.get("error", "")))
        return json_response(body, status)

    def _log(self, method: str, args: Json, status: int, error: str) -> None:
        logged = {k: v for k, v in args.items() if k != "token"}
        with self.workspace.lock:
            self.workspace.calls.append(ApiCall(method, logged, status, error))


def arguments(request: Request) -> Json:
    """The call's arguments from the query string and the body, JSON fields decoded."""
    args: Json = dict(request.query)
    if request.body:
        args.update(_body_arguments(request))
    for key in JSON_ARGUMENTS:
        if isinstance(args.get(key), str):
            args[key] = _json_or_text(args[key])
    return args


def _body_arguments(request: Request) -> Json:
    if request.content_type == "application/json":
        try:
            parsed = request.json()
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(parsed, dict):
            raise ApiError("invalid_json")
        return parsed
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return dict(request.form())
    raise ApiError("invalid_post_type")


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
