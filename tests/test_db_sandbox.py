"""The database chapter in the sandbox and in `/ops help`: the Google Cloud panel shows each
project's indexes and exports, and the bot's child process reaches the emulated bucket."""

from __future__ import annotations

import json

import requests

from tests.support.slack import ALICE, text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually, running_sandbox

DATABASE_VERBS = ("indexes", "create-index", "delete-index", "backups", "export", "restore")


def test_help_lists_the_database_verbs(stack: Stack) -> None:
    """`/ops help` lists each database verb with its usage, changes marked with a lock."""
    body = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="help").json()
    listed = json.dumps(body["blocks"])
    for verb in DATABASE_VERBS:
        assert f"`/ops {verb}" in listed
    assert "restore DATE [--collections a,b]` :lock:" in listed


def test_sandbox_panel_shows_indexes_and_exports_and_backups_answers() -> None:
    """The panel's JSON has prod's ready indexes and dated exports; `/ops backups` answers."""
    with running_sandbox() as box:
        url = box.slack.url
        prod = requests.get(f"{url}/_sandbox/gcp", timeout=5).json()["databases"]["fluxori-prod"]
        assert {i["collection"] for i in prod["indexes"]} == {"orders", "products"}
        assert {i["state"] for i in prod["indexes"]} == {"ready"}
        assert len(prod["exports"]) == 2
        assert all(e["complete"] for e in prod["exports"])
        sent = {"user": "U_ALICE", "text": "/ops backups --env dev"}
        assert requests.post(f"{url}/_sandbox/command", json=sent, timeout=10).status_code == 200

        def answered() -> str:
            roots = box.slack.messages("C_OPS")
            if not roots or "/ops backups" not in text_of(roots[-1]):
                return ""
            return text_of(roots[-1])

        answer = eventually(answered, timeout=10.0, what="the backups answer")
        assert "older than 48 h" in answer
