"""Run an approved change once: running -> succeeded | failed, progress in the thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from bot import registry
from bot.changes import planning, verify
from bot.deps import Deps
from bot.runtime import logs
from bot.slack import cards
from bot.slack.replies import gcp_problem
from bot.store import Action, Event, State
from bot.store.outbox import OutboxState
from gcp.errors import Conflict, GcpError, OperationFailed
from handlers import blocks as bk
from handlers.plans import Result, differences, snapshot
from handlers.status import traffic_lines

log = logs.get(__name__)

PROGRESS_EVERY = 5.0  # seconds between progress posts; Slack threads stay readable


def run_approved(action: Action, deps: Deps) -> Action:
    """Claim approved -> running, execute, record and report. Returns the final record."""
    now = deps.now()
    claim = deps.store.transition(
        action.id,
        (State.APPROVED,),
        State.RUNNING,
        Event(now, "started", action.approved_by),
        {"started_at": now, "heartbeat_at": now},
    )
    if not claim.won or claim.action is None:
        log.info("change_already_started", action_id=action.id)
        return claim.action or action
    running = claim.action
    progress = _Progress(running, deps)
    result = _execute(running, deps, progress)
    progress.finish(result.ok)
    state = State.SUCCEEDED if result.ok else State.FAILED
    final = (
        deps.store.transition(
            running.id,
            (State.RUNNING, State.INTERRUPTED),  # what Google did wins over a stale heartbeat
            state,
            Event(deps.now(), state.value, "", result.summary),
            {"finished_at": deps.now(), "outcome": result.summary, "applied": not result.stale},
        ).action
        or running
    )
    if result.ok and result.watch:
        verify.schedule(final, deps)
    _report(final, result, deps)  # last, and through the outbox: Slack cannot undo the above
    log.info("change_finished", action_id=final.id, verb=final.verb, state=final.state.value)
    return final


def _execute(action: Action, deps: Deps, progress: _Progress) -> Result:
    params: dict[str, Any] = action.plan.get("params", {})
    try:
        return _dispatch(action, params, deps, progress)
    except Conflict:
        return _stale(action, params, deps)
    except OperationFailed as err:
        log.warning("change_failed_after_accept", action_id=action.id, detail=err.detail)
        return _failed_after_accept(action, params, err)
    except GcpError as err:
        log.warning(
            "change_failed", action_id=action.id, error=type(err).__name__, detail=err.detail
        )
        return Result(
            False, f"Failed: {gcp_problem(err)}", ("Check `/ops status` before retrying.",)
        )
    except Exception as err:  # the record must be finalised whatever happened
        log.exception("change_crashed", action_id=action.id, error=type(err).__name__)
        return Result(False, "Failed with an unexpected error (logged). Check `/ops status`.")


def _failed_after_accept(action: Action, params: dict[str, Any], err: OperationFailed) -> Result:
    """Cloud Run took the update, then the operation failed: the spec may have changed.
    Say what the service is now and the way back."""
    details = [
        f"Cloud Run accepted the change, then it failed: {bk.escape(err.detail or err.what)}."
    ]
    if err.service is not None:
        details.append(f"*The service now*\n{traffic_lines(err.service)}")
    previous = params.get("previous_split")
    if isinstance(previous, dict):
        back = ", ".join(f"`{name}` {pct}%" for name, pct in previous.items())
        details.append(f"The way back: Undo puts traffic back as it was ({back}).")
    else:
        details.append("Check `/ops status` and `/ops revisions` before planning again.")
    return Result(
        False,
        f"Failed after Cloud Run accepted it: {gcp_problem(err)}",
        tuple(details),
        undo={"split": previous} if isinstance(previous, dict) else None,
    )


def _dispatch(action: Action, params: dict[str, Any], deps: Deps, progress: _Progress) -> Result:
    ctx = planning.context(deps, action.env, action.target, params)
    return registry.steps(action.verb).execute(ctx, progress)


def _stale(action: Action, params: dict[str, Any], deps: Deps) -> Result:
    """The etag no longer matches: nothing was changed; say what differs."""
    before = params.get("snapshot", {})
    try:
        now = snapshot(
            deps.platform.run.get_service(deps.config.service_ref(action.env, action.target))
        )
        changed = differences(before, now) or ["(a change not shown in the plan)"]
    except GcpError:
        changed = ["(could not read the service now)"]
    return Result(
        False,
        f"Nothing changed: `{action.target}` was modified after this plan was made.",
        ("What differs now:", *[f"• {c}" for c in changed], "Plan again to see a fresh preview."),
        stale=True,
    )


def _report(action: Action, result: Result, deps: Deps) -> None:
    deps.outbox.update(action.channel, action.card_ts, cards.card(action), action.summary)
    blocks = cards.result_blocks(action, result)
    if result.stale:
        blocks += cards.replan_blocks(action, "The service changed since the preview.")
    deps.outbox.post(
        action.channel,
        blocks,
        result.summary,
        thread_ts=action.thread_ts,
        key=f"result:{action.id}",
    )


class _Progress:
    """Shows progress in one thread message, posted once and then updated in place at most
    every few seconds, and keeps the heartbeat fresh; `finish` turns it into a closing line.
    Never raises: a handler must not fail because Slack or a heartbeat write did."""

    def __init__(self, action: Action, deps: Deps) -> None:
        self.action, self.deps = action, deps
        self._key = f"progress:{action.id}"
        self._started = time.monotonic()
        self._last = 0.0
        self._step = ""  # the latest progress message; "" until one is shown
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            if time.monotonic() - self._last < PROGRESS_EVERY:
                return
            self._last = time.monotonic()
            first, self._step = not self._step, message
        try:
            self.deps.store.update(self.action.id, {"heartbeat_at": self.deps.now()})
            self._show(cards.progress_block(message), message, first)
        except Exception:
            log.exception("progress_not_reported", action_id=self.action.id)

    def finish(self, ok: bool) -> None:
        """Replace the progress message with how the step ended (the result follows it)."""
        if not self._step:
            return
        took = cards.human_seconds(time.monotonic() - self._started)
        step = self._step.split("…")[0].rstrip(" ;:")
        line = f":checkered_flag: {step}: finished after {took}"
        if not ok:
            line = f":octagonal_sign: {step}: stopped after {took}; see below"
        try:
            self._show(bk.context(line), line, first=False)
        except Exception:
            log.exception("progress_not_reported", action_id=self.action.id)

    def _show(self, block: bk.Block, text: str, first: bool) -> None:
        channel = self.action.channel
        if first:
            self.deps.outbox.post(
                channel, [block], text, thread_ts=self.action.thread_ts, key=self._key
            )
            return
        posted = self.deps.store.outbox_get(self._key)
        if posted is not None and posted.state is OutboxState.DELIVERED and posted.ts:
            self.deps.outbox.update(channel, posted.ts, [block], text)
        # Not delivered yet (Slack is failing): the post goes out later as it was recorded.
