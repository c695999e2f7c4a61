"""Changes that never make things worse: a rollback means another image, a roll forward is
checked (gradually, with a canary), and secret versions and the revisions pinning them agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import grpc
from google.cloud import run_v2

from bot.changes import verify
from bot.changes.admission import ChangeRequest, handle
from bot.runtime.jobs import Job
from bot.store import State
from gcp.emulator.run_seed import HEALTHY
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    BOB,
    action_id_of,
    click,
    plan,
    previous_revision,
    serving,
    text_of,
    thread,
    thread_messages,
)
from tests.support.stack import OPS_CHANNEL, Stack, change_out_of_band

PROJECT = PROD_BACKEND.project


def later(stack: Stack, seconds: float) -> None:
    """Time passes for the bot and for Google (Cloud Run's split history, Monitoring's clock)."""
    stack.gcp.monitoring.observe()  # the metrics pipeline has seen the split so far
    stack.advance(seconds)
    for part in (stack.gcp.run, stack.gcp.monitoring):
        part.clock = _shifted(part.clock, seconds)


def _shifted(clock: Callable[[], datetime], seconds: float) -> Callable[[], datetime]:
    return lambda: clock() + timedelta(seconds=seconds)


def run_check(stack: Stack, card: dict[str, object]) -> None:
    """The check job, as its timer would send it once the watch window has passed."""
    later(stack, stack.bot.deps.config.rollback_watch_seconds + 60)
    stack.bot.deps.queue.submit(Job(verify.JOB_KIND, {"action_id": action_id_of(card)}))
    stack.idle()


def rolled_back(stack: Stack) -> str:
    """Roll prod backend back (Alice plans, Bob confirms); the revision rolled away from."""
    newest = previous_revision(stack, 0)
    click(stack, plan(stack, "rollback fluxori-backend"), "action.confirm", BOB)
    assert newest not in serving(stack)
    return newest


def test_roll_forward_returns_traffic_to_the_latest_revision(stack: Stack) -> None:
    """After a rollback, roll-forward plans the latest Ready revision with its image; confirmed,
    traffic follows the latest revision again (future deploys take it)."""
    newest = rolled_back(stack)
    card = plan(stack, "roll-forward fluxori-backend")
    assert f"Roll forward fluxori-backend to {newest}" in text_of(card)
    assert "*Image*" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == {newest: 100}
    traffic = stack.gcp.run.get(PROD_BACKEND.name).traffic
    latest = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
    assert [t.percent for t in traffic if t.type_ == latest] == [100]


def test_canary_roll_forward_moves_a_share_checks_it_and_offers_the_rest(stack: Stack) -> None:
    """--canary 10 moves 10%; when the 5xx rate and latency are no worse, Continue plans the
    rest, which a second person confirms."""
    newest = previous_revision(stack, 0)
    stack.gcp.run.set_health(PROD_BACKEND.name, newest, HEALTHY)
    rolled_back(stack)
    older = next(iter(serving(stack)))
    later(stack, 600)
    card = plan(stack, "roll-forward fluxori-backend --canary 10")
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == {newest: 10, older: 90}
    assert "I will compare the 5xx rate" in thread(stack, card)
    run_check(stack, card)
    assert "canary is no worse" in thread(stack, card)
    check = thread_messages(stack, card, "action.continue")[-1]
    stack.slack.click(ALICE, OPS_CHANNEL, check["ts"], "action.continue")
    stack.idle()
    rest = thread_messages(stack, card, "Plan: Roll forward")[-1]
    stack.slack.click(BOB, OPS_CHANNEL, rest["ts"], "action.confirm")
    stack.idle()
    assert serving(stack) == {newest: 100}


def test_canary_on_a_bad_revision_advises_undo_and_offers_no_continue(stack: Stack) -> None:
    """The seed's newest revision is unhealthy: its canary reads worse, and the thread offers
    Undo, not the rest of the traffic."""
    rolled_back(stack)
    later(stack, 600)
    card = plan(stack, "roll-forward fluxori-backend --canary 20")
    click(stack, card, "action.confirm", BOB)
    run_check(stack, card)
    text = thread(stack, card)
    assert "Worse after the roll forward" in text
    assert "action.undo" in text
    assert "action.continue" not in text


def test_a_rollback_skips_revisions_running_the_serving_image(stack: Stack) -> None:
    """After a resize the newest revision runs the same image as the one before: a rollback
    goes past both to the previous image, and its plan says which it skipped."""
    resize = plan(stack, "scale fluxori-backend memory=2Gi")
    click(stack, resize, "action.confirm", BOB)
    card = plan(stack, "rollback fluxori-backend")
    text = text_of(card)
    assert "Skipped" in text
    assert "same image as now" in text
    target = str(card["text"]).rsplit(" ", 1)[-1]
    revisions = {r.name.rsplit("/", 1)[-1]: r for r in stack.gcp.run.revisions(PROD_BACKEND.name)}
    serving_now = next(iter(serving(stack)))
    assert revisions[target].containers[0].image != revisions[serving_now].containers[0].image


def test_disabled_secret_version_blocks_a_rollback_to_revisions_pinning_it(stack: Stack) -> None:
    """Rotate, disable the old version, then roll back: the older revisions pin the disabled
    version and could not start, so the rollback is refused with the fix."""
    card = plan(stack, "rotate-secret")
    click(stack, card, "action.confirm", BOB)
    result = thread_messages(stack, card, "action.disable_old_version")[-1]
    stack.slack.click(ALICE, OPS_CHANNEL, result["ts"], "action.disable_old_version")
    stack.idle()
    disable = thread_messages(stack, card, "Disable jwt-secret version 3")[-1]
    assert "could not start again" in text_of(disable)
    click(stack, disable, "action.confirm", BOB)
    assert ("3", "DISABLED") in stack.gcp.secrets.versions(PROJECT, "jwt-secret")
    before = serving(stack)
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="rollback fluxori-backend")
    stack.idle()
    private = text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert "`jwt-secret` version 3 (disabled)" in private
    assert "Enable the version again" in private
    assert serving(stack) == before


def test_disabling_a_version_a_serving_revision_pins_is_refused(stack: Stack) -> None:
    """Version 3 is what the serving backend revision pins: disabling it is refused."""
    before = stack.gcp.secrets.versions(PROJECT, "jwt-secret")
    deps = stack.bot.deps
    request = ChangeRequest(
        "disable-secret-version",
        "prod",
        "jwt-secret",
        ALICE,
        OPS_CHANNEL,
        "disable-old",
        params={"version": "3"},
    )
    handle(request, deps)
    stack.idle()
    assert stack.gcp.secrets.versions(PROJECT, "jwt-secret") == before
    assert "still serve with `jwt-secret` version 3" in deps.store.refusals(1)[0]["detail"]


def test_rotation_after_a_rollback_keeps_the_rolled_back_image(stack: Stack) -> None:
    """Roll back, then rotate jwt-secret: the new revision is built from the revision serving,
    so the image rolled away from does not come back."""
    rolled_back(stack)
    (pinned,) = serving(stack)
    image = revision_image(stack, pinned)
    card = plan(stack, "rotate-secret")
    assert "keeps serving" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    (now_serving,) = serving(stack)
    assert now_serving != pinned
    assert revision_image(stack, now_serving) == image


def test_rotation_is_refused_while_traffic_is_split(stack: Stack) -> None:
    """A 90/10 canary is running: a rotation would replace only one side, so it says why."""
    rolled_back(stack)
    click(stack, plan(stack, "roll-forward fluxori-backend --canary 10"), "action.confirm", BOB)
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="rotate-secret")
    stack.idle()
    private = text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert "is split" in private
    assert "Finish the split first" in private


def revision_image(stack: Stack, name: str) -> str:
    revision = next(r for r in stack.gcp.run.revisions(PROD_BACKEND.name) if r.name.endswith(name))
    return str(revision.containers[0].image)


def test_cloud_run_judges_each_plan_in_a_dry_run(stack: Stack) -> None:
    """The plan card says Cloud Run accepted the exact update (validate_only), and nothing
    changed; when Cloud Run refuses the dry run, its reason is the refusal and no plan is made."""
    before = (serving(stack), len(stack.gcp.run.revisions(PROD_BACKEND.name)))
    card = plan(stack, "scale fluxori-backend memory=2Gi")
    assert "Cloud Run accepted this exact change in a dry run" in text_of(card)
    assert (serving(stack), len(stack.gcp.run.revisions(PROD_BACKEND.name))) == before
    stack.gcp.faults.inject(
        "UpdateService", code=grpc.StatusCode.INVALID_ARGUMENT, message="memory quota exceeded"
    )
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="rollback fluxori-backend")
    stack.idle()
    private = text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert "Cloud Run refused this change in a dry run: memory quota exceeded" in private
    assert len([m for m in stack.slack.messages(OPS_CHANNEL) if "Plan:" in text_of(m)]) == 1


def test_an_out_of_band_change_is_caught_even_when_cloud_run_ignores_etags(stack: Stack) -> None:
    """Someone scales the service with Google's client between plan and confirm, and Cloud Run
    does not enforce etags: the re-read right before the update catches it, nothing is sent."""
    stack.gcp.run.enforce_etags = False
    before = serving(stack)
    card = plan(stack, "rollback fluxori-backend")
    change_out_of_band(stack, PROD_BACKEND, 4)
    click(stack, card, "action.confirm", BOB)
    assert serving(stack) == before
    assert "modified after this plan was made" in thread(stack, card)
    assert "instances" in thread(stack, card)


def test_a_change_that_fails_after_cloud_run_accepted_it_says_what_serves_now(
    stack: Stack,
) -> None:
    """The resized revision never starts: Cloud Run took the update, then failed. The thread
    says so, shows what the service serves now, and the record is failed, not succeeded."""
    before = serving(stack)
    card = plan(stack, "scale fluxori-backend memory=2Gi")
    stack.gcp.run.fail_next_revision("container exited with code 1")
    click(stack, card, "action.confirm", BOB)
    text = thread(stack, card)
    assert "Failed after Cloud Run accepted it" in text
    assert "The service now" in text
    assert serving(stack) == before
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert record.state is State.FAILED


def test_the_scale_form_reports_every_problem_at_once(stack: Stack) -> None:
    """Traffic is split: a memory edit and an impossible max are both reported beside their
    fields in one answer, not in two rounds."""
    rolled_back(stack)
    click(stack, plan(stack, "roll-forward fluxori-backend --canary 10"), "action.confirm", BOB)
    stack.slack.slash_command(ALICE, OPS_CHANNEL, text="scale fluxori-backend")
    stack.idle()
    view = stack.slack.open_views(ALICE)[-1]
    assert "Traffic is split" in text_of(view)
    reply = stack.slack.submit_view(ALICE, view["id"], {"memory": "2Gi", "max": "0"}).json()
    assert reply["response_action"] == "errors"
    assert sorted(reply["errors"]) == ["max", "memory"]
