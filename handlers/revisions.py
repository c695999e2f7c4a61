"""`/ops revisions SERVICE [--limit N]`: the runbook's "check recent deployments"."""

from __future__ import annotations

from datetime import UTC, datetime

from gcp.models import Revision, Service
from handlers import blocks as bk
from handlers.commands import Command
from handlers.config import OpsConfig
from handlers.ports import Platform
from handlers.timefmt import age

DEFAULT_LIMIT = 5


def run(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    ref = config.service_ref(cmd.env, cmd.service)
    service = platform.run.get_service(ref)
    revisions = platform.run.list_revisions(ref, limit=cmd.limit or DEFAULT_LIMIT)
    return render(service, revisions, cmd.env, datetime.now(UTC))


def render(service: Service, revisions: list[Revision], env: str, now: datetime) -> list[bk.Block]:
    split = service.serving
    out = [bk.header(f"Revisions of {service.ref.service} · {env}")]
    out += [bk.section(revision_line(r, split.get(r.name, 0), now)) for r in revisions]
    if not revisions:
        out.append(bk.section("_No revisions found._"))
    return bk.fit(out)


def revision_line(revision: Revision, percent: int, now: datetime) -> str:
    ready = (
        ":white_check_mark: ready"
        if revision.ready
        else f":x: {bk.escape_clipped(revision.ready_message, 500)}"
    )
    serving = f" · :large_green_circle: *{percent}% traffic*" if percent else ""
    return (
        f"*{bk.code(revision.name)}*{serving}\n"
        f"created {bk.slack_date(revision.create_time)} ({age(revision.create_time, now)})"
        f" · {ready}\n{bk.code(image_tail(revision.image))}"
    )


def image_tail(image: str) -> str:
    """The image's last path element (name:tag or name@digest), which tells revisions apart."""
    return image.rsplit("/", 1)[-1]
