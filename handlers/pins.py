"""Revisions pin secret versions: a revision pinned to a disabled or destroyed version cannot
start new instances, so traffic must not move to it, and a version must not be disabled under
a revision that serves."""

from __future__ import annotations

from gcp.models import Revision
from handlers.actions import ChangeContext
from handlers.plans import Refusal


def unusable_pins(ctx: ChangeContext, revision: Revision) -> list[str]:
    """One sentence per secret version `revision` pins that is not enabled."""
    problems = []
    for ref in revision.secrets:
        if ref.version == "latest":
            continue
        versions = {
            v.version: v for v in ctx.platform.secrets.list_versions(ctx.project, ref.secret)
        }
        version = versions.get(ref.version)
        state = version.state if version else "missing"
        if version is None or not version.enabled:
            problems.append(f"`{ref.secret}` version {ref.version} ({state.lower()})")
    return problems


def refuse_unusable(ctx: ChangeContext, revision: Revision) -> None:
    problems = unusable_pins(ctx, revision)
    if problems:
        raise Refusal(
            f"`{revision.name}` pins {', '.join(problems)}: it could not start new instances."
            f" Enable the version again (`gcloud secrets versions enable VERSION"
            f" --secret=SECRET --project={ctx.project}`) or choose another revision."
        )


def pinning(revisions: list[Revision], secret: str, version: str) -> list[Revision]:
    """The revisions that pin `secret` at `version`."""
    return [
        r for r in revisions if any(s.secret == secret and s.version == version for s in r.secrets)
    ]
