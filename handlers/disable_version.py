"""Disable an old secret version after a rotation: itself a confirmed change."""

from __future__ import annotations

from gcp.models import SecretVersion, Service
from handlers.actions import ChangeContext, ChangeSteps, secret_state
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.rotate import consumer_services


def plan(
    project: str,
    env: str,
    secret: str,
    version: str,
    versions: list[SecretVersion],
    users: list[Service],
) -> Plan:
    """Refused while a serving revision still pins that version: it would break on restart."""
    current = {v.version: v for v in versions}.get(version)
    if current is None:
        raise Refusal(f"`{secret}` has no version {version}.")
    if not current.enabled:
        raise Refusal(f"`{secret}` version {version} is already {current.state.lower()}.")
    pinned = [
        s.ref.service
        for s in users
        for ref in s.secrets
        if ref.secret == secret and ref.version == version
    ]
    if pinned:
        raise Refusal(
            f"{', '.join(f'`{p}`' for p in pinned)} still use `{secret}` version {version};"
            " rotate or roll them forward first."
        )
    return Plan(
        verb="disable-secret-version",
        env=env,
        target=secret,
        title=f"Disable {secret} version {version}",
        changes=(Change(f"{secret} version {version}", "ENABLED", "DISABLED"),),
        notes=("Reversible: a disabled version can be enabled again.",),
        params={"project": project, "secret": secret, "version": version},
    )


def plan_change(ctx: ChangeContext) -> Plan:
    users = consumer_services(ctx)
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
