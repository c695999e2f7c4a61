"""Choosing a rollback target: the newest Ready, idle revision older than the one serving."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers import rollback
from handlers.plans import Change, Refusal
from tests.support.models import NOW, rev, service

REVISIONS = [rev(5), rev(4, ready=False), rev(3), rev(2), rev(1)]


def test_default_target_skips_unready_revisions() -> None:
    """Serving 5, with 4 not Ready: the target is 3."""
    assert rollback.choose_target(service({5: 100}), REVISIONS, "").target.name == rev(3).name


def test_default_target_is_older_than_the_main_revision() -> None:
    """After a rollback to 3, the next rollback goes to 2, not forward to 5."""
    assert rollback.choose_target(service({3: 100}), REVISIONS, "").target.name == rev(2).name


def test_split_traffic_uses_the_revision_with_most_traffic() -> None:
    """With 5 at 90% and 3 at 10%, the target is older than 5 and not serving: 2."""
    assert rollback.choose_target(service({5: 90, 3: 10}), REVISIONS, "").target.name == rev(2).name


@pytest.mark.parametrize(
    ("wanted", "split", "reason"),
    [
        ("fluxori-backend-0009-zzz", {5: 100}, "does not exist"),
        (rev(4).name, {5: 100}, "not Ready"),
        (rev(5).name, {5: 100}, "already serves 100%"),
    ],
)
def test_named_target_refusals(wanted: str, split: dict[int, int], reason: str) -> None:
    """--to is refused when missing, not Ready, or already at 100%."""
    with pytest.raises(Refusal, match=reason):
        rollback.choose_target(service(split), REVISIONS, wanted)


def test_no_earlier_revision_is_refused() -> None:
    """Serving the oldest revision leaves nothing to roll back to."""
    with pytest.raises(Refusal, match="No earlier Ready revision"):
        rollback.choose_target(service({1: 100}), REVISIONS, "")


def test_plan_shows_current_and_target_with_ages() -> None:
    """The plan names both revisions, their images and ages, and records the etag."""
    plan = rollback.plan(service({5: 100}), REVISIONS, "", "prod", NOW)
    assert plan.changes[0].before == f"{rev(5).name} 100%"
    assert plan.changes[0].after == f"{rev(3).name} 100%"
    assert "backend:sha3" in " ".join(plan.notes)
    assert "7d ago" in " ".join(plan.notes)
    assert plan.params["etag"] == "etag-1"


def test_default_target_skips_revisions_running_the_serving_image() -> None:
    """After a resize, 4 and 3 run the image 5 serves: the target is 2, and the plan says why."""
    same = "registry/fluxori/backend:sha5"
    revisions = [rev(5), replace(rev(4), image=same), replace(rev(3), image=same), rev(2), rev(1)]
    choice = rollback.choose_target(service({5: 100}), revisions, "")
    assert choice.target.name == rev(2).name
    assert [r.name for r in choice.skipped] == [rev(4).name, rev(3).name]
    made = rollback.plan(service({5: 100}), revisions, "", "prod", NOW)
    assert any("Skipped" in n and rev(4).name in n for n in made.notes)
    assert made.changes[1] == Change("Image", "backend:sha5", "backend:sha2")


def test_no_other_image_is_a_refusal_and_to_the_same_image_warns() -> None:
    """Only same-image revisions: refused by default; named with --to, planned with a warning."""
    same = "registry/fluxori/backend:sha5"
    revisions = [rev(5), replace(rev(4), image=same)]
    with pytest.raises(Refusal, match="different image"):
        rollback.choose_target(service({5: 100}), revisions, "")
    made = rollback.plan(service({5: 100}), revisions, rev(4).name, "prod", NOW)
    assert any("does not change the code" in n for n in made.notes)
