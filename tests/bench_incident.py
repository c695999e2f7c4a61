"""`make bench`'s incident section: the bot as in production, under Slack's real limits (the
Slack emulator's, from Slack's documentation), pacing itself by them. 20 people send 60
commands within a few seconds while an alert storm arrives (100 incidents of two policies
within 20 s): posts made, 429s received, ack p99, and the time until the last answer against
the minimum Slack's posting limit allows for the posts made."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bot.dev.local_google import LocalGoogleCerts
from bot.dev.slack_emulator import SlackEmulator
from bot.dev.slack_emulator.rate_limits import POST_BURST, POST_PER_SECOND
from tests.bench import BOT_ARGS, SAMPLE, SECRET, TOKEN, Server, quantiles, signed
from tests.support.slack import askers

PEOPLE = 20
COMMANDS = ("status fluxori-backend", "revisions fluxori-frontend --limit 3", "slo fluxori-backend")
INCIDENTS = 100
POLICIES = ("High 5xx error rate", "High p95 latency")
STORM_SECONDS = 20.0


def incident_under_limits(env: dict[str, str], google: LocalGoogleCerts) -> dict[str, Any]:
    slack = SlackEmulator(bot_url="", signing_secret=SECRET, bot_token=TOKEN, rate_limits=True)
    slack.start()
    bot = Server(BOT_ARGS, {**env, "SLACK_API_URL": slack.api_url, "SLACK_RATE_SCALE": "1"})
    try:
        bot.first_ack_seconds("help")
        slack.driver = type(slack.driver)(
            slack.workspace, f"{bot.url}/slack/events", SECRET, lambda: slack.url
        )
        began = time.time()
        with ThreadPoolExecutor(2) as both:
            storm = both.submit(_alert_storm, bot.url, google)
            acks = both.submit(_commands, bot.url).result()
            statuses = storm.result()
        posts = _wait_for_answers(slack, PEOPLE * len(COMMANDS))
        return _figures(slack, began, acks, statuses, posts)
    finally:
        bot.stop()
        slack.stop()


def _commands(url: str) -> list[tuple[float, str]]:
    """Each person sends their three commands one after another, all at once."""

    def person(n: int) -> list[tuple[float, str]]:
        session, out = requests.Session(), []
        for text in COMMANDS:
            body, headers = signed(text, f"U_PERSON{n:02d}")
            start = time.perf_counter()
            reply = session.post(f"{url}/slack/events", data=body, headers=headers, timeout=10)
            out.append((time.perf_counter() - start, reply.text))
        return out

    with ThreadPoolExecutor(PEOPLE) as pool:
        return [ack for acks in pool.map(person, range(PEOPLE)) for ack in acks]


def _alert_storm(url: str, google: LocalGoogleCerts) -> list[int]:
    """INCIDENTS openings of two policies, spread over STORM_SECONDS."""
    incident = json.loads(SAMPLE.read_text())
    token, session, statuses = google.mint(), requests.Session(), []
    start = time.monotonic()
    for n in range(INCIDENTS):
        incident["incident"]["incident_id"] = f"0.incident{n}"
        incident["incident"]["policy_name"] = POLICIES[n % 2]
        data = base64.b64encode(json.dumps(incident).encode()).decode()
        body = json.dumps({"message": {"data": data, "messageId": f"storm-{n}"}})
        reply = session.post(
            f"{url}/pubsub/alerts",
            data=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        statuses.append(reply.status_code)
        pause = start + STORM_SECONDS * (n + 1) / INCIDENTS - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the storm's pace is what is simulated, not a synchronisation
    return statuses


def _wait_for_answers(slack: SlackEmulator, commands: int, timeout: float = 300.0) -> int:
    """Wait until every command's answer is in the channel; the channel's messages then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(len(askers(m)) for m in slack.messages("C_OPS")) >= commands:
            break
        time.sleep(0.5)  # the figures come from Slack timestamps, not from this poll
    return len(slack.messages("C_OPS"))


def _figures(
    slack: SlackEmulator,
    began: float,
    acks: list[tuple[float, str]],
    statuses: list[int],
    posts: int,
) -> dict[str, Any]:
    messages = slack.messages("C_OPS")
    answers = [m for m in messages if askers(m)]
    last = max(float(m["ts"]) for m in answers) - began
    allowed = (posts - POST_BURST) / POST_PER_SECOND
    calls = slack.calls()
    return {
        "commands": len(acks),
        "refused": sum(1 for _, body in acks if "try again" in body),
        **{f"ack_{k}": v for k, v in quantiles([s for s, _ in acks]).items()},
        "answered": sum(len(askers(m)) for m in answers),
        "posts": posts,
        "posts_per_command": len(answers) / len(acks),
        "alert_cards": posts - len(answers),
        "incidents": INCIDENTS,
        "alert_pushes_not_200": sum(1 for s in statuses if s != 200),
        "rate_limited_429": sum(1 for c in calls if c.status == 429),
        "last_answer_s": last,
        "posting_limit_allows_s": allowed,
    }
