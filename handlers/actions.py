"""What a change action provides to the pipeline: plan from the facts, execute, and say what
the target looks like now. Registered once per action (bot/registry.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gcp.errors import GcpError
from gcp.models import ServiceRef
from handlers.config import OpsConfig
from handlers.plans import Plan, Progress, Result
from handlers.ports import Platform
from handlers.status import traffic_lines


@dataclass(frozen=True)
class ChangeContext:
    """One change's target and what it may act through. `protect` registers a secret value
    for redaction before it exists anywhere else."""

    env: str
    target: str
    params: Mapping[str, Any]
    platform: Platform
    config: OpsConfig
    now: datetime
    protect: Callable[[bytes], None] = field(default=lambda value: None)

    @property
    def service_ref(self) -> ServiceRef:
        return self.config.service_ref(self.env, self.target)

    @property
    def project(self) -> str:
        return self.config.env(self.env).project


@dataclass(frozen=True)
class ChangeSteps:
    plan: Callable[[ChangeContext], Plan]  # reads the facts; raises Refusal or GcpError
    execute: Callable[[ChangeContext, Progress], Result]  # params are the plan's
    current_state: Callable[[ChangeContext], str]  # for an interrupted change's report
    # The exact update sent as Cloud Run's `validate_only` dry run, from the plan's params;
    # raises the GcpError Cloud Run answers. None where the API has no dry run.
    dry_run: Callable[[ChangeContext], None] | None = None


def service_state(ctx: ChangeContext) -> str:
    try:
        return traffic_lines(ctx.platform.run.get_service(ctx.service_ref))
    except GcpError as err:
        return f"_could not read `{ctx.target}`: {err.what}_"


def secret_state(ctx: ChangeContext) -> str:
    try:
        versions = ctx.platform.secrets.list_versions(ctx.project, ctx.target)
    except GcpError as err:
        return f"_could not read `{ctx.target}`: {err.what}_"
    return ", ".join(f"v{v.version} {v.state.lower()}" for v in versions[:5])
