"""Jobs carry ids, never authority.

A listener, running inside the request whose Slack signature (or push token) was verified,
stores what that request asked for; the job it queues names only the stored input's id, and
the input is taken at most once. A forged or replayed job finds nothing to act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.runtime import logs
from bot.runtime.jobs import Job, JobQueue, Runner
from bot.store import ActionStore
from bot.store.model import iso, new_id, utcnow

log = logs.get(__name__)

RECORD = "job_input"
KEY = "input"


def submit(kind: str, data: dict[str, Any], store: ActionStore, queue: JobQueue) -> None:
    """Store `data` and queue a `kind` job naming it; raises QueueFull like `queue.submit`."""
    now = utcnow()
    key = new_id(now)
    store.put_record(RECORD, key, {"data": data, "stored_at": iso(now)})
    queue.submit(Job(kind, {KEY: key}))


def take(job: Job, store: ActionStore) -> dict[str, Any] | None:
    """The stored input the job names, the first time it is asked for; else None."""
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


def runner(store: ActionStore, handle: Callable[[dict[str, Any]], None]) -> Runner:
    """A job runner that hands `handle` the job's stored input, once."""

    def run(job: Job) -> None:
        data = take(job, store)
        if data is not None:
            handle(data)

    return run
