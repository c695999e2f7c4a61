"""Capacity: bursts of commands are all answered, once; changes never wait behind reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from bot import container
from bot.dev.slack_emulator.transport import BotResponse
from bot.runtime.coalesce import Coalescer
from bot.runtime.jobs import JOINED, InlineQueue, Job, QueueFull, job_bytes
from tests.support.slack import ALICE, BOB, CAROL, askers, text_of, who_line
from tests.support.stack import OPS_CHANNEL, Stack, eventually

STATUS = "status fluxori-backend"


USERS = [f"U_PERSON{n:03d}" for n in range(200)]


def burst(stack: Stack, commands: int, concurrency: int) -> list[BotResponse]:
    """`commands` status commands, each from its own person."""
    with ThreadPoolExecutor(concurrency) as pool:
        return list(
            pool.map(
                lambda n: stack.slack.slash_command(USERS[n], OPS_CHANNEL, text=STATUS),
                range(commands),
            )
        )


def answered_roots(stack: Stack) -> list[dict[str, Any]]:
    return [m for m in stack.slack.messages(OPS_CHANNEL) if STATUS in text_of(m)]


def test_a_burst_of_commands_is_answered_once_each(stack: Stack) -> None:
    """200 status commands from 200 people at concurrency 32: none refused, each person named
    in exactly one answer (commands alike that waited together share one)."""
    acks = burst(stack, 200, 32)
    assert [a.status for a in acks] == [200] * 200
    assert not [a.body for a in acks if "try again" in a.body]
    eventually(lambda: len(askers_answered(stack)) == 200, timeout=30, what="200 answered")
    stack.idle(30)
    answers = answered_roots(stack)
    assert sorted(askers_answered(stack)) == sorted(USERS[:200])
    assert len(answers) <= 200
    assert all("Traffic" in text_of(a) for a in answers)


def askers_answered(stack: Stack) -> list[str]:
    """Each asker named by an answer, once per answer naming them."""
    return [user for m in stack.slack.messages(OPS_CHANNEL) for user in askers(m)]


@contextmanager
def one_busy_worker(stack: Stack) -> Iterator[None]:
    """The stack's queue with a single worker, busy until the block ends: what is queued
    meanwhile waits together."""
    deps = stack.bot.deps
    deps.queue = InlineQueue(lambda job: container.dispatch(job, deps), workers=1)
    gate = threading.Event()

    def busy(_: Job) -> None:
        gate.wait(10)

    deps.runners["gate"] = busy
    deps.queue.submit(Job("gate"))
    try:
        yield
    finally:
        gate.set()


def test_commands_alike_that_wait_together_get_one_answer_naming_each_asker(
    stack: Stack,
) -> None:
    """Three people ask the same while the bot is behind: one message names all three.
    Another service or another environment is another question, answered on its own."""
    with one_busy_worker(stack):
        for user in (ALICE, BOB, CAROL):
            stack.slack.slash_command(user, OPS_CHANNEL, text=STATUS)
        stack.slack.slash_command(BOB, OPS_CHANNEL, text="status fluxori-frontend")
        stack.slack.slash_command(CAROL, OPS_CHANNEL, text=f"{STATUS} --env dev")
    stack.idle()
    assert sorted(who_line(m) for m in stack.slack.messages(OPS_CHANNEL)) == [
        f"<@{ALICE}>, <@{BOB}> and <@{CAROL}> ran `/ops {STATUS}` · *prod*",
        f"<@{BOB}> ran `/ops status fluxori-frontend` · *prod*",
        f"<@{CAROL}> ran `/ops {STATUS} --env dev` · *dev*",
    ]
    assert sorted(askers_answered(stack)) == sorted([ALICE, BOB, CAROL, BOB, CAROL])


def test_one_answer_names_at_most_ten_askers(stack: Stack) -> None:
    """25 people asking the same while the bot is behind: three answers (10, 10, 5), each
    person in exactly one."""
    with one_busy_worker(stack):
        for user in USERS[:25]:
            stack.slack.slash_command(user, OPS_CHANNEL, text=STATUS)
    stack.idle()
    per_answer = [askers(m) for m in stack.slack.messages(OPS_CHANNEL)]
    assert sorted(len(names) for names in per_answer) == [5, 10, 10]
    assert sorted(name for names in per_answer for name in names) == sorted(USERS[:25])


def test_a_shared_answer_the_channel_refuses_reaches_each_asker(stack: Stack) -> None:
    """In a channel without the bot, a shared answer comes privately to every asker."""
    with one_busy_worker(stack):
        for user in (ALICE, BOB, CAROL):
            stack.slack.slash_command(user, "C_GENERAL", text=STATUS)
    stack.idle()
    for user in (ALICE, BOB, CAROL):
        [private] = stack.slack.ephemerals(user, "C_GENERAL")
        assert "/invite" in text_of(private)
        assert "Traffic" in text_of(private)


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


def test_a_job_joins_one_of_its_group_only_while_that_one_waits() -> None:
    """B joins A while A waits in the queue; C, queued once A has started, runs on its own.
    Every job's input is handed over once, and the queue ends empty."""
    ran: list[list[str]] = []
    gate, a_running, a_release = threading.Event(), threading.Event(), threading.Event()

    def runner(job: Job) -> None:
        if job.kind == "gate":
            gate.wait(10)
            return
        held = job.held or {}
        ran.append([held["data"], *(other["data"] for other in held.get(JOINED, []))])
        if held["data"] == "A":
            a_running.set()
            a_release.wait(10)

    def job(name: str) -> Job:
        return Job("command", held={"data": name}, group="same")

    queue = InlineQueue(runner, workers=1)
    queue.submit(Job("gate"))
    queue.submit(job("A"))
    queue.submit(job("B"))
    gate.set()
    assert a_running.wait(10)
    queue.submit(job("C"))
    a_release.set()
    assert queue.drain(10)
    assert ran == [["A", "B"], ["C"]]
    assert queue.depth() == 0
    queue.close()


def test_jobs_alike_gather_while_one_of_their_group_runs() -> None:
    """With a worker free, B (queued while A of its group runs) waits for A, and C and D join
    it: one run answers the three. A job of another group runs meanwhile."""
    ran: list[list[str]] = []
    a_running, a_release, other_ran = threading.Event(), threading.Event(), threading.Event()

    def runner(job: Job) -> None:
        held = job.held or {}
        ran.append([held["data"], *(other["data"] for other in held.get(JOINED, []))])
        if held["data"] == "A":
            a_running.set()
            a_release.wait(10)
        if held["data"] == "E":
            other_ran.set()

    def job(name: str, group: str = "same") -> Job:
        return Job("command", held={"data": name}, group=group)

    queue = InlineQueue(runner, workers=2)
    queue.submit(job("A"))
    assert a_running.wait(10)
    for name in "BCD":
        queue.submit(job(name))
    queue.submit(job("E", group="other"))
    assert other_ran.wait(10)  # the free worker took E, not B
    assert ran == [["A"], ["E"]]
    a_release.set()
    assert queue.drain(10)
    assert ran == [["A"], ["E"], ["B", "C", "D"]]
    queue.close()
