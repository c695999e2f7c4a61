"""The sandbox page's actions: what a person does in Slack (a slash command, a click, a modal
submission, opening the App Home tab), sent to the bot as the chosen user through the Slack
emulator's driver, signed exactly as Slack signs it. Each answers with the bot's HTTP status
and, when something went wrong, the reason in words for the page to show."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from bot.dev.slack_emulator import SlackEmulator, views
from bot.dev.slack_emulator.driver import BotResponse
from bot.dev.slack_emulator.server import Handler
from bot.dev.slack_emulator.wire import Request, Response, json_response
from bot.registry import VERBS
from gcp.log_queries import PRESETS

if TYPE_CHECKING:
    from bot.dev.sandbox import Sandbox

Json = dict[str, Any]
OPS_CHANNEL = "C_OPS"
COMMAND = "/ops"


class BadRequest(Exception):
    """The page sent something unusable; the message says what to send instead."""


@dataclass(frozen=True)
class PageActions:
    slack: SlackEmulator

    def command(self, body: Json) -> BotResponse:
        """`{"user", "text", "channel"?}`: the composer's text, e.g. "/ops status x"."""
        user, text = self._user(body), _text(body, "text")
        command, _, rest = text.strip().partition(" ")
        if command != COMMAND:
            raise BadRequest(f"{command or text!r} is not a command here; start with {COMMAND}")
        channel = _text(body, "channel", OPS_CHANNEL)
        return self.slack.slash_command(user, channel, COMMAND, rest.strip())

    def click(self, body: Json) -> BotResponse:
        """`{"user", "channel", "message_ts", "action_id", "value"?}`: a button in a message."""
        return self.slack.click(
            self._user(body),
            _text(body, "channel"),
            _text(body, "message_ts"),
            _text(body, "action_id"),
            _optional(body, "value"),
        )

    def click_in_view(self, body: Json) -> BotResponse:
        """`{"user", "view_id", "action_id", "value"?}`: a button in a modal or the App Home."""
        return self.slack.click_in_view(
            self._user(body),
            _text(body, "view_id"),
            _text(body, "action_id"),
            _optional(body, "value"),
        )

    def submit(self, body: Json) -> BotResponse:
        """`{"user", "view_id", "values": {block_id: value}}`: the modal's submit button."""
        values = body.get("values", {})
        if not isinstance(values, dict):
            raise BadRequest("`values` must be an object of block_id -> value")
        return self.slack.submit_view(self._user(body), _text(body, "view_id"), values)

    def open_home(self, body: Json) -> BotResponse:
        """`{"user"}`: the user opens the bot's App Home tab."""
        return self.slack.open_home(self._user(body))

    def close_view(self, body: Json) -> Json:
        """`{"user", "view_id"}`: the modal's close button. Slack closes the view itself."""
        user, view_id = self._user(body), _text(body, "view_id")
        ws = self.slack.workspace
        with ws.lock:
            view = ws.views.get(view_id)
            if view is None or view.closed or view.user != user:
                raise LookupError(f"{user} has no open view {view_id}")
            if view.body.get("clear_on_close"):
                views.clear(ws, user)
            else:
                views.close(ws, view)
        return {"ok": True, "closed": view_id}

    def modals(self, request: Request) -> Json:
        """`?user=U`: the user's modal stack, bottom first (the page shows the top one)."""
        user = request.query.get("user", "")
        if user not in self._users():
            raise BadRequest(f"unknown user {user!r}; one of {', '.join(self._users())}")
        return {"views": self.slack.open_views(user)}

    def members(self, request: Request) -> Json:
        """`?channel=C`: who can type in the channel (the page's user switch)."""
        channel_id = request.query.get("channel", OPS_CHANNEL)
        ws = self.slack.workspace
        with ws.lock:
            channel = ws.channels.get(channel_id)
            if channel is None:
                raise LookupError(f"no channel {channel_id}")
            people = [u for u in ws.users if u in channel.members]
        return {"channel": channel_id, "members": people}

    def commands(self, _request: Request) -> Json:
        """The bot's /ops grammar for the composer's suggestions: verbs and log presets."""
        verbs = [
            {
                "name": verb.name,
                "usage": verb.usage.removeprefix(verb.name).strip(),
                "about": verb.summary,
                "takes_service": "service" in verb.positionals + verb.optional_positionals,
            }
            for verb in VERBS.values()
        ]
        return {"verbs": verbs, "presets": list(PRESETS)}

    def _user(self, body: Json) -> str:
        user = _text(body, "user")
        if user not in self._users():
            raise BadRequest(f"unknown user {user!r}; one of {', '.join(self._users())}")
        return user

    def _users(self) -> list[str]:
        with self.slack.workspace.lock:
            return list(self.slack.workspace.users)


def register(sandbox: Sandbox) -> None:
    """Add the page's routes to the sandbox's Slack emulator (before it starts serving)."""
    add_routes(sandbox.slack)


def add_routes(slack: SlackEmulator) -> None:
    page = PageActions(slack)
    posts: dict[str, Callable[[Json], BotResponse]] = {
        "/_sandbox/command": page.command,
        "/_sandbox/click": page.click,
        "/_sandbox/view/click": page.click_in_view,
        "/_sandbox/view/submit": page.submit,
        "/_sandbox/home": page.open_home,
    }
    for path, act in posts.items():
        slack.router.add("POST", path, _to_the_bot(slack, act))
    slack.router.add(
        "POST", "/_sandbox/view/close", _local(lambda r: page.close_view(json_object(r)))
    )
    slack.router.add("GET", "/_sandbox/modals", _local(page.modals))
    slack.router.add("GET", "/_sandbox/members", _local(page.members))
    slack.router.add("GET", "/_sandbox/commands", _local(page.commands))


def _to_the_bot(slack: SlackEmulator, act: Callable[[Json], BotResponse]) -> Handler:
    """A handler that sends the bot one request and reports its answer and Slack's problems."""

    def handle(request: Request) -> Response:
        seen = len(slack.problems)
        try:
            reply = act(json_object(request))
        except BadRequest as err:
            return _error(400, str(err))
        except LookupError as err:  # no such message, view or button for this user
            return _error(404, str(err))
        except ValueError as err:  # e.g. a required input left empty: Slack would not send it
            return _error(400, str(err))
        except requests.RequestException as err:
            return _error(502, f"the bot did not answer ({type(err).__name__}); is it running?")
        problems = slack.problems[seen:]
        return json_response(
            {
                "ok": reply.status == 200 and not problems,
                "status": reply.status,
                "body": reply.body,
                "elapsed": round(reply.elapsed, 3),
                "error": "; ".join(problems) or _status_error(reply),
            }
        )

    return handle


def _local(act: Callable[[Request], Json]) -> Handler:
    """A handler answered by the emulator itself, without asking the bot."""

    def handle(request: Request) -> Response:
        try:
            return json_response(act(request))
        except BadRequest as err:
            return _error(400, str(err))
        except LookupError as err:
            return _error(404, str(err))

    return handle


def json_object(request: Request) -> Json:
    """The request's JSON object body, or BadRequest saying what is wrong with it."""
    try:
        body = request.json()
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"the body must be JSON: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _text(body: Json, key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if value is None:
        raise BadRequest(f"missing field `{key}`")
    if not isinstance(value, str) or not value:
        raise BadRequest(f"`{key}` must be a non-empty string")
    return value


def _optional(body: Json, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"`{key}` must be a string")
    return value


def _status_error(reply: BotResponse) -> str:
    return "" if reply.status == 200 else f"the bot answered HTTP {reply.status}"


def _error(status: int, reason: str) -> Response:
    return json_response({"ok": False, "error": reason}, status)
