"""Capacity: bursts of commands are all answered, once; changes never wait behind reads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot import container
from bot.dev.slack_emulator.transport import BotResponse
from bot.runtime.coalesce import Coalescer
from bot.runtime.jobs import InlineQueue, Job, QueueFull, job_bytes
from tests.support.slack import ALICE, BOB, CAROL, text_of
from tests.support.stack import OPS_CHANNEL, Stack, eventually

STATUS = "status fluxori-backend"


def burst(stack: Stack, commands: int, concurrency: int) -> list[BotResponse]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(
            pool.map(
                lambda _: stack.slack.slash_command(ALICE, OPS_CHANNEL, text=STATUS),
                range(commands),
            )
        )


def answered_roots(stack: Stack) -> list[dict[str, Any]]:
    return [m for m in stack.slack.messages(OPS_CHANNEL) if STATUS in text_of(m)]


def test_a_burst_of_commands_is_answered_once_each(stack: Stack) -> None:
    """200 status commands at concurrency 32: none refused, each answered once."""
    acks = burst(stack, 200, 32)
    assert [a.status for a in acks] == [200] * 200
    assert not [a.body for a in acks if "try again" in a.body]
    eventually(lambda: len(answered_roots(stack)) == 200, timeout=30, what="200 answers")
    stack.idle(30)
    answers = answered_roots(stack)
    assert len(answers) == 200
    assert all("Traffic" in text_of(a) for a in answers)


def test_a_full_queue_says_how_long_to_wait_and_posts_nothing(stack: Stack) -> None:
    """With no room left the ack says when to try again, and nothing half-done is posted."""
    deps = stack.bot.deps
    deps.queue = InlineQueue(lambda job: container.dispatch(job, deps), budget_bytes=1)
    reply = stack.slack.slash_command(ALICE, OPS_CHANNEL, text=STATUS)
    assert reply.status == 200
    assert "try again in about" in reply.json()["text"]
    stack.idle()
    assert answered_roots(stack) == []


def test_a_change_job_runs_before_queued_reads() -> None:
    """A plan submitted while 500 reads wait is the next job to run."""
    ran: list[str] = []
    gate = threading.Event()

    def runner(job: Job) -> None:
        if job.kind == "gate":
            gate.wait(10)
        ran.append(job.kind)

    queue = InlineQueue(runner, workers=1)
    queue.submit(Job("gate"))
    for _ in range(500):
        queue.submit(Job("command", {"input": "x"}))
    queue.submit(Job("plan", {"input": "y"}))
    gate.set()
    assert queue.drain(10)
    queue.close()
    assert ran[:2] == ["gate", "plan"]
    assert len(ran) == 502


def test_the_queue_is_bounded_by_bytes_not_by_count() -> None:
    """Thousands of small jobs fit; one more than the byte budget is refused with a wait."""
    gate = threading.Event()
    small = Job("command", {"input": "k" * 20})

    running = threading.Event()

    def held(job: Job) -> None:
        running.set()
        gate.wait(10)

    queue = InlineQueue(held, workers=1, budget_bytes=job_bytes(small) * 2000)
    queue.submit(small)
    assert running.wait(10)  # the worker holds one; 2,000 more fit in the queue
    for _ in range(2000):
        queue.submit(small)
    with pytest.raises(QueueFull) as refused:
        queue.submit(small)
    gate.set()
    assert queue.drain(10)
    queue.close()
    assert refused.value.wait_seconds > 0


def test_home_opens_during_a_burst_are_all_published(stack: Stack) -> None:
    """App Home opens that find the queue full are published later, none skipped."""
    deps = stack.bot.deps
    small = job_bytes(Job("home", {"input": "0" * 26}))
    deps.queue = InlineQueue(lambda job: container.dispatch(job, deps), 2, small * 4)
    users = [ALICE, BOB, CAROL, "U_DAVE"]
    with ThreadPoolExecutor(8) as pool:
        commands = [
            pool.submit(stack.slack.slash_command, ALICE, OPS_CHANNEL, "/ops", STATUS)
            for _ in range(20)
        ]
        opens = [pool.submit(stack.slack.open_home, user) for user in users * 3]
    assert all(f.result().status == 200 for f in commands + opens)
    eventually(lambda: all(stack.slack.home(user) for user in users), timeout=15, what="every home")


def test_identical_reads_in_flight_share_one_call() -> None:
    """Ten askers of the same question while it is being answered cause one call, ten answers."""
    calls: list[int] = []
    release = threading.Event()
    shared: Coalescer[str] = Coalescer(window=60.0)

    def compute() -> str:
        calls.append(1)
        release.wait(10)
        return "answer"

    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(shared.call, ("status", "prod"), compute) for _ in range(10)]
        eventually(lambda: calls, what="the first call")
        release.set()
        answers = [f.result() for f in futures]
    assert answers == ["answer"] * 10
    assert len(calls) == 1
