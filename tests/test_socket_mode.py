"""`python -m bot socket` end to end: the bot, a real process, connects to the Slack emulator
over Socket Mode and gets commands and clicks as envelopes. Below that, the emulator's Socket
Mode server against slack_sdk's own client and against a raw RFC 6455 peer."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.dev.slack_emulator import SlackEmulator, websocket
from bot.dev.slack_emulator.transport import ACK_SECONDS
from bot.dev.slack_emulator.websocket import Frame
from gcp.emulator import Emulator
from tests.support.models import PROD_BACKEND
from tests.support.slack import text_of
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, eventually

APP_TOKEN = "xapp-1-A_OPS-1-test-app-token"
ALICE, BOB = "U_ALICE", "U_BOB"
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3
Json = dict[str, Any]


@dataclass
class SocketBot:
    slack: SlackEmulator
    process: subprocess.Popen[bytes]
    log: Path

    def connected(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the bot exited with {self.process.returncode}:\n{self.output}")
        return self.slack.socket_connections > 0

    @property
    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def socket_bot(emulator: Emulator, tmp_path: Path) -> Iterator[SocketBot]:
    """`python -m bot socket` against both emulators, connected; killed if a test left it."""
    slack = SlackEmulator(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    slack.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BOT_", "ALERTS_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.api_url,
        SLACK_OPS_CHANNEL=OPS_CHANNEL,
        GCP_EMULATOR_HOST=emulator.address,
        BOT_STORE=f"sqlite:{tmp_path / 'a.sqlite'}",
        LOG_LEVEL="INFO",
    )
    log = tmp_path / "socket.log"
    with log.open("wb") as output:
        command = [sys.executable, "-m", "bot", "socket"]
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    bot = SocketBot(slack, process, log)
    try:
        eventually(bot.connected, timeout=30, what="the bot's Socket Mode connection")
        yield bot
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        slack.stop()


def test_status_and_a_bad_command_over_socket_mode_then_sigint_stops_cleanly(
    socket_bot: SocketBot, emulator: Emulator
) -> None:
    """/ops status is acked within 3 s and answered in a thread with the serving revision; a
    bad command's ephemeral comes back in the ack's payload and Alice sees it. SIGINT ends
    the process with status 0 and closes the connection; nothing was logged above INFO."""
    slack = socket_bot.slack
    over_socket = slack.over_socket_mode()
    reply = over_socket.slash_command(ALICE, OPS_CHANNEL, text="status fluxori-backend --env prod")
    assert (reply.status, reply.failure) == (200, "")
    assert reply.elapsed < ACK_SECONDS
    answer = eventually(lambda: slack.messages(OPS_CHANNEL), what="the answer")[0]
    serving = next(iter(emulator.run.serving_split(PROD_BACKEND.name)))
    assert serving in text_of(answer)

    bad = over_socket.slash_command(ALICE, OPS_CHANNEL, text="bogus")
    assert bad.status == 200
    assert "`bogus` is not an /ops command" in bad.json()["text"]
    assert [m["text"] for m in slack.ephemerals(ALICE, OPS_CHANNEL)] == [bad.json()["text"]]
    assert len(slack.messages(OPS_CHANNEL)) == 1
    assert slack.problems == []

    socket_bot.process.send_signal(signal.SIGINT)
    assert socket_bot.process.wait(timeout=15) == 0
    eventually(lambda: slack.socket_connections == 0, what="the connection closed")
    lines = [json.loads(line) for line in socket_bot.output.splitlines() if line.startswith("{")]
    assert {"command_accepted", "command_rejected"} <= {line["message"] for line in lines}
    assert [line for line in lines if line["severity"] not in ("DEBUG", "INFO")] == []


def test_rollback_confirmed_over_socket_mode_moves_traffic(
    socket_bot: SocketBot, emulator: Emulator
) -> None:
    """Alice's /ops rollback posts a plan card; Bob's click on Confirm, also an envelope,
    moves 100% to the previous revision with one update."""
    slack = socket_bot.slack
    over_socket = slack.over_socket_mode()
    revisions = emulator.run.revisions(PROD_BACKEND.name)
    target = revisions[1].name.rsplit("/", 1)[-1]
    generation = emulator.run.get(PROD_BACKEND.name).generation
    rollback = "rollback fluxori-backend --env prod"
    assert over_socket.slash_command(ALICE, OPS_CHANNEL, text=rollback).status == 200
    card = eventually(
        lambda: [m for m in slack.messages(OPS_CHANNEL) if "action.confirm" in text_of(m)],
        what="plan card",
    )[0]
    assert target in text_of(card)

    assert over_socket.click(BOB, OPS_CHANNEL, card["ts"], "action.confirm").status == 200
    eventually(
        lambda: emulator.run.serving_split(PROD_BACKEND.name) == {target: 100},
        timeout=10,
        what="traffic on the previous revision",
    )
    eventually(
        lambda: (
            "Done: approved by <@U_BOB>" in text_of(slack.message(OPS_CHANNEL, card["ts"]) or {})
        ),
        what="the card marked done",
    )
    assert emulator.run.get(PROD_BACKEND.name).generation == generation + 1
    assert slack.problems == []


# -- the emulator's Socket Mode server, without the bot


Answer = Callable[[SocketModeRequest], Json | None]


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    emulator.start()
    yield emulator
    emulator.stop()


@contextmanager
def sdk_app(slack: SlackEmulator, answer: Answer) -> Iterator[SocketModeClient]:
    """slack_sdk's own Socket Mode client, connected, acking each envelope with `answer`."""
    web = WebClient(base_url=slack.api_url)
    client = SocketModeClient(APP_TOKEN, web_client=web, auto_reconnect_enabled=False)

    def on_request(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        payload = answer(request)
        client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload=payload))

    client.socket_mode_request_listeners.append(on_request)
    client.connect()
    try:
        eventually(lambda: slack.socket_connections == 1, what="connected")
        yield client
    finally:
        slack.socket_mode.stop()  # a close frame ends the client's read now, not after 3 s
        client.close()


def echo(request: SocketModeRequest) -> Json:
    return {"echo": request.payload["event"]["text"]}


@pytest.mark.parametrize("size", [1_000, 70_000])  # 16- and 64-bit lengths; pings are 7-bit
def test_envelope_and_ack_of_any_length_arrive_intact(slack: SlackEmulator, size: int) -> None:
    """An event of `size` characters reaches slack_sdk's client whole; its ack, masked by the
    client, echoes it back."""
    text = "é" + "x" * (size - 1)
    with sdk_app(slack, echo):
        reply = slack.over_socket_mode().send_event({"type": "app_mention", "text": text})
    assert (reply.status, reply.failure) == (200, "")
    assert reply.json() == {"echo": text}


def test_disconnect_message_makes_the_client_reconnect_with_a_new_ticket(
    slack: SlackEmulator,
) -> None:
    """Slack's `disconnect` (refresh_requested): a second apps.connections.open, the old
    connection closed, and envelopes go to the new one."""
    with sdk_app(slack, echo):
        slack.socket_mode.ask_to_reconnect()
        eventually(
            lambda: (slack.socket_mode.opened, slack.socket_connections) == (2, 1),
            what="a new connection, and the old one closed",
        )
        reply = slack.over_socket_mode().send_event({"type": "app_mention", "text": "again"})
    assert reply.json() == {"echo": "again"}
    assert len(slack.calls("apps.connections.open")) == 2


def test_view_submission_errors_in_the_ack_are_shown_in_the_modal(slack: SlackEmulator) -> None:
    """response_action "errors" in the ack payload is applied to the view as over HTTP."""
    errors = {"replicas": "Must be between 1 and 10."}
    web = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    view = web.views_open(trigger_id=slack.issue_trigger(ALICE), view=scale_form())["view"]
    with sdk_app(slack, lambda _: {"response_action": "errors", "errors": errors}):
        reply = slack.over_socket_mode().submit_view(ALICE, view["id"], {"replicas": "50"})
    assert reply.status == 200
    shown = slack.view(view["id"])
    assert shown is not None
    assert (shown["closed"], shown["errors"]) == (False, errors)
    assert slack.problems == []


def scale_form() -> Json:
    element = {"type": "plain_text_input", "action_id": "value"}
    return {
        "type": "modal",
        "callback_id": "scale",
        "title": {"type": "plain_text", "text": "Scale"},
        "submit": {"type": "plain_text", "text": "Plan"},
        "blocks": [
            {
                "type": "input",
                "block_id": "replicas",
                "label": {"type": "plain_text", "text": "Replicas"},
                "element": element,
            }
        ],
    }


def test_without_a_connection_or_an_ack_slack_reports_a_failure(slack: SlackEmulator) -> None:
    """No connection: status 0 at once. A connection that never acks: status 0 after the
    deadline. Both are recorded as problems, as Slack would show the user an error."""
    lonely = slack.over_socket_mode().slash_command(ALICE, OPS_CHANNEL, text="help")
    assert (lonely.status, lonely.failure) == (0, "no app is connected over Socket Mode")
    peer = RawPeer(open_url(slack))
    peer.receive()  # hello
    late = slack.over_socket_mode(ack_seconds=0.2).slash_command(ALICE, OPS_CHANNEL, text="help")
    assert (late.status, late.failure) == (0, "no ack over Socket Mode within 0.2 s")
    assert peer.receive_json()["type"] == "slash_commands"  # delivered, just never acked
    assert slack.problems == [
        "/ops help: no app is connected over Socket Mode",
        "/ops help: no ack over Socket Mode within 0.2 s",
    ]
    assert slack.ephemerals(ALICE) == []
    peer.close()


# -- RFC 6455 from a raw peer


class RawPeer:
    """A WebSocket client written from RFC 6455, to poke where slack_sdk's client does not."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((str(parts.hostname), int(parts.port or 80)), 5)
        self.sock.sendall(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.stream = self.sock.makefile("rb")
        self.status = int(self.stream.readline().split()[1])
        self.headers: dict[str, str] = {}
        while line := self.stream.readline().strip():
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def send(self, frame: Frame, mask: bytes = b"\x12\x34\x56\x78") -> None:
        self.sock.sendall(websocket.encode(frame, mask))

    def receive(self) -> Frame:
        return websocket.read_frame(websocket.exact_reader(self.stream), masked=False)

    def receive_json(self) -> Json:
        frame = self.receive()
        assert frame.opcode == websocket.TEXT
        message: Json = json.loads(frame.payload)
        return message

    def at_end(self) -> bool:
        return self.stream.read(1) == b""

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def open_url(slack: SlackEmulator) -> str:
    return str(WebClient(base_url=slack.api_url).apps_connections_open(app_token=APP_TOKEN)["url"])


def test_handshake_hello_ping_fragments_and_close(slack: SlackEmulator) -> None:
    """101 with the RFC's accept key, then hello; a ping is ponged; an ack split in two
    fragments with a ping between them is taken whole; a close is echoed and the
    connection ends."""
    url = open_url(slack)
    assert url.startswith("ws://127.0.0.1:")
    assert "app_id=A_OPS" in url
    peer = RawPeer(url)
    assert (peer.status, peer.headers["sec-websocket-accept"]) == (101, RFC_ACCEPT)
    hello = peer.receive_json()
    assert (hello["type"], hello["connection_info"]) == ("hello", {"app_id": "A_OPS"})
    peer.send(Frame(websocket.PING, b"are you there"))
    assert peer.receive() == Frame(websocket.PONG, b"are you there")

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(slack.over_socket_mode().send_event, {"type": "app_mention"})
        envelope = peer.receive_json()
        assert (envelope["type"], envelope["retry_attempt"]) == ("events_api", 0)
        ack = json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"ok": 1}}).encode()
        peer.send(Frame(websocket.TEXT, ack[:10], fin=False))
        peer.send(Frame(websocket.PING, b"between"))
        peer.send(Frame(websocket.CONTINUATION, ack[10:]))
        assert peer.receive() == Frame(websocket.PONG, b"between")
        assert pending.result(timeout=5).json() == {"ok": 1}

    peer.send(websocket.close_frame(1000, "bye"))
    assert peer.receive() == websocket.close_frame(1000)
    assert peer.at_end()
    eventually(lambda: slack.socket_connections == 0, what="connection forgotten")
    peer.close()


def test_a_ticket_admits_one_connection_only(slack: SlackEmulator) -> None:
    url = open_url(slack)
    peers = [RawPeer(url), RawPeer(url), RawPeer(url.replace("ticket=", "ticket=forged"))]
    assert [p.status for p in peers] == [101, 403, 403]
    for peer in peers:
        peer.close()


def test_unmasked_client_frame_is_a_protocol_error(slack: SlackEmulator) -> None:
    """RFC 6455 5.1: the server closes with 1002 when a client frame is not masked."""
    peer = RawPeer(open_url(slack))
    peer.receive()  # hello
    peer.send(Frame(websocket.TEXT, b"{}"), mask=b"")
    closing = peer.receive()
    assert (closing.opcode, closing.payload[:2]) == (websocket.CLOSE, b"\x03\xea")
    assert peer.at_end()
    peer.close()


@pytest.mark.parametrize(
    ("size", "header"), [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)]
)
def test_frames_round_trip_at_each_length_boundary(size: int, header: int) -> None:
    """7-, 16- and 64-bit payload lengths, unmasked (server) and masked (client)."""
    payload = (bytes(range(256)) * (size // 256 + 1))[:size]
    for mask in (b"", b"\x01\x02\x03\x04"):
        wire = websocket.encode(Frame(websocket.TEXT, payload), mask)
        assert len(wire) == header + len(mask) + size
        stream = io.BytesIO(wire)
        read = websocket.exact_reader(stream)
        assert websocket.read_frame(read, masked=bool(mask)) == Frame(websocket.TEXT, payload)
        assert stream.read() == b""


def test_apps_connections_open_takes_the_app_token_only(slack: SlackEmulator) -> None:
    """The app-level token opens a URL; the bot token is the wrong type, an unknown xapp-
    token is invalid_auth, no token is not_authed; the app token cannot post messages."""

    def error(token: str, method: str = "apps.connections.open") -> str:
        with pytest.raises(SlackApiError) as raised:
            WebClient(token=token, base_url=slack.api_url).api_call(method, params={"text": "x"})
        return str(raised.value.response["error"])

    assert open_url(slack).startswith("ws://")
    assert error(BOT_TOKEN) == "not_allowed_token_type"
    assert error("xapp-1-A_OPS-1-someone-else") == "invalid_auth"
    assert requests.post(f"{slack.api_url}apps.connections.open", timeout=5).json()["error"] == (
        "not_authed"
    )
    assert error(APP_TOKEN, "chat.postMessage") == "not_allowed_token_type"
    assert [c.ok for c in slack.calls("apps.connections.open")] == [True, False, False, False]
