"""`/ops roll-forward SERVICE [--to REVISION] [--canary N]`: the way back after a rollback.

Without `--to`, traffic returns to the latest Ready revision and follows future deploys again
(the runbook's `update-traffic --to-latest`); with `--to`, it is pinned to that revision. With
`--canary N`, N% moves first; the service's 5xx rate and latency are compared before → after,
and the thread offers the next step.
"""

from __future__ import annotations

from gcp.models import OperationProgress, Revision, Service, TrafficTarget
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps, service_state
from handlers.pins import refuse_unusable
from handlers.plans import Change, Plan, Progress, Refusal, Result, snapshot
from handlers.revisions import image_tail
from handlers.rollback import check_announcement


def choose_target(service: Service, revisions: list[Revision], wanted: str) -> Revision:
    """`wanted`, or the latest Ready revision; refused when it already serves everything."""
    by_name = {r.name: r for r in revisions}
    name = wanted or service.latest_ready_revision
    target = by_name.get(name)
    if target is None:
        known = ", ".join(f"`{r.name}`" for r in revisions[:5])
        raise Refusal(f"Revision {bk.code(name)} does not exist. Recent ones: {known}.")
    if not target.ready:
        why = bk.escape_clipped(target.ready_message, 300)
        raise Refusal(f"Revision `{target.name}` is not Ready ({why}); pick another with `--to`.")
    if service.serving.get(target.name, 0) == 100:
        raise Refusal(f"`{target.name}` already serves 100% of traffic; nothing to roll forward.")
    return target


def split_after(service: Service, target: str, canary: int | None) -> dict[str, int]:
    if canary is None:
        return {target: 100}
    main = service.main_revision
    if main == target:
        raise Refusal(f"`{target}` already serves most traffic; roll forward without `--canary`.")
    return {target: canary, main: 100 - canary}


def plan(
    service: Service, revisions: list[Revision], wanted: str, canary: int | None, env: str
) -> Plan:
    target = choose_target(service, revisions, wanted)
    after = split_after(service, target.name, canary)
    images = {r.name: image_tail(r.image) for r in revisions}
    serving_image = images.get(service.main_revision, image_tail(service.image))
    follow = not wanted and canary is None
    notes = [f"Target `{target.name}`: `{image_tail(target.image)}`."]
    if follow:
        notes.append("Traffic follows the latest revision again: future deploys take it.")
    if canary is not None:
        notes.append(
            f"{canary}% first; after the check I offer the rest (or advise reverting) here."
        )
    return Plan(
        verb="roll-forward",
        env=env,
        target=service.ref.service,
        title=f"Roll forward {service.ref.service} to {target.name}"
        + (f" ({canary}% canary)" if canary is not None else ""),
        changes=(
            Change("Traffic", _split_text(service.serving), _split_text(after)),
            Change("Image", serving_image, images.get(target.name, "?")),
        ),
        notes=tuple(notes),
        params={
            "etag": service.etag,
            "to": target.name,
            "split": after,
            "latest": follow,
            "canary": canary,
            "previous_split": service.serving,
            "snapshot": snapshot(service),
        },
    )


def plan_change(ctx: ChangeContext) -> Plan:
    service = ctx.platform.run.get_service(ctx.service_ref)
    revisions = ctx.platform.run.list_revisions(ctx.service_ref, limit=50)
    canary = ctx.params.get("canary")
    made = plan(
        service,
        revisions,
        str(ctx.params.get("to", "")),
        int(canary) if canary is not None else None,
        ctx.env,
    )
    refuse_unusable(ctx, next(r for r in revisions if r.name == made.params["to"]))
    return made


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    ref, params, run = ctx.service_ref, ctx.params, ctx.platform.run

    def report(p: OperationProgress) -> None:
        progress(f"Moving traffic… {p.elapsed_seconds:.0f}s")

    etag = str(params["etag"])
    if params.get("latest"):
        service = run.route_to_latest(ref, etag, on_progress=report)
    else:
        current = run.get_service(ref)
        targets = [
            TrafficTarget(percent=int(p), revision=str(n)) for n, p in params["split"].items()
        ]
        targets += [
            TrafficTarget(percent=0, revision=t.revision, tag=t.tag)
            for t in current.traffic
            if t.tag
        ]
        service = run.set_traffic(ref, targets, etag, on_progress=report)
    return Result(
        ok=True,
        summary=f"Traffic of `{ref.service}` now: {_split_text(service.serving, code=True)}",
        details=(check_announcement(ctx),),
        undo={"split": params["previous_split"]},
        watch=True,
    )


def dry_run(ctx: ChangeContext) -> None:
    run, ref, etag = ctx.platform.run, ctx.service_ref, str(ctx.params["etag"])
    if ctx.params.get("latest"):
        run.route_to_latest(ref, etag, validate_only=True)
    else:
        run.set_traffic(ref, _targets(ctx), etag, validate_only=True)


def _targets(ctx: ChangeContext) -> list[TrafficTarget]:
    """The planned split, with tagged revisions kept at 0% so their URLs keep working."""
    tagged = [t for t in ctx.platform.run.get_service(ctx.service_ref).traffic if t.tag]
    split = ctx.params["split"]
    targets = [TrafficTarget(percent=int(p), revision=str(n)) for n, p in split.items()]
    return targets + [TrafficTarget(percent=0, revision=t.revision, tag=t.tag) for t in tagged]


def _split_text(split: dict[str, int], code: bool = False) -> str:
    quote = "`" if code else ""
    return ", ".join(f"{quote}{name}{quote} {pct}%" for name, pct in split.items()) or "none"


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=service_state, dry_run=dry_run)
