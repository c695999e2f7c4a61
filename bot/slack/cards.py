"""Block Kit for an action's card: the plan, its buttons, and its state as it moves on."""

from __future__ import annotations

from datetime import timedelta

from bot.store import Action, State
from handlers import blocks as bk
from handlers.plans import Change, Plan, Result, plan_blocks
from handlers.timefmt import human

CONFIRM = "action.confirm"
CANCEL = "action.cancel"
REPLAN = "action.replan"
UNDO = "action.undo"
DISABLE_OLD = "action.disable_old_version"
CONTINUE = "action.continue"  # a canary roll forward's next step: the rest of the traffic
INCIDENT_RESOLVED = "incident_resolved"  # event kind: the alert the plan came from closed

STATE_LINES = {
    State.PENDING: ":hourglass_flowing_sand: Waiting for confirmation",
    State.APPROVED: ":arrow_forward: Approved by <@{approved_by}>, running…",
    State.RUNNING: ":gear: Approved by <@{approved_by}>, running…",
    State.SUCCEEDED: ":white_check_mark: Done: approved by <@{approved_by}>{duration}",
    State.FAILED: ":x: Failed: approved by <@{approved_by}>{duration}",
    State.CANCELLED: ":no_entry_sign: Cancelled by <@{cancelled_by}>",
    State.EXPIRED: ":alarm_clock: Expired unconfirmed; plan again if still needed",
    State.INTERRUPTED: ":warning: Interrupted: the worker stopped mid-change; see the thread",
    State.REFUSED: ":no_entry: Refused",
    State.NOT_STARTED: (
        ":double_vertical_bar: Approved by <@{approved_by}> but never started; nothing was changed"
    ),
}
# A plan that finished without touching its target (the service changed after the preview):
# recorded as failed, but nothing failed and nothing changed.
NOT_APPLIED_LINE = (
    ":leftwards_arrow_with_hook: Not applied: the service changed after the preview;"
    " approved by <@{approved_by}>, nothing was changed"
)


def plan_of(action: Action) -> Plan:
    """The plan as recorded with the action."""
    stored = action.plan
    return Plan(
        verb=action.verb,
        env=action.env,
        target=action.target,
        title=str(stored.get("title", action.summary)),
        changes=tuple(Change(**c) for c in stored.get("changes", [])),
        notes=tuple(stored.get("notes", [])),
        params=dict(stored.get("params", {})),
    )


def card(action: Action) -> list[bk.Block]:
    """The whole card for the action's current state."""
    body = plan_blocks(plan_of(action), action.requested_by)
    body.append(bk.context(state_line(action) + f" · `{action.id}`"))
    resolved = incident_resolved_line(action)
    if resolved:
        body.append(bk.context(resolved))
    if action.state is State.PENDING:
        body.append(buttons(action))
    return body


def state_line(action: Action) -> str:
    duration = action.duration_seconds
    took = f" · took {human_seconds(duration)}" if duration is not None else ""
    not_applied = action.state is State.FAILED and action.applied is False
    line = NOT_APPLIED_LINE if not_applied else STATE_LINES[action.state]
    return line.format(
        approved_by=action.approved_by or "?",
        cancelled_by=action.cancelled_by or "?",
        duration=took,
    )


def incident_resolved_line(action: Action) -> str:
    """When the incident this plan answers has closed: when, and that Confirm still acts."""
    ended = next((e for e in reversed(action.events) if e.kind == INCIDENT_RESOLVED), None)
    if ended is None:
        return ""
    still = " · Confirm still applies this plan: only if it is still needed"
    return f":white_check_mark: Incident resolved at {bk.slack_date(ended.at)}" + (
        still if action.state is State.PENDING else ""
    )


def human_seconds(seconds: float) -> str:
    return human(timedelta(seconds=seconds))


def buttons(action: Action) -> bk.Block:
    confirm_dialog = None
    if action.env == "prod":
        confirm_dialog = {
            "title": {"type": "plain_text", "text": "Change production?"},
            "text": {"type": "mrkdwn", "text": f"*{bk.escape(action.summary)}* in *prod*."},
            "confirm": {"type": "plain_text", "text": "Yes, do it"},
            "deny": {"type": "plain_text", "text": "Not yet"},
            "style": "danger",
        }
    return bk.actions(
        f"plan:{action.id}",
        bk.button("Confirm", CONFIRM, action.id, style="primary", confirm=confirm_dialog),
        bk.button("Cancel", CANCEL, action.id),
    )


def result_blocks(action: Action, result: Result) -> list[bk.Block]:
    icon = ":white_check_mark:" if result.ok else ":x:"
    out = [bk.section(f"{icon} {result.summary}")]
    if result.details:
        out.append(bk.section("\n".join(result.details)))
    extra = []
    if result.undo is not None:
        extra.append(bk.button("Undo", UNDO, action.id))
    if result.followup is not None:
        version = result.followup.get("version", "")
        extra.append(bk.button(f"Disable old version {version}", DISABLE_OLD, action.id))
    if extra:
        out.append(bk.actions(f"result:{action.id}", *extra))
    return out


def replan_blocks(action: Action, why: str) -> list[bk.Block]:
    return [
        bk.section(f":warning: {why}"),
        bk.actions(
            f"replan:{action.id}", bk.button("Plan again", REPLAN, action.id, style="primary")
        ),
    ]


def progress_block(message: str) -> bk.Block:
    return bk.context(f":hourglass_flowing_sand: {message}")
