"""`/ops why`: changes from every source, health per revision, and the step that fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from google.cloud import run_v2, secretmanager_v1
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from gcp.clients import EMULATOR_PRINCIPAL
from gcp.diagnosis_models import RevisionHealth, Window
from gcp.emulator.audit import PRINCIPAL_HEADER, SEEDED_DEPLOYER
from handlers.diagnosis import diagnose
from tests.support.models import PROD_BACKEND
from tests.support.slack import BOB, click, plan, previous_revision, run
from tests.support.stack import Stack

OUTSIDER = "mallory@fluxori.example"


def test_seeded_incident_names_the_deploy_and_the_last_healthy_revision(stack: Stack) -> None:
    """The prod backend's errors are traced to the seeded deploy and its deployer."""
    newest, previous = previous_revision(stack, 0), previous_revision(stack, 1)
    _, answer = run(stack, "why fluxori-backend --since 2h")
    verdict = answer.split("What changed")[0]
    assert f"5xx began as soon as `{newest}` took traffic" in verdict
    assert f"`UpdateService` of {SEEDED_DEPLOYER}" in verdict
    assert f"`{previous}` (image `" in verdict
    assert "served before it at 0.2% 5xx" in verdict
    assert f"/ops rollback fluxori-backend --to {previous} --env prod" in answer
    assert "Query timeout" in answer  # an error group that came with the deploy


def test_every_figure_links_its_query(stack: Stack) -> None:
    """The answer links the Monitoring and Logs Explorer queries behind its numbers."""
    _, answer = run(stack, "why fluxori-backend")
    links = unquote(unquote(answer))
    assert "console.cloud.google.com/monitoring/metrics-explorer?project=fluxori-prod" in links
    assert "run.googleapis.com/request_count" in links
    assert "run.googleapis.com/request_latencies" in links
    assert "resource.label.revision_name" in links  # grouped per revision, as the answer is
    assert "logs/cloudaudit.googleapis.com" in links
    assert "severity>=ERROR" in links


def test_a_change_outside_the_bot_appears_with_its_principal(stack: Stack) -> None:
    """A scaling change made with Google's Cloud Run client is in the timeline, by its caller."""
    client = run_v2.ServicesClient(
        transport=ServicesGrpcTransport(channel=stack.bot.clients.channel())
    )
    service = client.get_service(name=PROD_BACKEND.name)
    service.scaling.min_instance_count = 4
    client.update_service(service=service, metadata=[(PRINCIPAL_HEADER, OUTSIDER)]).result()
    _, answer = run(stack, "why fluxori-backend --since 30m")
    assert f"`UpdateService` by {OUTSIDER} _(Audit Logs)_" in answer


def test_a_secret_version_added_outside_the_bot_is_in_the_timeline(stack: Stack) -> None:
    """A jwt-secret version added with Google's client shows, by its caller, in the backend's."""
    client = secretmanager_v1.SecretManagerServiceClient(
        transport=SecretManagerServiceGrpcTransport(channel=stack.bot.clients.channel())
    )
    added = client.add_secret_version(
        parent=f"projects/{PROD_BACKEND.project}/secrets/jwt-secret",
        payload=secretmanager_v1.SecretPayload(data=b"not-a-real-secret-0000"),
        metadata=[(PRINCIPAL_HEADER, OUTSIDER)],
    )
    version = added.name.rsplit("/", 1)[-1]
    _, answer = run(stack, "why fluxori-backend --since 30m")
    assert f"`AddSecretVersion` version `{version}` by {OUTSIDER}" in answer
    assert "not-a-real-secret" not in answer


def test_a_change_through_the_bot_names_requester_and_approver(stack: Stack) -> None:
    """A rollback confirmed by Bob is in the timeline with both people and the bot's account."""
    click(stack, plan(stack, "rollback fluxori-backend"), "action.confirm", BOB)
    _, answer = run(stack, "why fluxori-backend --since 30m")
    assert "`rollback` requested by <@U_ALICE>, approved by <@U_BOB>, succeeded" in answer
    assert f"by {EMULATOR_PRINCIPAL} (the bot's own call)" in answer


def test_a_healthy_service_says_so(stack: Stack) -> None:
    """The frontend's seeded deploy brought no trouble: nothing to roll back."""
    _, answer = run(stack, "why fluxori-frontend")
    assert "No revision served with more than 1% 5xx" in answer
    assert "Nothing to do from the runbook." in answer


def test_an_unknown_service_is_refused_with_the_choices(stack: Stack) -> None:
    """A typo gets the known services, never a trace."""
    reply = stack.slack.slash_command("U_ALICE", "C_OPS", text="why fluxori-bakend")
    assert reply.status == 200
    assert "Unknown service" in reply.body
    assert "fluxori-backend" in reply.body


def test_errors_a_window_after_the_arrival_began_with_it() -> None:
    """Errors first counted in the window after a revision's first are dated to its arrival."""
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    step = timedelta(minutes=5)

    def window(index: int, errors: float) -> Window:
        return Window(start + index * step, start + (index + 1) * step, 100.0, errors)

    old = RevisionHealth("a", (window(0, 0.0), window(1, 0.0)), 100.0)
    new = RevisionHealth("b", (window(1, 0.0), window(2, 12.0), window(3, 12.0)), 900.0)
    finding = diagnose((old, new), start, [], [], [], step)
    assert finding.suspect == new
    assert finding.last_healthy == old
    assert finding.trouble_began == finding.took_traffic == start + step
