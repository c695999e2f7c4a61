"""`[policy] export_first_verbs`: a prod plan the policy marks as risky is offered an export of
Firestore's current data in its thread; off by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.dev.local_google import LocalGoogleCerts
from gcp.emulator import Emulator
from tests.support.slack import ALICE, BOB, CAROL, click, plan, text_of, thread
from tests.support.stack import BOT_CONFIG_BASE, OPS_CHANNEL, Stack, start_stack

POLICY = BOT_CONFIG_BASE + '\n[policy]\nexport_first_verbs = ["rollback"]\n'


@pytest.fixture
def cautious(emulator: Emulator, tmp_path: Path, google: LocalGoogleCerts) -> Iterator[Stack]:
    """The bot with rollbacks marked as risky."""
    path = tmp_path / "bot.toml"
    path.write_text(POLICY)
    stack = start_stack(emulator, tmp_path, google, config_path=str(path))
    yield stack
    stack.stop()


def test_risky_prod_plan_offers_an_export_that_a_second_person_confirms(cautious: Stack) -> None:
    """The rollback's thread offers Export first; Bob's click plans it; Carol confirms it."""
    card = plan(cautious, "rollback fluxori-backend")
    offer = cautious.slack.replies(OPS_CHANNEL, card["ts"])[-1]
    assert "The policy marks `rollback` in prod as risky" in text_of(offer)
    assert cautious.slack.click(BOB, OPS_CHANNEL, offer["ts"], "db.export_first").status == 200
    cautious.idle()
    export_card = cautious.slack.replies(OPS_CHANNEL, card["ts"])[-1]
    assert "gcloud firestore export gs://fluxori-prod-backup/firestore/" in text_of(export_card)
    click(cautious, export_card, "action.confirm", CAROL)
    assert "Exported 7,440 documents" in thread(cautious, card)


def test_no_offer_by_default(stack: Stack) -> None:
    """Without the setting a prod plan's thread stays empty until it is confirmed."""
    card = plan(stack, "rollback fluxori-backend", ALICE)
    assert stack.slack.replies(OPS_CHANNEL, card["ts"]) == []
