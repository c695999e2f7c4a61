"""`/ops status SERVICE`: the runbook's `gcloud run services describe`, readable."""

from __future__ import annotations

from gcp.models import Service, TrafficTarget
from handlers import blocks as bk
from handlers.commands import Command
from handlers.config import OpsConfig
from handlers.ports import Platform


def run(cmd: Command, platform: Platform, config: OpsConfig) -> list[bk.Block]:
    ref = config.service_ref(cmd.env, cmd.service)
    return render(platform.run.get_service(ref), cmd.env)


def render(svc: Service, env: str) -> list[bk.Block]:
    ready = svc.ready
    state = ":white_check_mark: Ready" if ready is None or ready.ok else ":x: Not ready"
    if ready is not None and not ready.ok and ready.message:
        state += f": {bk.escape_clipped(ready.message, 500)}"
    return [
        bk.header(f"{svc.ref.service} · {env}"),
        bk.section(
            f"{state}\n{bk.link(svc.uri, svc.uri, bk.CLOUD_RUN) if svc.uri else '_no URL yet_'}"
        ),
        bk.fields(
            [
                f"*Latest ready revision*\n{bk.code(svc.latest_ready_revision)}",
                f"*Image*\n{bk.code(svc.image)}",
                f"*Scaling*\nmin {svc.scaling.min_instances} · max {svc.scaling.max_instances}",
                f"*Resources*\n{bk.escape_clipped(svc.resources.cpu)} CPU"
                f" · {bk.escape_clipped(svc.resources.memory)} · concurrency {svc.concurrency}",
            ]
        ),
        bk.section("*Traffic*\n" + traffic_lines(svc)),
        bk.context(
            bk.link(console_url(svc), "Open in Cloud Console", bk.CONSOLE),
            f"project {bk.code(svc.ref.project)} · {bk.escape_clipped(svc.ref.region)}",
        ),
    ]


def traffic_lines(svc: Service) -> str:
    targets = svc.traffic_statuses or svc.traffic
    lines = [_traffic_line(t, svc.latest_ready_revision) for t in targets if t.percent or t.tag]
    return "\n".join(lines) or "_no traffic targets_"


def _traffic_line(target: TrafficTarget, latest: str) -> str:
    name = target.revision or f"{latest} (latest)"
    tag = f" · tag {bk.code(target.tag)}" if target.tag else ""
    return f"• {bk.code(name)}: *{target.percent}%*{tag}"


def console_url(svc: Service) -> str:
    return (
        f"https://console.cloud.google.com/run/detail/{svc.ref.region}/{svc.ref.service}"
        f"/revisions?project={svc.ref.project}"
    )
