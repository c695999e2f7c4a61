"""`/ops slo-goal`: an SLO's goal and rolling window as a confirmed change, end to end over
signed HTTP requests, with the official Monitoring client against gcp/emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import monitoring_v3
from google.cloud.monitoring_v3.services.service_monitoring_service import (
    ServiceMonitoringServiceClient,
)
from google.cloud.monitoring_v3.services.service_monitoring_service.transports import (
    ServiceMonitoringServiceGrpcTransport,
)

from bot import registry
from bot.changes import planning
from bot.dev.sandbox import gcp_state
from bot.store import State
from gcp.clients import Clients
from gcp.emulator.monitoring import SLO_ID
from gcp.monitoring import MonitoringAdapter
from tests.support.models import PROD_BACKEND
from tests.support.slack import (
    ALICE,
    BOB,
    action_id_of,
    click,
    ephemeral,
    plan,
    run,
    text_of,
    thread,
)
from tests.support.stack import OPS_CHANNEL, Stack

SLO = f"projects/fluxori-prod/services/fluxori-backend/serviceLevelObjectives/{SLO_ID}"


@pytest.fixture
def official(clients: Clients) -> Any:
    """Google's ServiceMonitoringServiceClient on the emulator: an independent reader."""
    return clients.build(ServiceMonitoringServiceClient, ServiceMonitoringServiceGrpcTransport)


def held(official: Any, name: str = SLO) -> tuple[float, timedelta]:
    """The goal and rolling window the emulator holds, read with the official client."""
    slo = official.get_service_level_objective(name=name)
    return round(slo.goal, 6), slo.rolling_period


def update(official: Any, paths: list[str], **fields: Any) -> Any:
    slo = monitoring_v3.ServiceLevelObjective(name=fields.pop("name", SLO), **fields)
    request = {"service_level_objective": slo, "update_mask": {"paths": paths}}
    return official.update_service_level_objective(request=request)


def test_prod_goal_change_is_confirmed_by_a_second_person(stack: Stack, official: Any) -> None:
    """Alice plans, her own Confirm is refused, Bob confirms: Monitoring and `/ops slo` agree."""
    card = plan(stack, "slo-goal fluxori-backend --goal 80 --window 7d")
    shown = text_of(card)
    assert "*Goal*: `99%` → `80%`" in shown
    assert "*Rolling window*: `1d` → `7d`" in shown
    assert "compliance *99.028%" in shown  # the seed's prod incident: a day at 99.03%
    assert "Under 80% over 7d: error budget left *95.1%" in shown
    assert "bad requests of the" in shown
    assert "would be exhausted" not in shown
    click(stack, card, "action.confirm", ALICE)
    assert "second person" in text_of(stack.slack.ephemerals(ALICE, OPS_CHANNEL)[-1])
    assert held(official) == (0.99, timedelta(days=1))
    click(stack, card, "action.confirm", BOB)
    assert held(official) == (0.8, timedelta(days=7))
    result = thread(stack, card)
    assert "is now 80% over 7d (was 99% over 1d)" in result
    assert f"`/ops slo-goal fluxori-backend {SLO_ID} --goal 99 --window 1d --env prod`" in result
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert (record.state, record.requested_by, record.approved_by) == (State.SUCCEEDED, ALICE, BOB)
    _, answer = run(stack, "slo fluxori-backend", user=BOB)
    assert "goal 80% over 7d" in answer
    assert "error budget left *" in answer
    _, history = run(stack, "history fluxori-backend", user=BOB)
    assert "Goal: `99%` → `80%`" in history


def test_sandbox_google_cloud_view_shows_each_services_slo(stack: Stack) -> None:
    """The sandbox's Google Cloud panel lists the SLO with the goal Monitoring holds."""
    card = plan(stack, "slo-goal fluxori-backend --goal 97 --window 28d")
    click(stack, card, "action.confirm", BOB)
    slos = {s["name"]: s["slos"] for s in gcp_state(stack.gcp)["services"]}
    backend = "locations/africa-south1/services/fluxori-backend"
    assert slos[f"projects/fluxori-prod/{backend}"] == [f"{SLO_ID} 97% over 28d"]
    assert slos[f"projects/fluxori-dev/{backend}"] == [f"{SLO_ID} 99% over 1d"]


def test_help_lists_slo_goal_as_a_change(stack: Stack) -> None:
    """`/ops help` shows the verb, its grammar and that it is planned and confirmed."""
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text="help")
    listed = text_of(reply.json())
    assert "`/ops slo-goal SERVICE [SLO] --goal 99.5 [--window 28d]` :lock:" in listed


def test_a_goal_above_compliance_warns_that_the_budget_is_exhausted(stack: Stack) -> None:
    """99.5% against 99.03% compliance: the card says the budget would be exhausted."""
    shown = text_of(plan(stack, "slo-goal fluxori-backend --goal 99.5"))
    assert "*Goal*: `99%` → `99.5%`" in shown
    assert "Rolling window" not in shown
    assert "The error budget would be exhausted" in shown
    assert "is below the new goal 99.5%" in shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("--goal 100", "at most 99.99%"),
        ("--goal 0", "above 0%"),
        ("--goal high", "is not a percentage"),
        ("--goal 0.995", "Did you mean `--goal 99.5`?"),
        ("--window 45d", "whole days from 1 to 30"),
        ("--window 36h", "whole days from 1 to 30"),
        ("", "needs `--goal` or `--window`"),
        ("latency-p95 --goal 99.5", f"has no SLO `latency-p95`. Its SLOs: `{SLO_ID}`"),
        ("--goal 99 --window 1d", "already is 99% over 1d"),
    ],
)
def test_bad_goal_window_or_slo_is_refused_and_nothing_changes(
    stack: Stack, official: Any, text: str, says: str
) -> None:
    """Each bad request gets its reason, privately; no card is posted and the SLO stays."""
    assert says in ephemeral(stack, f"slo-goal fluxori-backend {text}")
    assert stack.slack.messages(OPS_CHANNEL) == []
    assert held(official) == (0.99, timedelta(days=1))


def test_a_service_with_several_slos_needs_one_named(stack: Stack, official: Any) -> None:
    """Two SLOs: the refusal names both; naming one plans and changes only that one."""
    other = stack.gcp.monitoring.define_request_slo(
        "fluxori-prod",
        "fluxori-backend",
        slo_id="availability-7d",
        goal=0.95,
        rolling_period=timedelta(days=7),
    )
    refusal = ephemeral(stack, "slo-goal fluxori-backend --goal 99.5")
    assert "has 2 SLOs: name the one to change" in refusal
    assert "`availability-7d` (" in refusal
    assert f"`{SLO_ID}` (" in refusal
    card = plan(stack, "slo-goal fluxori-backend availability-7d --goal 97")
    assert "*Goal*: `95%` → `97%`" in text_of(card)
    click(stack, card, "action.confirm", BOB)
    assert held(official, other) == (0.97, timedelta(days=7))
    assert held(official) == (0.99, timedelta(days=1))


def test_a_goal_changed_out_of_band_makes_the_plan_stale(stack: Stack, official: Any) -> None:
    """Someone sets 95% with Google's client after the preview: Bob's Confirm changes nothing."""
    card = plan(stack, "slo-goal fluxori-backend --goal 80")
    update(official, ["goal"], goal=0.95)
    click(stack, card, "action.confirm", BOB)
    assert held(official) == (0.95, timedelta(days=1))
    said = thread(stack, card)
    assert "was modified after this plan was made" in said
    assert "It was 99% over 1d at the preview and is 95% over 1d now." in said
    assert "action.replan" in said
    record = stack.bot.deps.store.get(action_id_of(card))
    assert record is not None
    assert (record.state, record.applied) == (State.FAILED, False)


# --- the emulator's UpdateServiceLevelObjective, as Google documents it ---------------------


@pytest.mark.parametrize(
    ("paths", "fields", "says"),
    [
        (["goal"], {"goal": 1.0}, "0 < goal <= 0.9999"),
        (["goal"], {"goal": 0.0}, "0 < goal <= 0.9999"),
        (["rolling_period"], {"rolling_period": timedelta(hours=36)}, "integer multiple of 1 day"),
        (["rolling_period"], {"rolling_period": timedelta(days=31)}, "no larger than 30 days"),
        (["name"], {}, "not updatable"),
        (["goal", "bogus"], {"goal": 0.9}, "bogus"),
    ],
)
def test_emulator_refuses_what_monitoring_refuses(
    official: Any, paths: list[str], fields: dict[str, Any], says: str
) -> None:
    """Out-of-range goals and windows and unknown mask paths are INVALID_ARGUMENT."""
    with pytest.raises(gexc.InvalidArgument, match=says):
        update(official, paths, **fields)
    assert held(official) == (0.99, timedelta(days=1))


def test_emulator_unknown_slo_is_not_found(official: Any) -> None:
    """An SLO name that does not exist is NOT_FOUND."""
    with pytest.raises(gexc.NotFound):
        update(official, ["goal"], name=f"{SLO}-gone", goal=0.9)


def test_emulator_updates_only_the_masked_fields_and_budget_follows(
    clients: Clients, official: Any
) -> None:
    """A goal-only mask keeps the window; compliance stays, the budget follows the new goal."""
    adapter = MonitoringAdapter(clients)
    before = adapter.slos(PROD_BACKEND)[0]
    update(official, ["goal"], goal=0.5, rolling_period=timedelta(days=9))
    after = adapter.slos(PROD_BACKEND)[0]
    assert held(official) == (0.5, timedelta(days=1))
    assert after.compliance == pytest.approx(before.compliance, abs=0.01)
    assert before.error_budget_remaining is not None
    assert before.compliance is not None
    assert before.error_budget_remaining == pytest.approx(
        1 - (1 - before.compliance) / 0.01, abs=1e-3
    )
    assert after.compliance is not None
    assert after.error_budget_remaining == pytest.approx(1 - (1 - after.compliance) / 0.5, abs=1e-6)


def test_an_interrupted_change_reports_the_slo_as_it_is_now(stack: Stack) -> None:
    """What the sweep says of an interrupted slo-goal: the SLO's goal and window right now."""
    params = {"slo": "", "goal_percent": 80.0, "window_days": None}
    ctx = planning.context(stack.bot.deps, "prod", "fluxori-backend", params)
    now = registry.steps("slo-goal").current_state(ctx)
    assert "goal 99% over 1d · compliance *99.028%" in now
