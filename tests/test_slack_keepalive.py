"""The keep-alive Slack client (bot/slack/keepalive.py) against the Slack emulator over HTTP: one
connection carries many calls, a connection the server closed is replaced, slack_sdk's errors
and retry handlers behave as with its own client, TLS certificates are verified."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import URLError

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.dev.slack_emulator import SlackEmulator
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.messenger import outbox_client, web_client
from bot.slack.pacing import Pacer
from tests.support.stack import eventually

TOKEN = "xoxb-keepalive-test-token"
UNPACED = Pacer(scale=1000)  # connection reuse, not Slack's budget, is under test here
ServerT = TypeVar("ServerT", bound=ThreadingHTTPServer)


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator(bot_token=TOKEN, idle_seconds=0.2)
    emulator.start()
    yield emulator
    emulator.stop()


def post(client: WebClient, text: str = "hello") -> str:
    return str(client.chat_postMessage(channel="C_OPS", text=text)["ts"])


def texts(slack: SlackEmulator) -> list[str]:
    return [m.get("text", "") for m in slack.messages("C_OPS")]


def test_calls_from_one_thread_share_one_connection(slack: SlackEmulator) -> None:
    """Twenty posts from one thread are all made, over a single connection."""
    client = web_client(TOKEN, slack.api_url, UNPACED)
    for n in range(20):
        post(client, f"post {n}")
    assert texts(slack) == [f"post {n}" for n in range(20)]
    assert slack.connections_accepted == 1


def test_each_thread_has_its_own_connection(slack: SlackEmulator) -> None:
    """Three threads posting five times each open three connections, not fifteen."""
    client = web_client(TOKEN, slack.api_url, UNPACED)

    def five(thread: int) -> None:
        for n in range(5):
            post(client, f"{thread}-{n}")

    threads = [threading.Thread(target=five, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(texts(slack)) == 15
    assert slack.connections_accepted == 3


def test_a_connection_the_server_closed_when_idle_is_replaced(slack: SlackEmulator) -> None:
    """After the server closes an idle connection, the next post goes out on a new one,
    once."""
    client = outbox_client(TOKEN, slack.api_url)
    post(client, "before")
    eventually(lambda: slack.connections_open == 0, what="the idle connection closed")
    post(client, "after")
    assert texts(slack) == ["before", "after"]
    assert slack.connections_accepted == 2


def test_a_429_is_slack_api_error_with_retry_after(slack: SlackEmulator) -> None:
    """Without a rate-limit handler a 429 surfaces as SlackApiError with status 429 and the
    Retry-After header; the connection then carries the next call."""
    client = outbox_client(TOKEN, slack.api_url)
    slack.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        post(client)
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "7"
    post(client, "next")
    assert texts(slack) == ["next"]
    assert slack.connections_accepted == 1


def test_retry_handlers_still_run(slack: SlackEmulator) -> None:
    """A retry handler (slack_sdk's ServerErrorRetryHandler) retries a 500: one message."""
    retry = ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))
    client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[retry])
    slack.fail_next("chat.postMessage", 500)
    post(client, "once")
    assert texts(slack) == ["once"]


def test_a_json_call_answers_as_slack_sdks_own_client(slack: SlackEmulator) -> None:
    """The shortcut for JSON calls gives what slack_sdk's WebClient gives for the same call:
    the answer's data, status and headers, and SlackApiError for an answer that is not ok."""
    ours = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url)
    theirs = WebClient(token=TOKEN, base_url=slack.api_url)
    answers = [c.chat_postMessage(channel="C_OPS", text="same") for c in (ours, theirs)]
    assert [a.status_code for a in answers] == [200, 200]
    assert set(answers[0].data) == set(answers[1].data)
    assert answers[0].headers["Content-Type"] == answers[1].headers["Content-Type"]
    assert answers[0].api_url == answers[1].api_url
    for client in (ours, theirs):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C_NOWHERE", text="lost")
        assert refused.value.response["error"] == "channel_not_found"
    assert texts(slack) == ["same", "same"]


@pytest.mark.parametrize(
    ("status", "handler"),
    [
        (429, RateLimitErrorRetryHandler(1)),
        (500, ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))),
        (503, ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))),
    ],
)
def test_a_failed_first_attempt_is_retried_by_slack_sdk_once(
    slack: SlackEmulator, status: int, handler: RetryHandler
) -> None:
    """The first attempt's error answer goes to slack_sdk's retry handlers, which send the
    call once more: one message, two calls seen by Slack."""
    client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[handler])
    slack.fail_next("chat.postMessage", status, retry_after=0)
    post(client, "once")
    assert texts(slack) == ["once"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [status, 200]


def test_a_connection_lost_on_the_first_attempt_is_retried() -> None:
    """The server hangs up on the first attempt without answering; slack_sdk's
    ConnectionErrorRetryHandler sends the call again, on a new connection, and it succeeds."""
    _HangUpOnce.requests = 0
    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), _HangUpOnce)) as server:
        assert post(_retrying_client(server)) == "1.000001"
    assert _HangUpOnce.requests == 2


def test_a_server_that_hangs_up_after_each_answer_loses_no_call() -> None:
    """A server closes every connection right after its answer, without saying so: the next
    call, made at once, finds the connection gone and is sent again on a new one (slack_sdk's
    ConnectionErrorRetryHandler, which every client of the bot has)."""
    with _serving(ThreadingHTTPServer(("127.0.0.1", 0), _HangUpAfterAnswer)) as server:
        client = _retrying_client(server)
        assert [post(client, f"call {n}") for n in range(5)] == ["1.000001"] * 5


_OK = b'{"ok": true, "channel": "C_OPS", "ts": "1.000001"}'
FRAMINGS = {
    "a length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_OK), _OK),
    "lines ending in LF alone": b"HTTP/1.1 200 OK\nContent-Length: %d\n\n%s" % (len(_OK), _OK),
    "100 Continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_OK), _OK),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"%x\r\n%s\r\n0\r\n\r\n" % (len(_OK), _OK),
}


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("pieces", [1, 7], ids=["in one write", "in pieces"])
def test_answers_framed_as_http_allows_are_read_whole(framing: str, pieces: int) -> None:
    """RFC 9112 answers however they are framed, and whether they arrive in one piece or
    several: two calls on one connection both get their ts, so no byte of the first answer
    was left behind (or read ahead) for the second."""
    answer = FRAMINGS[framing]

    class Canned(_OkHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            step = -(-len(answer) // pieces)
            for start in range(0, len(answer), step):
                self.wfile.write(answer[start : start + step])
                self.wfile.flush()

    with _serving(_CountingServer(("127.0.0.1", 0), Canned)) as server:
        client = _retrying_client(server)
        assert [post(client, "first"), post(client, "second")] == ["1.000001"] * 2
    assert server.accepted == 1


def _retrying_client(server: ThreadingHTTPServer) -> KeepAliveWebClient:
    """A client of `server` that retries a lost connection once, at once."""
    retry = ConnectionErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))
    url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    return KeepAliveWebClient(token=TOKEN, base_url=url, retry_handlers=[retry])


class _RetryEvery200Once(RetryHandler):
    """A handler of the application's own that retries a 2xx answer (once)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 200


def test_a_handler_that_retries_2xx_answers_sees_them(slack: SlackEmulator) -> None:
    """With a retry handler slack_sdk does not ship, every answer goes through slack_sdk's
    own loop, so that handler retries the 2xx answer as it would with WebClient."""
    retry = _RetryEvery200Once(1, FixedValueRetryIntervalCalculator(0.01))
    client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[retry])
    post(client, "twice")
    assert texts(slack) == ["twice", "twice"]


def test_the_clients_timeout_is_honoured(slack: SlackEmulator) -> None:
    """A call slower than the client's timeout raises TimeoutError; the next call works."""
    client = KeepAliveWebClient(token=TOKEN, base_url=slack.api_url, timeout=0.1)
    post(client, "warm")
    slack.slow_next("chat.postMessage", 0.5)
    with pytest.raises(TimeoutError):
        post(client, "slow")
    client.timeout = 5
    post(client, "after")
    assert texts(slack)[-1] == "after"


def test_a_proxy_is_used_when_set(slack: SlackEmulator) -> None:
    """With `proxy` set the call goes to the proxy with the absolute URL (here the emulator
    acts as the proxy, for a host that does not resolve)."""
    client = KeepAliveWebClient(
        token=TOKEN, base_url="http://slack.invalid/api/", proxy=slack.url, timeout=5
    )
    post(client, "via proxy")
    assert texts(slack) == ["via proxy"]


def test_a_header_with_a_line_break_is_refused(slack: SlackEmulator) -> None:
    """A token carrying a line break (a header injection) raises before anything is sent."""
    client = KeepAliveWebClient(token=f"{TOKEN}\r\nX-Injected: 1", base_url=slack.api_url)
    with pytest.raises(ValueError, match="control character"):
        post(client)
    assert slack.connections_accepted == 0


class _CountingServer(ThreadingHTTPServer):
    """A test server that counts the connections it accepts."""

    accepted = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1
        super().process_request(request, client_address)


class _TlsSlack(_CountingServer):
    """chat.postMessage over TLS with a self-signed certificate for 127.0.0.1."""

    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _OkHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)


class _OkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": True, "channel": "C_OPS", "ts": "1.000001"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HangUpOnce(_OkHandler):
    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        if type(self).requests == 1:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.close_connection = True  # no answer at all
            return
        super().do_POST()


class _HangUpAfterAnswer(_OkHandler):
    def do_POST(self) -> None:
        super().do_POST()
        self.close_connection = True  # no "Connection: close": the client is not told


@contextmanager
def _serving(server: ServerT) -> Iterator[ServerT]:
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_slack(tmp_path: Path) -> Iterator[tuple[_TlsSlack, Path]]:
    cert, key = self_signed(tmp_path)
    with _serving(_TlsSlack(cert, key)) as server:
        yield server, cert


def test_tls_certificates_are_verified(tls_slack: tuple[_TlsSlack, Path]) -> None:
    """An https server whose certificate is not trusted is refused before any request; one
    trusted through the client's `ssl` context serves two calls on one connection."""
    server, cert = tls_slack
    url = f"https://127.0.0.1:{server.server_address[1]}/api/"
    with pytest.raises(URLError) as refused:
        post(KeepAliveWebClient(token=TOKEN, base_url=url, timeout=5, retry_handlers=[]))
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    trusted = KeepAliveWebClient(
        token=TOKEN, base_url=url, timeout=5, ssl=ssl.create_default_context(cafile=cert)
    )
    assert post(trusted) == post(trusted) == "1.000001"
    assert server.accepted == 1  # one connection for both calls (the refused one never was)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, and the key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
