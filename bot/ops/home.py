"""The App Home tab: recent actions, plans awaiting approval, what each environment serves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.deps import Deps
from bot.ops import history
from bot.runtime import job_inputs, logs
from bot.store import Action, Filters, State
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
        data = {"user": str(event.get("user", ""))}
        job_inputs.submit_eventually(JOB_KIND, data, deps.store, deps.queue)

    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: publish(str(data.get("user", "")), deps)
    )


def publish(user: str, deps: Deps) -> None:
    envs = tuple(e for e in deps.config.environments if deps.policy.may_see(user, e).allowed)
    view = {"type": "home", "blocks": home_blocks(deps, envs)}
    deps.slack.views_publish(user_id=user, view=view)


def home_blocks(deps: Deps, envs: tuple[str, ...]) -> list[bk.Block]:
    """What the user may read: actions and serving revisions of `envs` only."""
    if not envs:
        return [bk.header("Fluxori ops"), bk.section("You are not a reader of any environment.")]
    pending = _newest(deps, envs, Filters(states=(State.PENDING,), limit=10))
    recent = [a for a in _newest(deps, envs, Filters(limit=20)) if a.state is not State.PENDING]
    url = deps.workspace_url()
    out = [bk.header("Fluxori ops"), bk.section("*Plans awaiting approval*")]
    out += [bk.section(history.line(a, url)) for a in pending] or [bk.context("None.")]
    out += [bk.divider(), bk.section("*Recent actions*")]
    out += [bk.section(history.line(a, url)) for a in recent[:10]] or [bk.context("Nothing yet.")]
    out += [bk.divider(), bk.section("*Serving now*"), *serving_blocks(deps, envs)]
    return out[:MAX_HOME_BLOCKS]


def _newest(deps: Deps, envs: tuple[str, ...], filters: Filters) -> list[Action]:
    """Newest first across `envs`, each read from its own index: a busy environment the
    user may not read never crowds out the ones they may."""
    found = [a for env in envs for a in deps.store.search(replace(filters, env=env))]
    return sorted(found, key=lambda a: a.created_at, reverse=True)[: filters.limit]


def serving_blocks(deps: Deps, envs: tuple[str, ...]) -> list[bk.Block]:
    lines = []
    for env in envs:
        for service in deps.config.services:
            try:
                current = deps.platform.run.get_service(deps.config.service_ref(env, service))
                split = ", ".join(f"`{n}` {p}%" for n, p in current.serving.items())
            except GcpError as err:
                split = f"_unavailable ({type(err).__name__})_"
            lines.append(f"*{env}* · {service}: {split}")
    return [bk.section("\n".join(lines))]
