"""`/ops rotate-secret SECRET`: the runbook's "Refresh the JWT secret", made safe.

New value (64 random bytes, base64, like `openssl rand -base64 64`) -> new secret version ->
a new revision of each consumer pinned to it, at 0% under a tag -> Ready -> 100% traffic.
The value exists only in this process's memory between generation and the add call.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gcp.errors import GcpError
from gcp.models import OperationProgress, SecretVersion, Service, ServiceRef
from handlers.actions import ChangeContext, ChangeSteps, secret_state
from handlers.config import OpsConfig
from handlers.plans import Change, Plan, Progress, Refusal, Result
from handlers.ports import Platform
from handlers.revisions import image_tail
from handlers.scale import refuse_split


@dataclass(frozen=True)
class Consumer:
    service: Service
    usage: str  # "env JWT_SECRET pinned to version 3", "volume /secrets/jwt at latest"


def consumers(secret: str, services: list[Service]) -> list[Consumer]:
    found = []
    for service in services:
        for ref in service.secrets:
            if ref.secret == secret:
                where = (
                    f"env `{ref.env_var}`" if ref.kind == "env" else f"volume `{ref.mount_path}`"
                )
                pinned = (
                    "at `latest`" if ref.version == "latest" else f"pinned to version {ref.version}"
                )
                found.append(Consumer(service, f"{where} {pinned}"))
    return found


def plan(
    secret: str,
    env: str,
    project: str,
    found: list[Consumer],
    versions: list[SecretVersion],
    images: Mapping[str, str] | None = None,
) -> Plan:
    """`images`: consumer service -> the image its serving revision runs, which the new
    revision keeps (it is built from the serving revision, not the template)."""
    if not found:
        raise Refusal(f"No configured service uses `{secret}` in {env}; nothing would pick it up.")
    for consumer in found:
        refuse_split(consumer.service)
    latest = max((int(v.version) for v in versions if v.version.isdigit()), default=0)
    enabled = [v.version for v in versions if v.enabled]
    changes = tuple(
        Change(
            f"{c.service.ref.service} ({c.usage})", c.service.main_revision, "new revision, 100%"
        )
        for c in found
    )
    return Plan(
        verb="rotate-secret",
        env=env,
        target=secret,
        title=f"Rotate {secret}",
        changes=(Change(f"{secret} latest version", str(latest), f"{latest + 1} (new)"), *changes),
        notes=(
            "Steps: add a version (64 random bytes, base64) → deploy each consumer pinned to it"
            " at 0% under a tag → wait for Ready → move 100% of traffic.",
            f"Enabled versions now: {', '.join(enabled) or 'none'}; the old ones stay enabled.",
            "Tokens signed with the old secret stop verifying once traffic moves.",
            *(
                f"`{name}` keeps serving `{image_tail(image)}`: the new revision is built from"
                " the one serving now."
                for name, image in (images or {}).items()
            ),
        ),
        params={
            "project": project,
            "secret": secret,
            "previous_version": str(latest),
            "consumers": [
                {
                    "service": c.service.ref.service,
                    "etag": c.service.etag,
                    "base_revision": c.service.main_revision,
                }
                for c in found
            ],
        },
    )


def consumer_services(ctx: ChangeContext) -> list[Service]:
    """The configured consumers of the secret, as they are now."""
    spec = ctx.config.secrets.get(ctx.target)
    if spec is None:
        raise Refusal(f"`{ctx.target}` is not a configured secret.")
    return [
        ctx.platform.run.get_service(ctx.config.service_ref(ctx.env, n)) for n in spec.consumers
    ]


def plan_change(ctx: ChangeContext) -> Plan:
    users = consumer_services(ctx)
    versions = ctx.platform.secrets.list_versions(ctx.project, ctx.target)
    found = consumers(ctx.target, users)
    images = {
        c.service.ref.service: ctx.platform.run.get_revision(
            c.service.ref, c.service.main_revision
        ).image
        for c in found
    }
    return plan(ctx.target, ctx.env, ctx.project, found, versions, images)


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    params, config, env, platform = ctx.params, ctx.config, ctx.env, ctx.platform
    done: list[str] = []
    secret, project = str(params["secret"]), str(params["project"])
    try:
        version = _add_version(platform, project, secret, ctx.protect)
        done.append(f"added `{secret}` version {version.version}")
        progress(f"Added `{secret}` version {version.version}; deploying consumers…")
        deployed = _deploy(params, config, env, platform, version.version, done, progress)
        for ref, revision, etag in deployed:
            platform.run.pin_revision(ref, revision, etag)
            done.append(f"moved 100% of `{ref.service}` traffic to `{revision}`")
    except GcpError as err:
        return _failed(done, err, secret)
    return Result(
        ok=True,
        summary=f"`{secret}` rotated to version {version.version}; " + "; ".join(done[1:]) + ".",
        followup={"secret": secret, "version": str(params["previous_version"])},
    )


def _add_version(
    platform: Platform, project: str, secret: str, protect: Callable[[bytes], None]
) -> SecretVersion:
    value = base64.b64encode(secrets.token_bytes(64))
    protect(value)
    return platform.secrets.add_version(project, secret, value)


def _deploy(
    params: Mapping[str, object],
    config: OpsConfig,
    env: str,
    platform: Platform,
    version: str,
    done: list[str],
    progress: Progress,
) -> list[tuple[ServiceRef, str, str]]:
    entries = params["consumers"]
    if not isinstance(entries, list):
        raise TypeError("the plan's `consumers` is not a list of services")
    deployed = []
    for entry in entries:
        ref = config.service_ref(env, str(entry["service"]))
        service, revision = platform.run.deploy_revision(
            ref,
            etag=str(entry["etag"]),
            secret_versions={str(params["secret"]): version},
            base_revision=str(entry.get("base_revision", "")) or None,
            tag=f"rotate-v{version}",
            revision_suffix=f"{params['secret']}-v{version}",
            on_progress=_reporter(ref.service, progress),
        )
        done.append(f"deployed `{revision}` at 0% (tag `rotate-v{version}`), Ready")
        deployed.append((ref, revision, service.etag))
    return deployed


def _reporter(service: str, progress: Progress) -> Callable[[OperationProgress], None]:
    def report(p: OperationProgress) -> None:
        progress(f"Deploying `{service}`… {p.elapsed_seconds:.0f}s")

    return report


def _failed(done: list[str], err: GcpError, secret: str) -> Result:
    steps = [f":white_check_mark: {step}" for step in done] or ["Nothing was changed."]
    return Result(
        ok=False,
        summary=f"Rotation of `{secret}` stopped: {err.what}. The failed step moved no traffic.",
        details=(
            *steps,
            f":x: {type(err).__name__}: {err.hint}",
            "Next: check `/ops status` of each consumer; the new version (if added) stays"
            " enabled and unused until a revision uses it. Plan a fresh rotation when fixed.",
        ),
    )


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=secret_state)
