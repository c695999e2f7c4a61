"""Property-based fuzzing: any text, interactive payload or push body gets a clear answer,
never a 5xx or an unhandled exception."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from bot.dev.local_google import LocalGoogleCerts
from bot.registry import parse
from gcp.emulator import Emulator
from handlers.commands import UsageError
from handlers.config import FLUXORI_DEFAULTS
from tests.support.stack import SIGNING_SECRET, Stack, start_stack

WORDS = st.sampled_from(
    [
        "status",
        "rollback",
        "scale",
        "logs",
        "errors",
        "history",
        "rotate-secret",
        "fluxori-backend",
        "--env",
        "prod",
        "--since",
        "1h",
        "--limit",
        "5",
        "min=2",
        "memory=2Gi",
        "--to",
        '"',
        "'",
        "<@U1>",
        "=",
        "--",
    ]
)
TEXTS = st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=8).map(" ".join))
FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(TEXTS)
@settings(max_examples=500, deadline=None)
def test_parser_accepts_or_explains(text: str) -> None:
    """The parser returns a command or a UsageError with a message; nothing else escapes."""
    outcome: object
    try:
        outcome = parse(text, FLUXORI_DEFAULTS).verb
    except UsageError as err:
        outcome = str(err).strip()
    assert outcome


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One bot for the module (fuzzing is read-mostly)."""
    emulator = Emulator(seed="fluxori")
    emulator.start()
    google = LocalGoogleCerts()
    stack = start_stack(emulator, Path(tmp_path_factory.mktemp("fuzz")), google)
    yield stack
    stack.stop()
    google.stop()
    emulator.stop(grace=None)


def signed_post(stack: Stack, body: bytes, content_type: str) -> requests.Response:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
        timestamp=timestamp, body=body.decode()
    )
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return requests.post(f"{stack.url}/slack/events", data=body, headers=headers, timeout=10)


@given(TEXTS)
@FAST
def test_slash_command_text_never_breaks_the_bot(fuzz_stack: Stack, text: str) -> None:
    """Any command text over HTTP: 200, and a message when it was not understood."""
    reply = fuzz_stack.slack.slash_command("U_ALICE", "C_OPS", text=text)
    assert reply.status == 200
    fuzz_stack.idle()


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
PAYLOADS = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "nonsense"]),
            "actions": st.lists(
                st.fixed_dictionaries(
                    {
                        "action_id": st.sampled_from(
                            ["action.confirm", "action.cancel", "alert.ack", "alert.rollback", "x"]
                        ),
                        "value": st.text(max_size=40),
                    }
                ),
                max_size=2,
            ),
            "user": st.fixed_dictionaries({"id": st.sampled_from(["U_ALICE", "U_BOB", ""])}),
            "view": JSONISH,
        }
    ),
)


@given(PAYLOADS)
@FAST
def test_interactive_payloads_never_5xx(fuzz_stack: Stack, payload: object) -> None:
    """Signed but arbitrary interaction payloads are answered without a server error."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    reply = signed_post(fuzz_stack, body, "application/x-www-form-urlencoded")
    assert reply.status_code < 500
    fuzz_stack.idle()


@given(st.one_of(st.binary(max_size=300), JSONISH.map(lambda v: json.dumps(v).encode())))
@FAST
def test_push_bodies_never_5xx(fuzz_stack: Stack, body: bytes) -> None:
    """Authenticated but arbitrary push bodies are acknowledged with a reason, never a 5xx."""
    reply = requests.post(
        f"{fuzz_stack.url}/pubsub/alerts",
        data=body,
        headers={"Authorization": f"Bearer {fuzz_stack.google.mint()}"},
        timeout=10,
    )
    assert reply.status_code < 500
    assert reply.text
