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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.dev.slack_emulator import SlackEmulator
from bot.slack.keepalive import KeepAliveWebClient
from bot.slack.messenger import outbox_client, web_client
from bot.slack.pacing import Pacer
from tests.support.stack import eventually

TOKEN = "xoxb-keepalive-test-token"
UNPACED = Pacer(scale=1000)  # connection reuse, not Slack's budget, is under test here


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


class _TlsSlack(ThreadingHTTPServer):
    """chat.postMessage over TLS with a self-signed certificate for 127.0.0.1."""

    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _OkHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.accepted = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1
        super().process_request(request, client_address)


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


@pytest.fixture
def tls_slack(tmp_path: Path) -> Iterator[tuple[_TlsSlack, Path]]:
    cert, key = self_signed(tmp_path)
    server = _TlsSlack(cert, key)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()
    yield server, cert
    server.shutdown()
    server.server_close()


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
