"""The Web API endpoint: `/api/<method>` with the arguments as a form, multipart or JSON body
(or a query string), the token checked (the bot's, or the app-level token for the methods
that take one), and Slack's `{"ok": ...}` answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.dev.slack_emulator import chat, directory, views
from bot.dev.slack_emulator.errors import ApiError
from bot.dev.slack_emulator.faults import Faults
from bot.dev.slack_emulator.rate_limits import RateLimits
from bot.dev.slack_emulator.state import ApiCall, Workspace
from bot.dev.slack_emulator.wire import Request, Response, json_response

Json = dict[str, Any]
Method = Callable[[Workspace, Json], Json]
AppMethod = Callable[[Json], Json]  # called with an app-level token (xapp-...)
JSON_ARGUMENTS = ("blocks", "view", "attachments")  # JSON strings inside form bodies
METHODS: dict[str, Method] = {**directory.METHODS, **chat.METHODS, **views.METHODS}


class WebApi:
    def __init__(
        self,
        workspace: Workspace,
        bot_token: str,
        faults: Faults,
        app_token: str = "",
        app_methods: Mapping[str, AppMethod] | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.workspace = workspace
        self.rate_limits = rate_limits
        self.bot_token = bot_token
        self.faults = faults
        self.app_token = app_token
        self.app_methods = dict(app_methods or {})

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
        limited = self.rate_limits.refusal(method, args) if self.rate_limits else None
        if limited is not None:
            self._log(method, args, 429, "ratelimited")
            return limited
        response = self._call(method, args, request)
        if fault is not None:
            time.sleep(fault.answer_delay)
        return response

    def _call(self, method: str, args: Json, request: Request) -> Response:
        app_level = method in self.app_methods
        if method not in METHODS and not app_level:
            body = {"ok": False, "error": "unknown_method", "req_method": method}
            return self._answer(method, args, body, status=404)
        token = bearer_token(request) or (
            "" if request.content_type == "application/json" else str(args.get("token", ""))
        )
        refusal = self._refusal(token, app_level)
        if refusal:
            return self._answer(method, args, ApiError(refusal).body())
        try:
            if app_level:
                body = {"ok": True, **self.app_methods[method](args)}
            else:
                with self.workspace.lock:
                    body = {"ok": True, **METHODS[method](self.workspace, args)}
        except ApiError as err:
            body = err.body()
        return self._answer(method, args, body)

    def _refusal(self, token: str, app_level: bool) -> str:
        """Slack's error for this token, or "" when it may call the method."""
        if not token:
            return "not_authed"
        if token == (self.app_token if app_level else self.bot_token):
            return ""
        if token in (self.bot_token, self.app_token):
            return "not_allowed_token_type"  # a good token of the other kind
        return "invalid_auth"

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
