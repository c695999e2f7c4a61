"""`/ops scale SERVICE [min=N] [max=N] [memory=2Gi] [cpu=2] [concurrency=80]`."""

from __future__ import annotations

from dataclasses import replace

from gcp import run_rules
from gcp.models import OperationProgress, Revision, Service, ServiceChange
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps, service_state
from handlers.plans import Change, Plan, Progress, Refusal, Result, snapshot
from handlers.revisions import image_tail

INT_KEYS = {"min": "min_instances", "max": "max_instances", "concurrency": "concurrency"}
# What each whole-number setting may be, as the user is told; Cloud Run's own limits
# (gcp/run_rules.py) are judged after this, on the values that parse.
ALLOWED = {"min": "of 0 or more", "max": "of 1 or more", "concurrency": "from 1 to 1000"}
TEXT_KEYS = {"memory": "2Gi", "cpu": "2"}  # judged by Cloud Run's rules, with an example
MAX_TEXT_VALUE = 16  # longer than any memory size or CPU count Cloud Run takes
ECHO = 40  # a value quoted back in a problem is cut to this
TEMPLATE_KEYS = ("memory", "cpu", "concurrency")  # they live in the revision template


def parse_change(settings: dict[str, str]) -> tuple[ServiceChange, list[str]]:
    """Strings from Slack -> a change, with one message per value that is not well formed."""
    problems: list[str] = []
    ints: dict[str, int] = {}
    for key, field_name in INT_KEYS.items():
        value = settings.get(key, "").strip()
        if value.isdigit():
            ints[field_name] = int(value)
        elif key in settings:
            problems.append(f"{_echo(key, value)} must be a whole number {ALLOWED[key]}.")
    texts: dict[str, str] = {}
    for key, example in TEXT_KEYS.items():
        texts[key] = settings.get(key, "").strip()
        if len(texts[key]) > MAX_TEXT_VALUE:  # Cloud Run's rules would quote it back whole
            problems.append(f"{_echo(key, texts[key])} is too long; use e.g. `{example}`.")
    change = ServiceChange(memory=texts["memory"] or None, cpu=texts["cpu"] or None, **ints)
    return change, problems


def _echo(key: str, value: str) -> str:
    return bk.code(f"{key}={value}", ECHO)


def validate(service: Service, change: ServiceChange) -> list[str]:
    """Cloud Run's rules on the values the change sets, in the combination it leaves."""
    return run_rules.validate_change(run_rules.settings_of(service), run_rules.requested(change))


def plan(
    service: Service, settings: dict[str, str], env: str, base: Revision | None = None
) -> Plan:
    """`base`: the revision serving traffic when it is not the template's (after a rollback);
    memory, CPU and concurrency then build on it, keeping its image."""
    change, problems = parse_change(settings)
    current = _as_serving(service, base)
    problems = problems or [bk.escape(p) for p in validate(current, change)]
    if problems:
        raise Refusal("These values cannot be applied:\n" + "\n".join(f"• {p}" for p in problems))
    # The form sends every field: only values that differ are changes (an unchanged memory
    # must not count as a template change, which would make a needless revision).
    differences = _differences(current, change)
    if not differences:
        raise Refusal(f"`{service.ref.service}` already has those values; nothing to change.")
    changes_template = any(key in TEMPLATE_KEYS for key in differences)
    if changes_template:
        refuse_split(service)
    image = image_tail(base.image if base else service.image)
    return Plan(
        verb="scale",
        env=env,
        target=service.ref.service,
        title=f"Scale {service.ref.service}",
        changes=tuple(differences.values()),
        notes=(_how(service, base, changes_template), f"Serves `{image}` after this change."),
        params={
            "etag": service.etag,
            "settings": {key: change.after for key, change in differences.items()},
            "base_revision": base.name if base and changes_template else "",
            "snapshot": snapshot(service),
        },
    )


def _how(service: Service, base: Revision | None, changes_template: bool) -> str:
    if not changes_template:
        return "Instance limits apply to the whole service: no new revision."
    if base is None:
        return "Creates a new revision from the serving template; it takes traffic as today's does."
    return (
        f"Builds a new revision from `{base.name}`, the one serving (its image, not the"
        f" template's `{service.latest_created_revision}`), and moves 100% to it once Ready."
    )


def _as_serving(service: Service, base: Revision | None) -> Service:
    """The service with the serving revision's resources, which a template change builds on."""
    if base is None:
        return service
    return replace(service, resources=base.resources, concurrency=base.concurrency)


def refuse_split(service: Service) -> None:
    """A new revision replaces one serving revision: refused while traffic is split."""
    split = service.serving
    if len(split) > 1:
        shares = ", ".join(f"`{name}` {pct}%" for name, pct in split.items())
        raise Refusal(
            f"Traffic of `{service.ref.service}` is split ({shares}): a new revision would"
            " replace only one of them. Finish the split first: `/ops roll-forward` or"
            " `/ops rollback --to REVISION`."
        )


def pinned_base(ctx: ChangeContext, service: Service) -> Revision | None:
    """The serving revision when traffic is pinned away from the template's, else None."""
    main = service.main_revision
    if not service.serving or main == service.latest_created_revision:
        return None
    return ctx.platform.run.get_revision(ctx.service_ref, main)


def _differences(service: Service, change: ServiceChange) -> dict[str, Change]:
    """Setting key -> its change, for each value that differs from the service's."""
    rows = (
        ("min", "Min instances", service.scaling.min_instances, change.min_instances),
        ("max", "Max instances", service.scaling.max_instances, change.max_instances),
        ("memory", "Memory", service.resources.memory, change.memory),
        ("cpu", "CPU", service.resources.cpu, change.cpu),
        ("concurrency", "Concurrency", service.concurrency, change.concurrency),
    )
    return {
        key: Change(what, str(before), str(after))
        for key, what, before, after in rows
        if after is not None and str(after) != str(before)
    }


def plan_change(ctx: ChangeContext) -> Plan:
    service = ctx.platform.run.get_service(ctx.service_ref)
    return plan(service, ctx.params["settings"], ctx.env, pinned_base(ctx, service))


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    ref, run = ctx.service_ref, ctx.platform.run
    settings = ctx.params["settings"]
    change, _ = parse_change({str(k): str(v) for k, v in settings.items()})

    def report(p: OperationProgress) -> None:
        progress(f"Applying… {p.elapsed_seconds:.0f}s")

    etag, base = str(ctx.params["etag"]), str(ctx.params.get("base_revision", ""))
    if not base:
        return _done(run.update_scaling(ref, change, etag, on_progress=report))
    limits = ServiceChange(min_instances=change.min_instances, max_instances=change.max_instances)
    if limits != ServiceChange():
        etag = run.update_scaling(ref, limits, etag, on_progress=report).etag
    template = replace(change, min_instances=None, max_instances=None)
    deployed, name = run.deploy_revision(
        ref,
        etag=etag,
        tag=f"scale-{ctx.now:%H%M%S}",
        revision_suffix=f"scale-{ctx.now:%m%d%H%M%S}",
        base_revision=base,
        change=template,
        on_progress=report,
    )
    return _done(run.pin_revision(ref, name, deployed.etag, on_progress=report))


def dry_run(ctx: ChangeContext) -> None:
    ref, run = ctx.service_ref, ctx.platform.run
    change, _ = parse_change({str(k): str(v) for k, v in ctx.params["settings"].items()})
    etag, base = str(ctx.params["etag"]), str(ctx.params.get("base_revision", ""))
    if not base:
        run.update_scaling(ref, change, etag, validate_only=True)
        return
    limits = ServiceChange(min_instances=change.min_instances, max_instances=change.max_instances)
    if limits != ServiceChange():
        run.update_scaling(ref, limits, etag, validate_only=True)
    run.deploy_revision(
        ref,
        etag=etag,
        tag=f"scale-{ctx.now:%H%M%S}",
        revision_suffix=f"scale-{ctx.now:%m%d%H%M%S}",
        base_revision=base,
        change=replace(change, min_instances=None, max_instances=None),
        validate_only=True,
    )


def _done(service: Service) -> Result:
    return Result(
        ok=True,
        summary=(
            f"Now min {service.scaling.min_instances} · max {service.scaling.max_instances}"
            f" · {service.resources.cpu} CPU · {service.resources.memory}"
            f" · concurrency {service.concurrency}; serving `{service.main_revision}`."
        ),
    )


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=service_state, dry_run=dry_run)
