"""`/ops rollback SERVICE [--to REVISION]`: the runbook's `update-traffic --to-revisions=X=100`."""

from __future__ import annotations

from datetime import datetime

from gcp.models import OperationProgress, Revision, Service, ServiceRef, TrafficTarget
from handlers import blocks as bk
from handlers.plans import Change, Plan, Progress, Refusal, Result, snapshot
from handlers.ports import Platform
from handlers.revisions import image_tail
from handlers.timefmt import age


def choose_target(service: Service, revisions: list[Revision], wanted: str) -> Revision:
    """`wanted`, or the newest Ready revision not serving and older than the main one."""
    by_name = {r.name: r for r in revisions}
    split = service.serving
    if wanted:
        target = by_name.get(wanted)
        if target is None:
            known = ", ".join(f"`{r.name}`" for r in revisions[:5])
            raise Refusal(f"Revision `{wanted}` does not exist. Recent ones: {known}.")
        if not target.ready:
            raise Refusal(
                f"Revision `{wanted}` is not Ready"
                f" ({bk.escape_clipped(target.ready_message, 500)}); pick another."
            )
        if split.get(wanted, 0) == 100:
            raise Refusal(f"`{wanted}` already serves 100% of traffic; nothing to roll back.")
        return target
    main = by_name.get(service.main_revision)
    candidates = [
        r
        for r in revisions
        if r.ready and not split.get(r.name) and (main is None or r.create_time < main.create_time)
    ]
    if not candidates:
        raise Refusal(
            "No earlier Ready revision to roll back to. See `/ops revisions` and use `--to`."
        )
    return max(candidates, key=lambda r: r.create_time)


def plan(service: Service, revisions: list[Revision], wanted: str, env: str, now: datetime) -> Plan:
    target = choose_target(service, revisions, wanted)
    split = service.serving
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
    notes.append("Traffic stays pinned until you roll forward (`/ops rollback --to ...`).")
    return Plan(
        verb="rollback",
        env=env,
        target=service.ref.service,
        title=f"Roll back {service.ref.service} to {target.name}",
        changes=(Change("Traffic", before, f"{target.name} 100%"),),
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


def execute(
    ref: ServiceRef, params: dict[str, object], platform: Platform, progress: Progress
) -> Result:
    def report(p: OperationProgress) -> None:
        progress(f"Moving traffic… {p.elapsed_seconds:.0f}s")

    split = params.get("split")
    if isinstance(split, dict):
        targets = [
            TrafficTarget(percent=int(pct), revision=str(name)) for name, pct in split.items()
        ]
        service = platform.run.set_traffic(ref, targets, str(params["etag"]), on_progress=report)
    else:
        service = platform.run.pin_revision(
            ref, str(params["to"]), str(params["etag"]), on_progress=report
        )
    now = ", ".join(f"`{name}` {pct}%" for name, pct in service.serving.items())
    previous = params.get("previous_split")
    return Result(
        ok=True,
        summary=f"Traffic of `{ref.service}` now: {now}",
        undo={"split": previous} if isinstance(previous, dict) else None,
    )
