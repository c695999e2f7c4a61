"""The database chapter's buttons outside plan cards, each becoming a change request admitted
and planned like a typed command (bot/changes/admission.py):
- "Create this index" on an errors or logs answer: `create-index` with the decoded index;
- "Export first" beside a prod plan the policy marks as risky (`[policy] export_first_verbs`,
  none by default): `export` of every collection, planned in that plan's thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.changes.export_first import EXPORT_FIRST
from bot.deps import Deps
from bot.runtime import job_inputs
from bot.slack.click_jobs import queue_click
from bot.slack.clicks import Click
from handlers.buttons import CREATE_INDEX, parse_index_value
from handlers.config import DATABASE_TARGET

JOB_KIND = "db_click"


def register(app: App, deps: Deps) -> None:
    for button in REQUESTS:
        app.action(button)(lambda ack, body: queue_click(ack, body, JOB_KIND, deps))
    deps.runners[JOB_KIND] = job_inputs.runner(
        deps.store, lambda data: request_change(Click(**data), deps)
    )


def request_change(click: Click, deps: Deps) -> None:
    request = REQUESTS[click.button](click) if click.button in REQUESTS else None
    if request is None:
        deps.messenger.respond_text(click.response_url, "I could not read that button.")
        return
    admission.handle(request, deps)


def _create_index(click: Click) -> ChangeRequest | None:
    parsed = parse_index_value(click.value)
    if parsed is None:
        return None
    env, collection, fields = parsed
    params = {"collection": collection, "fields": fields}
    return _request(click, "create-index", env, "index-offer", params)


def _export_first(click: Click) -> ChangeRequest | None:
    return _request(click, "export", click.value, "export-first", {"collections": ""})


def _request(
    click: Click, verb: str, env: str, origin: str, params: dict[str, Any]
) -> ChangeRequest:
    return ChangeRequest(
        verb=verb,
        env=env,
        target=DATABASE_TARGET,
        user=click.user,
        channel=click.channel,
        origin=origin,
        params=params,
        response_url=click.response_url,
        thread_ts=click.thread_ts or click.message_ts,
    )


REQUESTS: dict[str, Callable[[Click], ChangeRequest | None]] = {
    CREATE_INDEX: _create_index,
    EXPORT_FIRST: _export_first,
}
