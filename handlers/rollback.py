"""`/ops rollback SERVICE [--to REVISION]`: the runbook's `update-traffic --to-revisions=X=100`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gcp.models import OperationProgress, Revision, Service, TrafficTarget
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps, service_state
from handlers.pins import refuse_unusable
from handlers.plans import Change, Plan, Progress, Refusal, Result, snapshot
from handlers.revisions import image_tail
from handlers.timefmt import age, human


@dataclass(frozen=True)
class Choice:
    target: Revision
    serving_image: str
    skipped: tuple[Revision, ...] = ()  # newer candidates that run the serving image


def choose_target(service: Service, revisions: list[Revision], wanted: str) -> Choice:
    """`wanted`, or the newest Ready, idle revision older than the main one whose image
    differs from the one serving: a rollback to the same image would change nothing."""
    by_name = {r.name: r for r in revisions}
    main = by_name.get(service.main_revision)
    serving_image = main.image if main else service.image
    if wanted:
        return Choice(_named(service, by_name, wanted), serving_image)
    split = service.serving
    older = sorted(
        (
            r
            for r in revisions
            if r.ready
            and not split.get(r.name)
            and (main is None or r.create_time < main.create_time)
        ),
        key=lambda r: r.create_time,
        reverse=True,
    )
    skipped = tuple(r for r in older if r.image == serving_image)
    different = [r for r in older if r.image != serving_image]
    if not different:
        why = f" ({len(skipped)} run the same image)" if skipped else ""
        raise Refusal(
            f"No earlier Ready revision runs a different image{why}."
            " See `/ops revisions` and use `--to`."
        )
    newer_same = tuple(r for r in skipped if r.create_time > different[0].create_time)
    return Choice(different[0], serving_image, newer_same)


def _named(service: Service, by_name: dict[str, Revision], wanted: str) -> Revision:
    target = by_name.get(wanted)
    if target is None:
        known = ", ".join(f"`{r.name}`" for r in list(by_name.values())[:5])
        raise Refusal(f"Revision `{wanted}` does not exist. Recent ones: {known}.")
    if not target.ready:
        raise Refusal(
            f"Revision `{wanted}` is not Ready"
            f" ({bk.escape_clipped(target.ready_message, 500)}); pick another."
        )
    if service.serving.get(wanted, 0) == 100:
        raise Refusal(f"`{wanted}` already serves 100% of traffic; nothing to roll back.")
    return target


def plan(service: Service, revisions: list[Revision], wanted: str, env: str, now: datetime) -> Plan:
    choice = choose_target(service, revisions, wanted)
    target, split = choice.target, service.serving
    current = {r.name: r for r in revisions}.get(service.main_revision)
    before = ", ".join(f"{name} {pct}%" for name, pct in split.items()) or "none"
    created = age(target.create_time, now)
    notes = [f"Target `{target.name}`: `{image_tail(target.image)}`, created {created}."]
    if current is not None:
        notes.insert(
            0,
            f"Now serving `{current.name}`: `{image_tail(current.image)}`,"
            f" created {age(current.create_time, now)}.",
        )
    if choice.skipped:
        names = ", ".join(f"`{r.name}`" for r in choice.skipped)
        notes.append(f"Skipped {names}: same image as now (`{image_tail(choice.serving_image)}`).")
    if target.image == choice.serving_image:
        notes.append(
            f":warning: `{target.name}` runs the image serving now: this moves traffic but does"
            " not change the code."
        )
    notes.append("Traffic stays pinned until you roll forward (`/ops roll-forward`).")
    return Plan(
        verb="rollback",
        env=env,
        target=service.ref.service,
        title=f"Roll back {service.ref.service} to {target.name}",
        changes=(
            Change("Traffic", before, f"{target.name} 100%"),
            Change("Image", image_tail(choice.serving_image), image_tail(target.image)),
        ),
        notes=tuple(notes),
        params={
            "etag": service.etag,
            "to": target.name,
            "previous_split": split,
            "snapshot": snapshot(service),
        },
    )


def plan_split(service: Service, split: dict[str, int], env: str) -> Plan:
    """Undo: put traffic back as it was before a rollback."""
    if not split or sum(split.values()) != 100:
        raise Refusal("The previous traffic split is not complete; use `/ops rollback --to`.")
    if split == service.serving:
        raise Refusal("Traffic is already split that way; nothing to undo.")
    before = ", ".join(f"{n} {p}%" for n, p in service.serving.items())
    after = ", ".join(f"{n} {p}%" for n, p in split.items())
    return Plan(
        verb="rollback",
        env=env,
        target=service.ref.service,
        title=f"Restore traffic of {service.ref.service}",
        changes=(Change("Traffic", before, after),),
        notes=("Puts traffic back as it was before the rollback.",),
        params={"etag": service.etag, "split": split, "snapshot": snapshot(service)},
    )


def plan_change(ctx: ChangeContext) -> Plan:
    service = ctx.platform.run.get_service(ctx.service_ref)
    revisions = ctx.platform.run.list_revisions(ctx.service_ref, limit=50)
    if "split" in ctx.params:
        made = plan_split(service, ctx.params["split"], ctx.env)
        receiving = [r for r in revisions if r.name in made.params["split"]]
    else:
        made = plan(service, revisions, str(ctx.params.get("to", "")), ctx.env, ctx.now)
        receiving = [r for r in revisions if r.name == made.params["to"]]
    for revision in receiving:
        refuse_unusable(ctx, revision)
    return made


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    ref, params, platform = ctx.service_ref, ctx.params, ctx.platform

    def report(p: OperationProgress) -> None:
        progress(f"Moving traffic… {p.elapsed_seconds:.0f}s")

    split = params.get("split")
    if isinstance(split, dict):
        service = platform.run.set_traffic(
            ref, _targets(split), str(params["etag"]), on_progress=report
        )
    else:
        service = platform.run.pin_revision(
            ref, str(params["to"]), str(params["etag"]), on_progress=report
        )
    now = ", ".join(f"`{name}` {pct}%" for name, pct in service.serving.items())
    previous = params.get("previous_split")
    return Result(
        ok=True,
        summary=f"Traffic of `{ref.service}` now: {now}",
        details=() if isinstance(split, dict) else (check_announcement(ctx),),
        undo={"split": previous} if isinstance(previous, dict) else None,
        watch=not isinstance(split, dict),
    )


def dry_run(ctx: ChangeContext) -> None:
    run, ref, params = ctx.platform.run, ctx.service_ref, ctx.params
    split = params.get("split")
    if isinstance(split, dict):
        run.set_traffic(ref, _targets(split), str(params["etag"]), validate_only=True)
    else:
        run.pin_revision(ref, str(params["to"]), str(params["etag"]), validate_only=True)


def _targets(split: dict[str, int]) -> list[TrafficTarget]:
    return [TrafficTarget(percent=int(pct), revision=str(name)) for name, pct in split.items()]


def check_announcement(ctx: ChangeContext) -> str:
    """When the before → after check of the service's 5xx rate and latency will come."""
    seconds = ctx.config.rollback_watch_seconds
    window = timedelta(seconds=seconds)
    due = ctx.now + window
    return (
        f":stopwatch: I will compare the 5xx rate and p95 latency of the {human(window)}"
        f" before and after here at <!date^{int(due.timestamp())}^{{time}}|{due:%H:%M} UTC>."
    )


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=service_state, dry_run=dry_run)
