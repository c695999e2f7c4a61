"""The scale form: opened at once (a trigger id lasts 3 s), filled once values are read,
validated on submit with errors shown beside the fields, then the same plan as `/ops scale`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App

from bot.changes import admission
from bot.changes.admission import ChangeRequest
from bot.deps import Deps
from bot.runtime import job_inputs, logs
from bot.runtime.jobs import QueueFull
from gcp.errors import GcpError
from handlers import blocks as bk

if TYPE_CHECKING:
    from gcp.models import Revision, Service, ServiceRef

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
        deps.slack.views_update(view_id=view_id, view=_message(meta, admission.BUSY))
        return False
    return True


def fill(job: dict[str, Any], deps: Deps) -> None:
    meta = job["meta"]
    ref = deps.config.service_ref(meta["env"], meta["target"])
    try:
        service = deps.platform.run.get_service(ref)
        base = _serving_base(service, ref, deps)
    except GcpError as err:
        deps.slack.views_update(
            view_id=job["view_id"], view=_message(meta, f":warning: {err.what}")
        )
        return
    serving = base or service
    values = {
        "min": str(service.scaling.min_instances),
        "max": str(service.scaling.max_instances),
        "memory": serving.resources.memory,
        "cpu": serving.resources.cpu,
        "concurrency": str(serving.concurrency),
    }
    # Read once here, so a submission is checked without another Cloud Run call; the plan
    # re-reads the service and refuses if it has changed since.
    meta = {**meta, "current": dict(values), "split": len(service.serving) > 1}
    hints = []
    if job.get("double"):
        values["max"] = str(min(service.scaling.max_instances * 2, MAX_SUGGESTED))
        before = service.scaling.max_instances
        hints.append(f"Suggested: max instances {before} → {values['max']}. Edit as needed.")
    if base is not None:
        hints.append(
            f":pushpin: Traffic is pinned to `{base.name}` after a rollback: memory, CPU and"
            " concurrency changes build a new revision from it (its image) and move traffic"
            " to it."
        )
    if meta["split"]:
        hints.append(
            ":warning: Traffic is split between revisions: memory, CPU and concurrency can"
            " change once the split is finished."
        )
    deps.slack.views_update(view_id=job["view_id"], view=_form(meta, values, hints))


def _serving_base(service: Service, ref: ServiceRef, deps: Deps) -> Revision | None:
    main = service.main_revision
    if not service.serving or main == service.latest_created_revision:
        return None
    return deps.platform.run.get_revision(ref, main)


def on_submit(ack: Ack, body: dict[str, Any], deps: Deps) -> None:
    view = body.get("view", {})
    meta = _metadata(view)
    if meta is None:
        log.warning("scale_form_unreadable", reason="private_metadata")
        ack(response_action="update", view=_message({}, UNREADABLE))
        return
    settings = {key: _value(view, key) for key, _, _ in FIELDS}
    unread = {key: UNREAD_FIELD for key, value in settings.items() if not value}
    if unread:
        log.warning("scale_form_unreadable", reason="values", fields=sorted(unread))
    errors = unread or field_errors(settings, meta)
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
    if admission.submit(request, deps):
        log.warning("scale_submission_dropped_queue_full", target=request.target)


def field_errors(settings: dict[str, str], meta: dict[str, Any]) -> dict[str, str]:
    """Slack's `errors` response, every problem at once: block id -> message. Only values the
    form changes are judged (a current value the rules dislike is not the user's doing)."""
    current: dict[str, str] = meta.get("current") or {}
    from gcp import run_rules  # loads after start-up (cold start): see gcp.lazy.later
    from handlers import scale

    edited = {k: v for k, v in settings.items() if v and v != current.get(k)}
    change, problems = scale.parse_change(edited)
    if current and not problems:
        now, _ = scale.parse_change(current)
        problems = run_rules.validate_change(run_rules.requested(now), run_rules.requested(change))
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(_block_for(problem), problem)
    if meta.get("split"):
        for key in scale.TEMPLATE_KEYS:
            if key in edited:
                errors.setdefault(key, f"Traffic is split: {key} can change once it is not.")
    return errors


def _block_for(problem: str) -> str:
    lowered = problem.lower()
    for key in ("memory", "cpu", "concurrency", "min", "max"):
        if key in lowered:
            return key
    return "max"


UNREADABLE = (
    ":warning: I could not read this form (what it was opened for is missing)."
    " Close it and run `/ops scale SERVICE` again."
)
UNREAD_FIELD = "I could not read a value here; type it again."
META_TEXT = ("env", "target", "channel")


def _metadata(view: dict[str, Any]) -> dict[str, Any] | None:
    """What the form was opened for, or None when it cannot be read."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
    except ValueError:
        return None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in META_TEXT):
        return None
    current = meta.get("current")
    return meta if current is None or isinstance(current, dict) else None


def _value(view: dict[str, Any], key: str) -> str:
    """The field's text; '' when it is missing or not shaped as a plain text input's state."""
    values = _object(_object(view.get("state")).get("values"))
    state = _object(_object(values.get(key)).get("value"))
    text = state.get("value")
    return text.strip() if isinstance(text, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
