"""The scale form: opened at once (a trigger id lasts 3 s), filled once values are read,
validated on submit with errors shown beside the fields, then the same plan as `/ops scale`."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App

from bot.changes import requests
from bot.changes.requests import ChangeRequest
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from gcp import run_rules
from gcp.errors import GcpError
from handlers import blocks as bk
from handlers import scale

log = logs.get(__name__)

CALLBACK = "scale_modal"
FILL_JOB = "scale_modal_fill"
FIELDS = (
    ("min", "Min instances", "Instances kept warm (0 scales to zero)"),
    ("max", "Max instances", "Upper bound under load"),
    ("memory", "Memory", "512Mi to 32Gi, e.g. 2Gi"),
    ("cpu", "CPU", "1, 2, 4, 6 or 8"),
    ("concurrency", "Concurrency", "Requests per instance, 1 to 1000"),
)
MAX_SUGGESTED = 1000


def register(app: App, deps: Deps) -> None:
    app.view(CALLBACK)(lambda ack, body: on_submit(ack, body, deps))
    deps.runners[FILL_JOB] = job_inputs.runner(deps.store, lambda data: fill(data, deps))


def open_form(
    trigger_id: str, meta: dict[str, Any], deps: Deps, suggest_double_max: bool = False
) -> bool:
    """Open a 'reading values' modal now and queue the job that fills it. False if busy."""
    response = deps.slack.views_open(trigger_id=trigger_id, view=_loading(meta))
    view_id = response["view"]["id"]
    fill_in = {"view_id": view_id, "meta": meta, "double": suggest_double_max}
    try:
        job_inputs.submit(FILL_JOB, fill_in, deps.store, deps.queue)
    except QueueFull:
        deps.slack.views_update(view_id=view_id, view=_message(meta, requests.BUSY))
        return False
    return True


def fill(job: dict[str, Any], deps: Deps) -> None:
    meta = job["meta"]
    try:
        service = deps.platform.run.get_service(
            deps.config.service_ref(meta["env"], meta["target"])
        )
    except GcpError as err:
        deps.slack.views_update(
            view_id=job["view_id"], view=_message(meta, f":warning: {err.what}")
        )
        return
    values = {
        "min": str(service.scaling.min_instances),
        "max": str(service.scaling.max_instances),
        "memory": service.resources.memory,
        "cpu": service.resources.cpu,
        "concurrency": str(service.concurrency),
    }
    hints = []
    if job.get("double"):
        values["max"] = str(min(service.scaling.max_instances * 2, MAX_SUGGESTED))
        before = service.scaling.max_instances
        hints.append(f"Suggested: max instances {before} → {values['max']}. Edit as needed.")
    if scale.template_pinned(service):
        # Read once here, so a submission is checked without another Cloud Run call; the
        # plan re-reads the service and refuses if this has changed since.
        meta = {**meta, "pinned": service.main_revision, "template": _template(values)}
        hints.append(
            f":pushpin: Traffic is pinned to `{service.main_revision}` after a rollback:"
            " memory, CPU and concurrency stay as they are until you roll forward."
        )
    deps.slack.views_update(view_id=job["view_id"], view=_form(meta, values, hints))


def on_submit(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    view = body.get("view", {})
    meta = json.loads(view.get("private_metadata") or "{}")
    settings = {key: _value(view, key) for key, _, _ in FIELDS}
    errors = field_errors(settings) or pinned_errors(settings, meta)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    request = ChangeRequest(
        verb="scale",
        env=str(meta.get("env", "")),
        target=str(meta.get("target", "")),
        user=str(body.get("user", {}).get("id", "")),
        channel=str(meta.get("channel", "")),
        origin="form",
        params={"settings": settings},
        thread_ts=str(meta.get("thread_ts", "")),
        alert_id=str(meta.get("alert_id", "")),
    )
    if requests.submit(request, deps):
        log.warning("scale_submission_dropped_queue_full", target=request.target)


def field_errors(settings: dict[str, str]) -> dict[str, str]:
    """Slack's `errors` response: block id -> message, one per wrong field."""
    change, problems = scale.parse_change(settings)
    errors = {_block_for(p): p for p in problems}
    if errors:
        return errors
    for problem in run_rules.validate(
        cpu=settings["cpu"],
        memory=settings["memory"],
        concurrency=change.concurrency or 0,
        min_instances=change.min_instances or 0,
        max_instances=change.max_instances or 0,
    ):
        errors.setdefault(_block_for(problem), problem)
    return errors


def pinned_errors(settings: dict[str, str], meta: dict[str, Any]) -> dict[str, str]:
    """A template field edited while traffic is pinned to an older revision (see fill)."""
    if not meta.get("pinned"):
        return {}
    before = meta.get("template", {})
    return {
        key: f"Traffic is pinned to {meta['pinned']}: {key} can change after you roll forward."
        for key, value in _template(settings).items()
        if value and value != before.get(key)
    }


def _template(values: dict[str, str]) -> dict[str, str]:
    return {key: values[key] for key in scale.TEMPLATE_KEYS}


def _block_for(problem: str) -> str:
    lowered = problem.lower()
    for key in ("memory", "cpu", "concurrency", "min", "max"):
        if key in lowered:
            return key
    return "max"


def _value(view: dict[str, Any], key: str) -> str:
    state = view.get("state", {}).get("values", {}).get(key, {}).get("value", {})
    return str(state.get("value") or "").strip()


def _loading(meta: dict[str, Any]) -> dict[str, Any]:
    return _message(meta, ":hourglass_flowing_sand: Reading the current values…")


def _message(meta: dict[str, Any], text: str) -> dict[str, Any]:
    return {**_shell(meta), "blocks": [bk.section(text)]}


def _form(meta: dict[str, Any], values: dict[str, str], hints: list[str]) -> dict[str, Any]:
    blocks = [bk.section(f"*{meta['target']}* · *{meta['env']}*")]
    blocks += [bk.context(hint) for hint in hints]
    blocks += [_input(key, label, help_text, values[key]) for key, label, help_text in FIELDS]
    return {
        **_shell(meta),
        "submit": {"type": "plain_text", "text": "Preview plan"},
        "blocks": blocks,
    }


def _shell(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "title": {"type": "plain_text", "text": "Scale service"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(meta),
    }


def _input(key: str, label: str, help_text: str, value: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": key,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": help_text},
        "element": {"type": "plain_text_input", "action_id": "value", "initial_value": value},
    }


def trigger_for_command(body: dict[str, Any], env: str, target: str, deps: Deps) -> dict[str, Any]:
    """`/ops scale SERVICE` without values: the form, posted to the command's channel."""
    meta = {"env": env, "target": target, "channel": body.get("channel_id", "")}
    try:
        open_form(str(body.get("trigger_id", "")), meta, deps)
    except Exception as err:  # Slack refused the modal: fall back to the text form
        log.warning("scale_modal_failed", error=type(err).__name__)
        return {
            "response_type": "ephemeral",
            "text": "I could not open the form; use `/ops scale SERVICE min=… max=…`.",
        }
    return {}
