"""Disable an old secret version after a rotation: itself a confirmed change."""

from __future__ import annotations

from gcp.models import Revision, SecretVersion, Service
from handlers.actions import ChangeContext, ChangeSteps, secret_state
from handlers.pins import pinning
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.rotate import consumer_services


def plan(
    project: str,
    env: str,
    secret: str,
    version: str,
    versions: list[SecretVersion],
    users: list[tuple[Service, list[Revision]]],
) -> Plan:
    """Refused while a revision pinned to that version serves traffic: it could not start new
    instances. Idle revisions that pin it are named: traffic could not move back to them."""
    current = {v.version: v for v in versions}.get(version)
    if current is None:
        raise Refusal(f"`{secret}` has no version {version}.")
    if not current.enabled:
        raise Refusal(f"`{secret}` version {version} is already {current.state.lower()}.")
    serving: list[str] = []
    idle: list[str] = []
    for service, revisions in users:
        for revision in pinning(revisions, secret, version):
            percent = service.serving.get(revision.name, 0)
            if percent:
                serving.append(f"`{revision.name}` ({percent}%)")
            else:
                idle.append(f"`{revision.name}`")
    if serving:
        raise Refusal(
            f"{', '.join(serving)} still serve with `{secret}` version {version}: they could"
            " not start new instances. Rotate or roll forward first."
        )
    notes = ["Reversible: a disabled version can be enabled again."]
    if idle:
        notes.append(
            f"Idle revisions that pin it could not start again: {', '.join(idle)};"
            " rolling back to them would be refused until it is enabled."
        )
    return Plan(
        verb="disable-secret-version",
        env=env,
        target=secret,
        title=f"Disable {secret} version {version}",
        changes=(Change(f"{secret} version {version}", "ENABLED", "DISABLED"),),
        notes=tuple(notes),
        params={"project": project, "secret": secret, "version": version},
    )


def plan_change(ctx: ChangeContext) -> Plan:
    users = [
        (service, ctx.platform.run.list_revisions(service.ref, limit=50))
        for service in consumer_services(ctx)
    ]
    versions = ctx.platform.secrets.list_versions(ctx.project, ctx.target)
    version = str(ctx.params.get("version", ""))
    return plan(ctx.project, ctx.env, ctx.target, version, versions, users)


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    del progress  # one quick call
    params = ctx.params
    version = ctx.platform.secrets.disable_version(
        str(params["project"]), str(params["secret"]), str(params["version"])
    )
    return Result(
        ok=True, summary=f"`{version.secret}` version {version.version} is {version.state}."
    )


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=secret_state)
