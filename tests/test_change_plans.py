"""Scale, rotation and disable-version plans: pure decisions over the project's dataclasses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gcp.models import RequestStats, Resources, SecretRef, SecretVersion, TrafficTarget
from handlers import disable_version, rotate, scale, verify
from handlers.plans import Refusal
from tests.support.models import rev, service

SECRET_REF = SecretRef("jwt-secret", "3", env_var="JWT_SECRET")
VERSIONS = [
    SecretVersion("jwt-secret", "3", "ENABLED", datetime(2026, 11, 1, tzinfo=UTC)),
    SecretVersion("jwt-secret", "2", "ENABLED"),
    SecretVersion("jwt-secret", "1", "DISABLED"),
]


def test_scale_plan_is_a_diff_of_changed_values_only() -> None:
    """Only values that change appear; min/max need no new revision."""
    plan = scale.plan(service({5: 100}), {"min": "2", "max": "20"}, "prod")
    assert [(c.what, c.before, c.after) for c in plan.changes] == [("Max instances", "10", "20")]
    assert "no new revision" in plan.notes[0]


def test_scale_memory_creates_a_revision() -> None:
    """Memory, CPU or concurrency are template changes: the plan says a revision is created."""
    plan = scale.plan(service({5: 100}), {"memory": "2Gi", "cpu": "2"}, "prod")
    assert {c.what for c in plan.changes} == {"Memory", "CPU"}
    assert "new revision" in plan.notes[0]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"min": "five"}, "must be a whole number"),
        ({"min": "20", "max": "5"}, "Min instances"),
        ({"memory": "64Gi"}, "emory"),
        ({"cpu": "3"}, "CPU"),
        ({"concurrency": "5000"}, "oncurrency"),
        ({"cpu": "4", "memory": "1Gi"}, "emory"),
    ],
)
def test_scale_values_are_validated_before_any_call(settings: dict[str, str], problem: str) -> None:
    """Cloud Run's rules refuse bad values with a message per problem."""
    with pytest.raises(Refusal, match=problem):
        scale.plan(service({5: 100}), settings, "prod")


def test_scale_with_nothing_to_change_is_refused() -> None:
    """Asking for the current values plans nothing."""
    with pytest.raises(Refusal, match="already has those values"):
        scale.plan(service({5: 100}), {"min": "2", "max": "10"}, "prod")


def test_template_change_after_a_rollback_builds_on_the_serving_revision() -> None:
    """After a rollback, memory changes build on the revision serving (its image), not the
    template's newer image; the plan says so and which image serves after."""
    made = scale.plan(service({3: 100}), {"memory": "2Gi"}, "prod", base=rev(3))
    assert made.params["base_revision"] == rev(3).name
    assert "Builds a new revision from `fluxori-backend-0003-abc`" in made.notes[0]
    assert made.notes[1] == "Serves `backend:sha3` after this change."


def test_template_change_refused_while_traffic_is_split() -> None:
    """90/10: a new revision would replace only one of them; min/max still plan."""
    with pytest.raises(Refusal, match="is split"):
        scale.plan(service({5: 90, 3: 10}), {"memory": "2Gi"}, "prod")
    assert scale.plan(service({5: 90, 3: 10}), {"max": "20"}, "prod").params["settings"] == {
        "max": "20"
    }


def test_a_full_form_with_only_max_changed_is_no_template_change() -> None:
    """The form sends every field; unchanged memory/CPU/concurrency neither pin nor revise."""
    pinned = service({3: 100})
    form = {"min": "2", "max": "20", "memory": "1Gi", "cpu": "1", "concurrency": "080"}
    plan = scale.plan(pinned, form, "prod")
    assert [c.what for c in plan.changes] == ["Max instances"]
    assert plan.params["settings"] == {"max": "20"}
    assert "no new revision" in plan.notes[0]


def test_rotation_plan_lists_consumers_and_how_they_use_the_secret() -> None:
    """The plan names each consumer, its env var and pinned version, and the next version."""
    backend = replace(service({5: 100}), secrets=(SECRET_REF,))
    plan = rotate.plan(
        "jwt-secret", "prod", "fluxori-prod", rotate.consumers("jwt-secret", [backend]), VERSIONS
    )
    assert plan.changes[0].after == "4 (new)"
    assert "env `JWT_SECRET` pinned to version 3" in plan.changes[1].what
    assert plan.params["consumers"] == [
        {"service": "fluxori-backend", "etag": "etag-1", "base_revision": rev(5).name}
    ]


def test_rotation_without_consumers_is_refused() -> None:
    """A secret nobody uses is not rotated through services."""
    with pytest.raises(Refusal, match="nothing would pick it up"):
        rotate.plan("jwt-secret", "prod", "fluxori-prod", [], VERSIONS)


def test_disabling_a_version_a_serving_revision_pins_is_refused() -> None:
    """Revision 5 serves pinned to version 3: disabling 3 would stop it starting instances;
    revision 3 pins version 2 but is idle: disabling 2 is planned and names it."""
    pinned = [
        replace(rev(5), secrets=(SECRET_REF,)),
        replace(rev(3), secrets=(replace(SECRET_REF, version="2"),)),
    ]
    users = [(service({5: 100}), pinned)]
    with pytest.raises(Refusal, match=r"fluxori-backend-0005-abc` \(100%\) still serve"):
        disable_version.plan("fluxori-prod", "prod", "jwt-secret", "3", VERSIONS, users)
    plan = disable_version.plan("fluxori-prod", "prod", "jwt-secret", "2", VERSIONS, users)
    assert plan.changes[0].after == "DISABLED"
    assert "`fluxori-backend-0003-abc`" in plan.notes[1]


def stats(total: float, errors: float, p95: float) -> RequestStats:
    return RequestStats(60, total, {"2xx": total - errors, "5xx": errors}, p95 / 2, p95, p95 * 1.2)


def test_rollback_check_verdicts() -> None:
    """Halved errors or latency counts as helped; otherwise a warning."""
    assert verify.improved(stats(1000, 120, 1800), stats(1000, 2, 120))
    assert not verify.improved(stats(1000, 120, 1800), stats(1000, 110, 1700))
    warning = verify.render("fluxori-backend", stats(1000, 120, 1800), stats(1000, 110, 1700), "5m")
    assert "Nothing improved" in warning[0]["text"]["text"]


def test_traffic_target_defaults() -> None:
    """A pinned target is not `latest`; the rollback helper builds such targets."""
    assert not TrafficTarget(percent=100, revision=rev(3).name).latest


def test_max_on_a_fractional_cpu_service_plans() -> None:
    """0.5 CPU with concurrency 80 breaks the documented rules, but max=20 does not touch
    them: the plan is made and Cloud Run judges the rest."""
    fractional = replace(service({5: 100}), resources=Resources("0.5", "512Mi"))
    plan = scale.plan(fractional, {"max": "20"}, "prod")
    assert [(c.what, c.after) for c in plan.changes] == [("Max instances", "20")]
