"""The emulator acting as Slack towards the bot: slash commands, button clicks, modal
submissions and events, delivered by a transport (signed HTTP unless told otherwise), and what
Slack does with the bot's immediate answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.dev.slack_emulator import hooks, payloads, views
from bot.dev.slack_emulator.errors import ApiError
from bot.dev.slack_emulator.signing import Signing
from bot.dev.slack_emulator.state import ResponseTarget, View, Workspace
from bot.dev.slack_emulator.transport import ACK_SECONDS, Delivery, HttpTransport, Transport
from bot.dev.slack_emulator.transport import BotResponse as BotResponse  # re-exported, as before

Json = dict[str, Any]


@dataclass(frozen=True)
class Driver:
    workspace: Workspace
    bot_url: str
    signing_secret: str
    public_url: Callable[[], str]  # the emulator's base URL, for response URLs
    signing: Signing = "valid"
    timeout: float = 10.0
    transport: Transport | None = None  # None: signed HTTP to bot_url (the fields above)

    def tampered(self, how: Signing) -> Driver:
        """The same driver, signing every request wrongly in one way (see signed_headers)."""
        return replace(self, signing=how)

    def over(self, transport: Transport) -> Driver:
        """The same driver, delivering every request through `transport`."""
        return replace(self, transport=transport)

    def slash_command(
        self, user_id: str, channel_id: str, command: str = "/ops", text: str = ""
    ) -> BotResponse:
        ws = self.workspace
        with ws.lock:
            target = ResponseTarget("commands", user_id, channel_id, ws.clock())
            form = payloads.slash_command(
                ws, user_id, channel_id, command, text, self._url(target), ws.issue_trigger(user_id)
            )
        reply = self._deliver(Delivery("slash_commands", form))
        self._check(reply, f"{command} {text}".strip())
        if reply.status == 200 and reply.body.strip():
            self._show_command_answer(reply, target, command)
        return reply

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
    ) -> BotResponse:
        """Click a button (or pick an option) in a channel message or in the user's ephemeral."""
        ws = self.workspace
        with ws.lock:
            message, is_ephemeral = self._visible_message(user_id, channel_id, message_ts)
            block_id, element = payloads.find_action(message.get("blocks", []), action_id, value)
            target = ResponseTarget(
                "actions", user_id, channel_id, ws.clock(), message_ts, is_ephemeral
            )
            body = payloads.block_actions_on_message(
                ws,
                user_id,
                channel_id,
                message,
                is_ephemeral,
                payloads.action(block_id, element, value),
                self._url(target),
                ws.issue_trigger(user_id),
            )
        return self._interact(body, f"click {action_id}")

    def click_in_view(
        self, user_id: str, view_id: str, action_id: str, value: str | None = None
    ) -> BotResponse:
        """Click a button in a modal or the App Home tab."""
        ws = self.workspace
        with ws.lock:
            view = self._open_view(user_id, view_id)
            block_id, element = payloads.find_action(view.body["blocks"], action_id, value)
            clicked = payloads.action(block_id, element, value)
            body = payloads.block_actions_on_view(
                ws, user_id, view, clicked, ws.issue_trigger(user_id)
            )
        return self._interact(body, f"click {action_id} in view {view_id}")

    def submit_view(
        self, user_id: str, view_id: str, values: Mapping[str, Any] | None = None
    ) -> BotResponse:
        """Submit a modal. `values` maps block_id to a value (or to {action_id: value});
        inputs left out keep their initial values. The bot's response_action is applied."""
        ws = self.workspace
        with ws.lock:
            view = self._open_view(user_id, view_id)
            state, missing = payloads.view_state(view, values or {})
            if missing:
                raise ValueError(f"required inputs {missing} are empty: Slack would not submit")
            body = payloads.view_submission(ws, user_id, view, state, ws.issue_trigger(user_id))
        reply = self._interact(body, f"submit view {view_id}")
        with ws.lock:
            self._apply_response_action(view, reply)
        return reply

    def open_home(self, user_id: str) -> BotResponse:
        """The user opens the bot's App Home tab: an app_home_opened event."""
        with self.workspace.lock:
            event = payloads.app_home_opened(self.workspace, user_id)
        return self.send_event(event)

    def send_event(self, event: Json, event_id: str = "", retry_num: int = 0) -> BotResponse:
        """Deliver an Events API event; a retry repeats the event_id with its retry number."""
        with self.workspace.lock:
            envelope = payloads.event_callback(
                self.workspace, event, event_id or payloads.new_event_id()
            )
        reason = "http_timeout" if retry_num else ""
        reply = self._deliver(Delivery("events_api", envelope, retry_num, reason))
        self._check(reply, f"event {event.get('type')}")
        return reply

    def send(
        self, body: bytes, content_type: str, extra_headers: Mapping[str, str] | None = None
    ) -> BotResponse:
        """POST `body` to the bot's request URL, signed as this driver signs (always HTTP)."""
        return self._http().post(body, content_type, extra_headers)

    def _deliver(self, delivery: Delivery) -> BotResponse:
        return (self.transport or self._http()).deliver(delivery)

    def _http(self) -> HttpTransport:
        return HttpTransport(self.bot_url, self.signing_secret, self.signing, self.timeout)

    # -- what Slack does with the answers

    def _interact(self, payload: Json, what: str) -> BotResponse:
        reply = self._deliver(Delivery("interactive", payload))
        self._check(reply, what)
        return reply

    def _check(self, reply: BotResponse, what: str) -> None:
        if reply.failure:
            self._problem(f"{what}: {reply.failure}")
            return
        if reply.status != 200:
            self._problem(f"{what}: the bot answered HTTP {reply.status}")
        if reply.elapsed > ACK_SECONDS:
            self._problem(f"{what}: the bot took {reply.elapsed:.1f} s; Slack gives up after 3 s")

    def _show_command_answer(
        self, reply: BotResponse, target: ResponseTarget, command: str
    ) -> None:
        try:
            answer = reply.json()
        except ValueError:
            answer = {"text": reply.body}
        if not isinstance(answer, dict):
            answer = {"text": reply.body}
        with self.workspace.lock:
            try:
                hooks.apply(self.workspace, target, answer)
            except ApiError as err:
                self._problem(f"{command}: Slack refused the bot's answer: {err.error}")

    def _apply_response_action(self, view: View, reply: BotResponse) -> None:
        if reply.status != 200:
            return
        answer = reply.json() if reply.body.strip().startswith("{") else None
        if not answer:
            views.close(self.workspace, view)
            return
        action = answer.get("response_action")
        try:
            self._respond(view, action, answer)
        except ApiError as err:
            self._problem(f"response_action {action}: Slack refused it: {err.body()}")

    def _respond(self, view: View, action: Any, answer: Json) -> None:
        ws = self.workspace
        if action == "errors":
            view.errors = dict(answer.get("errors") or {})
            _check_error_blocks(ws, view)
        elif action == "update":
            views.replace(ws, view, views.view_spec(answer, "modal"))
        elif action == "push":
            views.push_view(ws, view.user, views.view_spec(answer, "modal"))
        elif action == "clear":
            views.clear(ws, view.user)
        else:
            self._problem(f"view {view.id}: unknown response_action {action!r}")

    # -- lookups

    def _url(self, target: ResponseTarget) -> str:
        key = self.workspace.issue_response_url(target)
        return f"{self.public_url()}/hooks/{target.kind}/{self.workspace.seed.team_id}/{key}"

    def _visible_message(self, user: str, channel: str, ts: str) -> tuple[Json, bool]:
        message = self.workspace.find_message(channel, ts)
        if message is not None:
            return message, False
        ephemeral = self.workspace.find_ephemeral(user, ts)
        if ephemeral is not None and ephemeral["channel"] == channel:
            return ephemeral, True
        raise LookupError(f"{user} sees no message {ts} in {channel}")

    def _open_view(self, user: str, view_id: str) -> View:
        view = self.workspace.views.get(view_id)
        if view is None or view.closed or view.user != user:
            raise LookupError(f"{user} has no open view {view_id}")
        return view

    def _problem(self, problem: str) -> None:
        with self.workspace.lock:
            self.workspace.note_problem(problem)


def _check_error_blocks(ws: Workspace, view: View) -> None:
    """Slack rejects errors keyed by anything but an input block of the view."""
    inputs = {b["block_id"] for b in view.body["blocks"] if b.get("type") == "input"}
    for block_id in view.errors:
        if block_id not in inputs:
            ws.note_problem(f"view {view.id}: error for `{block_id}`, which is not an input block")
