"""`/ops scale SERVICE [min=N] [max=N] [memory=2Gi] [cpu=2] [concurrency=80]`."""

from __future__ import annotations

from gcp import run_rules
from gcp.models import Service, ServiceChange
from handlers import blocks as bk
from handlers.actions import ChangeContext, ChangeSteps, service_state
from handlers.plans import Change, Plan, Progress, Refusal, Result, snapshot

INT_KEYS = {"min": "min_instances", "max": "max_instances", "concurrency": "concurrency"}
TEMPLATE_KEYS = ("memory", "cpu", "concurrency")  # they live in the revision template


def parse_change(settings: dict[str, str]) -> tuple[ServiceChange, list[str]]:
    """Strings from Slack -> a change, with one message per value that is not well formed."""
    problems: list[str] = []
    ints: dict[str, int] = {}
    for key, field_name in INT_KEYS.items():
        if key in settings:
            value = settings[key].strip()
            if value.isdigit():
                ints[field_name] = int(value)
            else:
                problems.append(f"{bk.code(f'{key}={value}')} must be a whole number.")
    memory = settings.get("memory", "").strip() or None
    cpu = settings.get("cpu", "").strip() or None
    return ServiceChange(memory=memory, cpu=cpu, **ints), problems


def validate(service: Service, change: ServiceChange) -> list[str]:
    """Cloud Run's rules on the values the change sets, in the combination it leaves."""
    return run_rules.validate_change(run_rules.settings_of(service), run_rules.requested(change))


def plan(service: Service, settings: dict[str, str], env: str) -> Plan:
    change, problems = parse_change(settings)
    problems = problems or [bk.escape(p) for p in validate(service, change)]
    if problems:
        raise Refusal("These values cannot be applied:\n" + "\n".join(f"• {p}" for p in problems))
    # The form sends every field: only values that differ are changes (an unchanged memory
    # must not count as a template change, which would make a needless revision).
    differences = _differences(service, change)
    if not differences:
        raise Refusal(f"`{service.ref.service}` already has those values; nothing to change.")
    changes_template = any(key in TEMPLATE_KEYS for key in differences)
    if changes_template:
        _check_template_is_serving(service)
    notes = (
        "Creates a new revision from the current template; it takes traffic as today's does."
        if changes_template
        else "Instance limits apply to the whole service: no new revision.",
    )
    return Plan(
        verb="scale",
        env=env,
        target=service.ref.service,
        title=f"Scale {service.ref.service}",
        changes=tuple(differences.values()),
        notes=notes,
        params={
            "etag": service.etag,
            "settings": {key: change.after for key, change in differences.items()},
            "snapshot": snapshot(service),
        },
    )


def _check_template_is_serving(service: Service) -> None:
    reason = template_pinned(service)
    if reason:
        raise Refusal(reason)


def template_pinned(service: Service) -> str | None:
    """Why memory, CPU and concurrency cannot change now, or None if they can.

    A template change builds on the latest revision. After a rollback traffic is pinned to an
    older revision: a new revision would carry the newer (rolled-back) image and get no
    traffic, so the change would not help.
    """
    latest = service.latest_created_revision
    if not service.serving or latest in service.serving:
        return None
    return (
        f"Traffic is pinned to `{service.main_revision}` but the template is that of"
        f" `{latest}`; memory, CPU or concurrency changes would create a revision of"
        " the newer image that gets no traffic. Change only min/max, or roll forward first."
    )


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
    return plan(ctx.platform.run.get_service(ctx.service_ref), ctx.params["settings"], ctx.env)


def execute(ctx: ChangeContext, progress: Progress) -> Result:
    ref, params, platform = ctx.service_ref, ctx.params, ctx.platform
    settings = params["settings"]
    assert isinstance(settings, dict)
    change, _ = parse_change({str(k): str(v) for k, v in settings.items()})
    service = platform.run.update_scaling(
        ref,
        change,
        str(params["etag"]),
        on_progress=lambda p: progress(f"Applying… {p.elapsed_seconds:.0f}s"),
    )
    return Result(
        ok=True,
        summary=(
            f"Now min {service.scaling.min_instances} · max {service.scaling.max_instances}"
            f" · {service.resources.cpu} CPU · {service.resources.memory}"
            f" · concurrency {service.concurrency}; serving `{service.main_revision}`."
        ),
    )


STEPS = ChangeSteps(plan=plan_change, execute=execute, current_state=service_state)
