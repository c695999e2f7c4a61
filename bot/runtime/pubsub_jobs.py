"""`BOT_JOBS=pubsub`: jobs published to a topic, pushed back to `POST /tasks`.

The work survives the instance that accepted the click, and Cloud Run can use request-based
CPU: each job runs inside the push request. Redelivered or duplicated messages run once
(message id de-duplication, and the action store's claims underneath).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bot.runtime import logs
from bot.runtime.jobs import Job, NotYet, QueueFull, Runner
from bot.runtime.push_auth import PushAuthError, PushVerifier
from bot.runtime.web import plain, read_body
from bot.store import ActionStore
from bot.store.model import utcnow
from handlers.pubsub import UnreadableAlert, parse_envelope

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from wsgiref.types import StartResponse, WSGIEnvironment

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

log = logs.get(__name__)

PUBLISH_TIMEOUT = 5.0


class PubSubQueue:
    holds_inputs = False  # a job crosses Pub/Sub: its input is stored, the job names it

    def __init__(self, publisher: pubsub_v1.PublisherClient, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    def submit(self, job: Job) -> None:
        data = json.dumps({"kind": job.kind, "payload": job.payload}).encode()
        try:
            self._publisher.publish(self._topic, data, kind=job.kind).result(
                timeout=PUBLISH_TIMEOUT
            )
        except Exception as err:  # any publish failure means the job was not queued
            log.warning("job_publish_failed", kind=job.kind, error=type(err).__name__)
            raise QueueFull("could not queue the job") from None

    def submit_later(self, job: Job, delay_seconds: float) -> None:
        """Published now; /tasks answers 503 until its time, so Pub/Sub's backoff delays it."""
        del delay_seconds
        self.submit(job)

    def drain(self, timeout: float) -> bool:
        del timeout  # nothing runs in this process between requests
        return True

    def close(self) -> None:
        self._publisher.stop()


def tasks_route(
    runners: Mapping[str, Runner], store: ActionStore, verifier: PushVerifier
) -> Callable[[WSGIEnvironment, StartResponse], list[bytes]]:
    """`POST /tasks`: a verified push of a job this process has a runner for, run once."""

    def handle(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        try:
            verifier.verify(environ.get("HTTP_AUTHORIZATION", ""))
        except PushAuthError as err:
            log.warning("push_rejected", route="/tasks", status=err.status, reason=err.reason)
            code = {401: "401 Unauthorized", 403: "403 Forbidden"}.get(
                err.status, "503 Service Unavailable"
            )
            return plain(start_response, code, err.reason)
        try:
            message_id, job = _pushed_job(read_body(environ) or b"", runners)
        except (UnreadableAlert, ValueError) as err:
            log.warning("job_refused", reason=str(err))
            return plain(start_response, "400 Bad Request", f"not a job this bot runs: {err}")
        status, text = run_pushed(message_id, job, runners[job.kind], store)
        return plain(start_response, status, text)

    return handle


def _pushed_job(body: bytes, runners: Mapping[str, Runner]) -> tuple[str, Job]:
    envelope = parse_envelope(body)
    job = decode(envelope.data)
    if job.kind not in runners:
        raise ValueError(f"unknown job kind {job.kind[:60]!r}")
    return envelope.message_id, job


def run_pushed(message_id: str, job: Job, run: Runner, store: ActionStore) -> tuple[str, str]:
    """Run one pushed job; 2xx even when it failed (its record says so), to stop redelivery."""
    if not store.first_seen(f"job:{message_id}", utcnow()):
        return "200 OK", "duplicate delivery"
    try:
        run(job)
    except NotYet:
        store.forget(f"job:{message_id}")
        return "503 Service Unavailable", "not due yet; redeliver later"
    except Exception:  # the job's own record carries the outcome; never redeliver forever
        log.exception("job_crashed", kind=job.kind, message_id=message_id)
        return "200 OK", "job failed; see its record"
    return "200 OK", "done"


def decode(data: bytes) -> Job:
    raw: Any = json.loads(data)
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise ValueError("job message has no kind")
    payload = raw.get("payload") or {}
    if not isinstance(payload, dict):
        raise ValueError("job payload is not an object")
    return Job(raw["kind"], payload)
