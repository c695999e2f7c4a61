"""The job-queue port: work that must not hold up Slack's 3-second acknowledgement.

`InlineQueue` runs jobs on a few threads in this process. On Cloud Run it needs CPU allocated
outside requests ("CPU always allocated"), or the work after the ack starves.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.runtime import logs

log = logs.get(__name__)

# Jobs that only read and answer (and an alert storm's group card, which waits behind
# changes like a read); every other kind (plan, run, card, tell, maintenance, a rollback
# check...) changes something or reports on a change, and is taken first.
READ_KINDS = frozenset({"command", "home", "alert_group_card"})
JOB_OVERHEAD_BYTES = 512  # the Job, its deque slot and its context, beyond the payload
OBJECT_BYTES = 64  # a number, a flag or an object in a job's data, counted as this much
DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Job:
    """A unit of work; `payload` is JSON-serialisable so a Pub/Sub queue can carry it."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    # What an in-process queue hands over beside the payload; never serialised, so a job
    # arriving from outside (Pub/Sub push) cannot carry it.
    held: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # Jobs of one group do the same work: one queued behind another of its group, not yet
    # started, joins it (see InlineQueue.submit). Empty: the job is alone.
    group: str = field(default="", compare=False)


class QueueFull(Exception):
    """The queue cannot take the job; `wait_seconds` is how long until it has drained."""

    def __init__(self, message: str, wait_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class NotYet(Exception):
    """Raised by a job that ran before its time; the queue delivers it again later."""

    def __init__(self, when: datetime) -> None:
        super().__init__(f"not before {when.isoformat()}")
        self.when = when


class JobQueue(Protocol):
    holds_inputs: bool  # jobs stay in this process: their inputs may travel in `Job.held`

    def submit(self, job: Job) -> None: ...

    def submit_later(self, job: Job, delay_seconds: float) -> None: ...

    def drain(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


Runner = Callable[[Job], None]
JOINED = "joined"  # in a queued job's `held`: the `held` of each job that joined it
JOIN_LIMIT = 10  # jobs in one group's run, the first included


@dataclass
class _Entry:
    job: Job
    size: int
    context: contextvars.Context


def job_bytes(job: Job) -> int:
    """What a queued job holds in memory, roughly: the characters of its data plus a fixed
    overhead (counted, not serialised: every command's ack asks)."""
    return _characters(job.payload) + _characters(job.held) + len(job.kind) + JOB_OVERHEAD_BYTES


def _characters(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):  # a loop, not a sum over a generator: every ack counts one
        total = 0
        for key, item in value.items():
            total += len(key) if isinstance(key, str) else len(str(key))
            total += len(item) if isinstance(item, str) else _characters(item)
        return total
    if isinstance(value, (list, tuple)):
        return sum(_characters(item) for item in value)
    # An object (a parsed Command) is counted by its fields, not walked: what they hold is
    # made from the job's text, counted already, and walking them cost more than the ack.
    return OBJECT_BYTES * (1 + len(getattr(value, "__dict__", ())))


class JobDurations:
    """How long a job takes, smoothed over the recent ones, to tell people an honest wait."""

    def __init__(self, first_guess: float = 0.05) -> None:
        self.mean_seconds = first_guess

    def record(self, seconds: float) -> None:
        self.mean_seconds += 0.05 * (seconds - self.mean_seconds)


class InlineQueue:
    """In-process workers over two lanes: changes first, then reads. What may wait is bounded
    by the bytes the queued jobs hold, not by a count; past that `submit` raises QueueFull
    with the expected wait instead of piling up."""

    holds_inputs = True  # jobs never leave this process: their inputs can stay in memory

    def __init__(
        self, runner: Runner, workers: int = 4, budget_bytes: int = DEFAULT_BUDGET_BYTES
    ) -> None:
        self._runner = runner
        self._budget = budget_bytes
        self._lanes: tuple[deque[_Entry], deque[_Entry]] = (deque(), deque())
        self._open: dict[str, _Entry] = {}  # by group: the queued job a new one would join
        self._running_groups: dict[str, int] = {}  # by group: its jobs running now
        self._queued_bytes = 0
        self._running = 0
        self._closed = False
        lock = threading.RLock()
        self._changed = threading.Condition(lock)  # a job was queued, or the queue closed
        # Nothing queued or running: its own condition, so that each finished job does not
        # wake every idle worker.
        self._idle = threading.Condition(lock)
        self._durations = JobDurations()
        self._threads = [
            threading.Thread(target=self._work, name=f"job-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        """Queue `job`; one whose group has a job queued and not yet started (with room for
        one more, JOIN_LIMIT) joins that one instead: its `held` goes into that job's
        `held[JOINED]`, for the runner to do both in one go."""
        size = job_bytes(job)
        with self._changed:
            if self._closed:
                raise RuntimeError("the queue is closed")
            if self._queued_bytes + size > self._budget:
                wait = self.wait_seconds()
                log.warning("job_rejected_queue_full", kind=job.kind, wait_s=round(wait, 1))
                raise QueueFull("the bot is busy", wait)
            self._queued_bytes += size
            if not self._join(job, size):
                # Carry the request's log context (request id, trace, Slack user) into the job.
                entry = _Entry(job, size, contextvars.copy_context())
                (self._lanes[1] if job.kind in READ_KINDS else self._lanes[0]).append(entry)
                if job.group and job.held is not None:
                    self._open[job.group] = entry
                self._changed.notify()

    def _join(self, job: Job, size: int) -> bool:
        entry = self._open.get(job.group) if job.group and job.held is not None else None
        if entry is None or entry.job.held is None:
            return False
        joined = entry.job.held.setdefault(JOINED, [])
        if len(joined) + 1 >= JOIN_LIMIT:
            return False
        joined.append(job.held)
        entry.size += size
        return True

    def wait_seconds(self) -> float:
        """How long a job queued now would wait: the work ahead of it shared by the workers."""
        ahead = self.depth() + 1
        return ahead * self._durations.mean_seconds / len(self._threads)

    def depth(self) -> int:
        """Jobs queued or running."""
        return len(self._lanes[0]) + len(self._lanes[1]) + self._running

    def submit_later(self, job: Job, delay_seconds: float) -> None:
        timer = threading.Timer(delay_seconds, self._submit_quietly, [job])
        timer.daemon = True
        timer.start()

    def _submit_quietly(self, job: Job) -> None:
        try:
            self.submit(job)
        except QueueFull as full:  # still too much: try again once it should have drained
            log.warning("delayed_job_requeued_queue_full", kind=job.kind)
            self.submit_later(job, max(full.wait_seconds, 1.0))
        except RuntimeError:  # the queue closed while the timer waited (process stopping)
            log.info("delayed_job_dropped_shutting_down", kind=job.kind)

    def _next(self) -> _Entry | None:
        with self._changed:
            while (entry := self._take()) is None:
                if self._closed and not (self._lanes[0] or self._lanes[1]):
                    return None
                self._changed.wait()
            group = entry.job.group
            if self._open.get(group) is entry:  # started: nothing joins it now
                del self._open[group]
            if group:
                self._running_groups[group] = self._running_groups.get(group, 0) + 1
            self._queued_bytes -= entry.size
            self._running += 1
            return entry

    def _take(self) -> _Entry | None:
        """The next job to start: changes first, then the first read not gathering. A group's
        open job (the one new jobs of the group join) waits while a job of its group runs,
        gathering those that arrive meanwhile: their answer would be the same one, posted
        again, a few milliseconds later."""
        if self._lanes[0]:
            return self._lanes[0].popleft()
        for index, entry in enumerate(self._lanes[1]):
            group = entry.job.group
            if not (group in self._running_groups and self._open.get(group) is entry):
                del self._lanes[1][index]
                return entry
        return None

    def _work(self) -> None:
        while (entry := self._next()) is not None:
            started = time.monotonic()
            try:
                entry.context.run(self._run, entry.job)
            finally:
                with self._changed:
                    self._finished(entry.job.group)
                    self._durations.record(time.monotonic() - started)

    def _finished(self, group: str) -> None:
        self._running -= 1
        if group:
            left = self._running_groups.pop(group) - 1
            if left:
                self._running_groups[group] = left
            elif group in self._open:  # its gathered job may start now
                self._changed.notify()
        if self.depth() == 0:
            self._idle.notify_all()

    def _run(self, job: Job) -> None:
        try:
            self._runner(job)
        except NotYet as early:
            wait = (early.when - datetime.now(early.when.tzinfo)).total_seconds()
            self.submit_later(job, max(wait, 0.01))
        except Exception:
            log.exception("job_crashed", kind=job.kind)

    def drain(self, timeout: float) -> bool:
        """True once no job is queued or running (for shutdown and tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self.depth() == 0, timeout)

    def close(self) -> None:
        """Finish what is queued, then stop the workers."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()


def queued_jobs(queue: JobQueue) -> int:
    """Jobs queued or running in this process (0 when jobs run elsewhere)."""
    return queue.depth() if isinstance(queue, InlineQueue) else 0


def expected_wait(queue: JobQueue) -> float:
    """Seconds a job queued now would wait in this process (0 when jobs run elsewhere)."""
    return queue.wait_seconds() if isinstance(queue, InlineQueue) else 0.0
