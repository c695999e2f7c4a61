"""The job-queue port: work that must not hold up Slack's 3-second acknowledgement.

`InlineQueue` runs jobs on a bounded pool of threads in this process. On Cloud Run it needs
CPU allocated outside requests ("CPU always allocated"), or the work after the ack starves.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.runtime import logs

log = logs.get(__name__)


@dataclass(frozen=True)
class Job:
    """A unit of work; `payload` is JSON-serialisable so a Pub/Sub queue can carry it."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class QueueFull(Exception):
    """The queue is at capacity; the caller tells the user to retry shortly."""


class NotYet(Exception):
    """Raised by a job that ran before its time; the queue delivers it again later."""

    def __init__(self, when: datetime) -> None:
        super().__init__(f"not before {when.isoformat()}")
        self.when = when


class JobQueue(Protocol):
    def submit(self, job: Job) -> None: ...

    def submit_later(self, job: Job, delay_seconds: float) -> None: ...

    def drain(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


Runner = Callable[[Job], None]


class InlineQueue:
    """Bounded in-process worker pool; `submit` raises QueueFull instead of piling up."""

    def __init__(self, runner: Runner, workers: int = 4, capacity: int = 64) -> None:
        self._runner = runner
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._slots = threading.BoundedSemaphore(capacity)
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, job: Job) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("job_rejected_queue_full", kind=job.kind)
            raise QueueFull("the bot is busy")
        with self._idle:
            self._pending += 1
        # Carry the request's log context (request id, trace, Slack user) into the job.
        self._pool.submit(contextvars.copy_context().run, self._run, job)

    def submit_later(self, job: Job, delay_seconds: float) -> None:
        timer = threading.Timer(delay_seconds, self._submit_quietly, [job])
        timer.daemon = True
        timer.start()

    def _submit_quietly(self, job: Job) -> None:
        try:
            self.submit(job)
        except QueueFull:
            log.warning("delayed_job_dropped_queue_full", kind=job.kind)
        except RuntimeError:  # the pool shut down while the timer waited (process stopping)
            log.info("delayed_job_dropped_shutting_down", kind=job.kind)

    def _run(self, job: Job) -> None:
        try:
            self._runner(job)
        except NotYet as early:
            wait = (early.when - datetime.now(early.when.tzinfo)).total_seconds()
            self.submit_later(job, max(wait, 0.01))
        except Exception:
            log.exception("job_crashed", kind=job.kind)
        finally:
            self._slots.release()
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """True once no job is queued or running (for shutdown and tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
