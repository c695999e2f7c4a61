"""SlackEmulator: a local Slack for the bot. It serves the Web API at `api_url`, answers the
response URLs it hands out, sends the bot requests as Slack does (`driver`: signed HTTP, or
Socket Mode through `over_socket_mode()`), and shows its state as JSON at /_emulator/state
for tests and the sandbox page."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.dev.slack_emulator import ids, routes
from bot.dev.slack_emulator.driver import BotResponse, Driver
from bot.dev.slack_emulator.faults import Fault, Faults
from bot.dev.slack_emulator.rate_limits import RateLimits
from bot.dev.slack_emulator.seed import Seed
from bot.dev.slack_emulator.server import IDLE_SECONDS, HttpServer, Router
from bot.dev.slack_emulator.signing import Signing
from bot.dev.slack_emulator.socket_mode import SocketModeServer, SocketModeTransport
from bot.dev.slack_emulator.state import ApiCall, Workspace
from bot.dev.slack_emulator.transport import ACK_SECONDS
from bot.dev.slack_emulator.webapi import WebApi

Json = dict[str, Any]
T = TypeVar("T")


class SlackEmulator:
    def __init__(
        self,
        bot_url: str = "",
        signing_secret: str = "",
        bot_token: str = "",
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        seed: Seed | None = None,
        clock: ids.Clock = time.monotonic,
        static_dir: Path = routes.STATIC,
        app_token: str = "",
        rate_limits: bool = False,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        """`clock` times trigger ids (3 s), response URLs (30 min) and, with `rate_limits`,
        Slack's rate limits; tests may pass an `ids.ManualClock` to move it without waiting.
        `app_token` (xapp-...) lets an app open Socket Mode connections with
        apps.connections.open. A connection idle for `idle_seconds` is closed by the server."""
        self.workspace = Workspace(seed or Seed(), clock)
        self.faults = Faults()
        self._public_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.socket_mode = SocketModeServer(self.workspace.seed.app_id, host, self._public_host)
        app_methods = {"apps.connections.open": self.socket_mode.apps_connections_open}
        limits = RateLimits(clock) if rate_limits else None
        self.webapi = WebApi(
            self.workspace, bot_token, self.faults, app_token, app_methods, rate_limits=limits
        )
        self.router = Router()
        routes.install(self.router, self.workspace, self.webapi, self.faults, static_dir)
        self._server = HttpServer(self.router, host, port, idle_seconds)
        self.driver = Driver(self.workspace, bot_url, signing_secret, lambda: self.url)

    # -- running

    def start(self) -> int:
        self._server.start()
        return self.port

    def stop(self) -> None:
        self._server.stop()
        self.socket_mode.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def connections_accepted(self) -> int:
        """HTTP connections accepted since the start (a keep-alive client opens few)."""
        return self._server.connections_accepted

    @property
    def connections_open(self) -> int:
        return self._server.connections_open

    @property
    def url(self) -> str:
        return f"http://{self._public_host}:{self.port}"

    @property
    def api_url(self) -> str:
        """slack_sdk's WebClient base_url."""
        return f"{self.url}/api/"

    # -- faults

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """The next `times` calls of `method` ("*" for any, "response_url" for response URLs)
        answer `status`; a 429 carries Retry-After."""
        after = retry_after if status == 429 else None
        self.faults.add(method, Fault(status, after, 0.0, times))

    def slow_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` answer normally, after `seconds`."""
        self.faults.add(method, Fault(200, None, seconds, times))

    def answer_late_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` take effect at once (a message shows in the
        channel) and answer the caller after `seconds`, as over a slow way back."""
        self.faults.add(method, Fault(200, None, 0.0, times, answer_delay=seconds))

    # -- acting as Slack towards the bot (see Driver)

    def slash_command(
        self, user_id: str, channel_id: str, command: str = "/ops", text: str = ""
    ) -> BotResponse:
        return self.driver.slash_command(user_id, channel_id, command, text)

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
    ) -> BotResponse:
        return self.driver.click(user_id, channel_id, message_ts, action_id, value)

    def click_in_view(
        self, user_id: str, view_id: str, action_id: str, value: str | None = None
    ) -> BotResponse:
        return self.driver.click_in_view(user_id, view_id, action_id, value)

    def submit_view(
        self, user_id: str, view_id: str, values: dict[str, Any] | None = None
    ) -> BotResponse:
        return self.driver.submit_view(user_id, view_id, values)

    def open_home(self, user_id: str) -> BotResponse:
        return self.driver.open_home(user_id)

    def send_event(self, event: Json, event_id: str = "", retry_num: int = 0) -> BotResponse:
        return self.driver.send_event(event, event_id, retry_num)

    def tampered(self, how: Signing) -> Driver:
        """A driver whose requests carry a bad signature, a stale timestamp, or neither header."""
        return self.driver.tampered(how)

    def over_socket_mode(self, ack_seconds: float = ACK_SECONDS) -> Driver:
        """A driver that sends each request as an envelope on the app's Socket Mode connection
        and takes its ack, within `ack_seconds`, as the answer."""
        return self.driver.over(SocketModeTransport(self.socket_mode, ack_seconds))

    @property
    def socket_connections(self) -> int:
        """Open Socket Mode connections (the app is connected once this is above 0)."""
        return self.socket_mode.connections

    def issue_trigger(self, user_id: str) -> str:
        """A trigger id as Slack sends with an interaction, valid for 3 s."""
        with self.workspace.lock:
            return self.workspace.issue_trigger(user_id)

    # -- reading the state (copies: safe to keep and compare)

    def messages(self, channel_id: str) -> list[Json]:
        """Top-level messages of a channel, oldest first."""
        return self._read(lambda ws: ws.top_level(channel_id))

    def replies(self, channel_id: str, thread_ts: str) -> list[Json]:
        """Replies in a thread, oldest first, without the root."""
        return self._read(lambda ws: ws.replies(channel_id, thread_ts))

    def message(self, channel_id: str, ts: str) -> Json | None:
        return self._read(lambda ws: ws.find_message(channel_id, ts))

    def ephemerals(self, user_id: str, channel_id: str = "") -> list[Json]:
        return self._read(
            lambda ws: [
                m
                for m in ws.ephemerals.get(user_id, [])
                if not channel_id or m["channel"] == channel_id
            ]
        )

    def view(self, view_id: str) -> Json | None:
        """A view as last shown, with `closed` and the `errors` the bot asked Slack to show."""
        return self._read(
            lambda ws: ws.view_snapshot(ws.views[view_id]) if view_id in ws.views else None
        )

    def open_views(self, user_id: str) -> list[Json]:
        """The user's modal stack, bottom first."""
        return self._read(
            lambda ws: [ws.view_snapshot(ws.views[v]) for v in ws.modal_stacks.get(user_id, [])]
        )

    def home(self, user_id: str) -> Json | None:
        return self._read(
            lambda ws: ws.views[ws.homes[user_id]].body if user_id in ws.homes else None
        )

    def calls(self, method: str = "") -> list[ApiCall]:
        """Every Web API call (and response_url post), oldest first, optionally one method's."""
        return self._read(lambda ws: [c for c in ws.calls if not method or c.method == method])

    @property
    def problems(self) -> list[str]:
        """What Slack would have refused or shown the user as an error, in words."""
        return self._read(lambda ws: ws.problems)

    def state(self) -> Json:
        with self.workspace.lock:
            return self.workspace.snapshot()

    def _read(self, read: Callable[[Workspace], T]) -> T:
        with self.workspace.lock:
            return copy.deepcopy(read(self.workspace))
