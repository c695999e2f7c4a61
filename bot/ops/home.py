"""The App Home tab: recent actions, plans awaiting approval, what each environment serves."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.deps import Deps
from bot.ops import history
from bot.runtime import logs
from bot.runtime.jobs import Job, QueueFull
from bot.store import Filters, State
from gcp.errors import GcpError
from handlers import blocks as bk

log = logs.get(__name__)

JOB_KIND = "home"
MAX_HOME_BLOCKS = 100


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        try:
            deps.queue.submit(Job(JOB_KIND, {"user_id": event.get("user", "")}))
        except QueueFull:
            log.warning("home_skipped_queue_full")

    deps.runners[JOB_KIND] = lambda job: publish(job.payload["user_id"], deps)


def publish(user: str, deps: Deps) -> None:
    deps.slack.views_publish(user_id=user, view={"type": "home", "blocks": home_blocks(deps)})


def home_blocks(deps: Deps) -> list[bk.Block]:
    pending = deps.store.search(Filters(states=(State.PENDING,), limit=10))
    recent = [a for a in deps.store.search(Filters(limit=20)) if a.state is not State.PENDING]
    url = deps.workspace_url()
    out = [bk.header("Fluxori ops"), bk.section("*Plans awaiting approval*")]
    out += [bk.section(history.line(a, url)) for a in pending] or [bk.context("None.")]
    out += [bk.divider(), bk.section("*Recent actions*")]
    out += [bk.section(history.line(a, url)) for a in recent[:10]] or [bk.context("Nothing yet.")]
    out += [bk.divider(), bk.section("*Serving now*"), *serving_blocks(deps)]
    return out[:MAX_HOME_BLOCKS]


def serving_blocks(deps: Deps) -> list[bk.Block]:
    lines = []
    for env in deps.config.environments:
        for service in deps.config.services:
            try:
                current = deps.platform.run.get_service(deps.config.service_ref(env, service))
                split = ", ".join(f"`{n}` {p}%" for n, p in current.serving.items())
            except GcpError as err:
                split = f"_unavailable ({type(err).__name__})_"
            lines.append(f"*{env}* · {service}: {split}")
    return [bk.section("\n".join(lines))]
