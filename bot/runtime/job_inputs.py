"""Jobs carry ids, never authority.

A listener, running inside the request whose Slack signature (or push token) was verified,
stores what that request asked for; the job it queues names only the stored input's id, and
the input is taken at most once. A forged or replayed job finds nothing to act on.

A queue that runs jobs in this process (`holds_inputs`) gets the input in the job itself
(`Job.held`, which is never serialised): nothing outside the process can reach it, and the
acknowledgement saves a write to the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.runtime import logs
from bot.runtime.jobs import JOINED, Job, JobQueue, QueueFull, Runner
from bot.store import ActionStore
from bot.store.model import iso, new_id, utcnow

log = logs.get(__name__)

RECORD = "job_input"
KEY = "input"


def submit(
    kind: str,
    data: dict[str, Any],
    store: ActionStore,
    queue: JobQueue,
    in_process: dict[str, Any] | None = None,
    same_as: str = "",
) -> None:
    """Store `data` and queue a `kind` job naming it; raises QueueFull like `queue.submit`.
    `in_process`: more for the job when it runs in this process (the request's own parsed
    objects, say); it is never stored, so a job must work without it. `same_as`: jobs of
    one kind with the same `same_as` do the same work, so in this process one may join
    another that waits (its input then reaches the handler in the first's JOINED)."""
    queue.submit(input_job(kind, data, store, queue, in_process, same_as))


def submit_eventually(kind: str, data: dict[str, Any], store: ActionStore, queue: JobQueue) -> None:
    """Like `submit`, but a full queue defers the job until it should have room again."""
    job = input_job(kind, data, store, queue)
    try:
        queue.submit(job)
    except QueueFull as full:
        log.warning("job_deferred_queue_full", kind=kind, wait_s=round(full.wait_seconds, 1))
        try:
            queue.submit_later(job, max(full.wait_seconds, 1.0))
        except QueueFull:  # a queue that cannot defer either (Pub/Sub unreachable)
            log.error("job_dropped_queue_full", kind=kind)


def input_job(
    kind: str,
    data: dict[str, Any],
    store: ActionStore,
    queue: JobQueue,
    in_process: dict[str, Any] | None = None,
    same_as: str = "",
) -> Job:
    if queue.holds_inputs:
        held = {"data": {**data, **in_process} if in_process else data}
        return Job(kind, held=held, group=f"{kind}:{same_as}" if same_as else "")
    now = utcnow()
    key = new_id(now)
    store.put_record(RECORD, key, {"data": data, "stored_at": iso(now)})
    return Job(kind, {KEY: key})


def take(job: Job, store: ActionStore) -> dict[str, Any] | None:
    """The stored input the job names, the first time it is asked for; else None."""
    if job.held is not None:
        return _held_input(job.held)
    key = job.payload.get(KEY)
    if not isinstance(key, str) or not key:
        log.warning("job_input_missing", kind=job.kind)
        return None
    stored = store.get_record(RECORD, key)
    if stored is None or not isinstance(stored.get("data"), dict):
        log.warning("job_input_unknown", kind=job.kind, input=key[:40])
        return None
    if not store.first_seen(f"{RECORD}:{key}", utcnow()):
        log.info("job_input_already_taken", kind=job.kind, input=key)
        return None
    return dict(stored["data"])


def _held_input(held: dict[str, Any]) -> dict[str, Any] | None:
    """The input held in memory, taken; with the inputs of the jobs that joined it."""
    data = held.pop("data", None)
    if not isinstance(data, dict):
        return None
    joined = [_held_input(other) for other in held.pop(JOINED, [])]
    return {**data, JOINED: [other for other in joined if other]} if joined else dict(data)


def runner(store: ActionStore, handle: Callable[[dict[str, Any]], None]) -> Runner:
    """A job runner that hands `handle` the job's stored input, once."""

    def run(job: Job) -> None:
        data = take(job, store)
        if data is not None:
            handle(data)

    return run
