"""`make bench`: what users feel, the bot as in production (`python -m bot serve` against
gcp/emulator and the Slack emulator) beside a bare Bolt app that only acks, on the same server
stack. Per load: ack p50/p99, time until the answer is in Slack (read from the emulator's
recorded messages), commands refused (counted, never timed as answers), CPU per acknowledged
command (from /proc of the gunicorn worker, answers included). Then the bot's capacity: 1,500
`/ops status` at concurrency 64, each answered once and none refused; resident memory of every
process; cold start. Prints a table and writes bench-results.json. Targets (2-core machine):
ack p99 < 300 ms at concurrency 32; CPU per command <= 1.5x the bare app's; cold start within
1.3x (wall clock, and the CPU the master and worker used until the first ack, which a busy
machine disturbs less); Confirm-to-result < 1 s; worker memory growth < 5 MB between 1,000 and 10,000 requests.
"""

from __future__ import annotations

import base64
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from bot.dev.local_google import AUDIENCE, PUSH_ACCOUNT, LocalGoogleCerts
from bot.dev.sandbox import free_port
from bot.dev.slack_emulator import SlackEmulator
from bot.store import Filters, State
from bot.store.sqlite import SqliteStore
from gcp.emulator import Emulator
from tests.support.records import START, record, seed_sqlite
from tests.support.slack import askers

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
SAMPLE = Path(__file__).parent / "samples" / "alert-open.json"
STATUS = "status fluxori-backend"
REFUSED = "try again"  # the words of a refusal (bot.ops.commands.busy_answer)
TICKS = os.sysconf("SC_CLK_TCK")


def signed(text: str, user: str = "U_ALICE") -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "command": "/ops",
            "text": text,
            "user_id": user,
            "channel_id": "C_OPS",
            "team_id": "T_FLUXORI",
            "response_url": "http://127.0.0.1:9/none",
            "trigger_id": "t",
        }
    ).encode()
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body.decode())
    return body, {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": str(signature),
        "Content-Type": "application/x-www-form-urlencoded",
    }


ROOT = Path(__file__).resolve().parent.parent
BARE_ARGS = ["-m", "tests.bench_bare"]
BOT_ARGS = ["-m", "bot", "serve", "--host", "127.0.0.1"]
COLD_STARTS = 11


def proc_status_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Server:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, *args, "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def first_ack_seconds(self, text: str) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                body, headers = signed(text)
                if (
                    requests.post(
                        f"{self.url}/slack/events", data=body, headers=headers, timeout=2
                    ).status_code
                    == 200
                ):
                    return time.perf_counter() - self.started
            except requests.ConnectionError:
                time.sleep(0.005)  # polling while the process starts; the clock keeps running
        raise TimeoutError(f"no 200 from {self.url} within 60 s")

    @property
    def worker(self) -> int:
        """The gunicorn worker (the master's only child), where the app and its jobs run."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return int(children[0])

    def cpu_seconds(self) -> float:
        """CPU used so far by the master and its worker."""
        return cpu_seconds(self.process.pid) + cpu_seconds(self.worker)

    def memory_mb(self) -> dict[str, float]:
        return {
            "master": proc_status_mb(self.process.pid),
            "worker": proc_status_mb(self.worker),
            "worker_peak": proc_status_mb(self.worker, "VmHWM"),
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99)}


@dataclass
class Burst:
    """One load: who asked when, how the ack went."""

    sent_at: dict[str, float] = field(default_factory=dict)  # user -> wall-clock send time
    ack_seconds: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def send(url: str, text: str, concurrency: int, total: int, tag: str) -> Burst:
    """`total` signed commands, each from its own user (so its thread can be found)."""
    sessions = [requests.Session() for _ in range(concurrency)]
    burst = Burst()

    def one(i: int) -> None:
        user = f"U{tag}{i:05d}"
        body, headers = signed(text, user)
        burst.sent_at[user] = time.time()
        start = time.perf_counter()
        reply = sessions[i % concurrency].post(
            f"{url}/slack/events", data=body, headers=headers, timeout=10
        )
        assert reply.status_code == 200, reply.text
        burst.ack_seconds.append(time.perf_counter() - start)
        if REFUSED in reply.text:
            burst.refused.append(user)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))
    burst.elapsed = time.perf_counter() - began
    return burst


def answers(slack: SlackEmulator, burst: Burst, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until every accepted command is answered (or nothing moves for 5 s); the answer's
    time is its Slack ts, the emulator's wall clock."""
    expected = set(burst.sent_at) - set(burst.refused)
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        answered = answers_by_user(slack, expected)
        if len(answered) != last:
            last, since = len(answered), time.monotonic()
        if len(answered) == len(expected) or time.monotonic() > min(deadline, since + 5):
            break
        time.sleep(0.2)  # the figures come from Slack timestamps, not from this poll
    waits = [float(found[0]["ts"]) - burst.sent_at[user] for user, found in answered.items()]
    posts = {message["ts"] for found in answered.values() for message in found}
    return {
        **{f"answer_{k}": v for k, v in quantiles(waits).items()},
        "posts_per_command": len(posts) / max(1, len(expected)),
        "answered": len(answered),
        "answered_twice": sum(1 for found in answered.values() if len(found) > 1),
        "unanswered": len(expected) - len(answered),
    }


def answers_by_user(slack: SlackEmulator, users: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Each user's answers: the messages whose first line says they ran a command (one answer
    may name several: commands alike that waited together)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for message in slack.messages("C_OPS"):
        for user in askers(message):
            if user in users:
                found.setdefault(user, []).append(message)
    return found


def measure(
    server: Server, slack: SlackEmulator | None, concurrency: int, total: int, tag: str
) -> dict[str, Any]:
    """One load on one server: ack, answer (when `slack` is given), refusals, CPU."""
    cpu_before = cpu_seconds(server.worker)
    burst = send(server.url, STATUS, concurrency, total, tag)
    result: dict[str, Any] = {
        **{f"ack_{k}": v for k, v in quantiles(burst.ack_seconds).items()},
        "refused": len(burst.refused),
        "rps": total / burst.elapsed,
    }
    if slack is not None:
        result.update(answers(slack, burst))
    accepted = max(1, total - len(burst.refused))
    result["cpu_ms_per_command"] = (cpu_seconds(server.worker) - cpu_before) * 1000 / accepted
    return result


CPU_ROUNDS = 5  # one load's CPU per command moves by a tenth or more from run to run
COUNTED = ("refused", "answered", "answered_twice", "unanswered")


def side_by_side(
    bare: Server, bot: Server, slack: SlackEmulator, name: str, concurrency: int, total: int
) -> dict[str, Any]:
    """The load on the bare app and the bot in turn, CPU_ROUNDS times: the first round's
    latencies, CPU per command as the median of the rounds (each round listed too), the
    bot's CPU ratio as the median of each round's bot / bare (a round's two runs are back to
    back, so a change in the machine's speed between rounds cancels out), and refusals and
    answers counted over all rounds."""
    rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "bot": []}
    for n in range(CPU_ROUNDS):
        tag = f"{name.upper()}R{n}"
        rounds["bare"].append(measure(bare, None, concurrency, total, f"A{tag}"))
        rounds["bot"].append(measure(bot, slack, concurrency, total, f"B{tag}"))
    results = {}
    for who, runs in rounds.items():
        cpu = [run["cpu_ms_per_command"] for run in runs]
        counted = {key: sum(run[key] for run in runs) for key in COUNTED if key in runs[0]}
        results[f"{who}_{name}"] = {
            **runs[0],
            **counted,
            "cpu_ms_per_command": statistics.median(cpu),
            "cpu_ms_per_command_rounds": cpu,
        }
    paired = [
        bot_run["cpu_ms_per_command"] / bare_run["cpu_ms_per_command"]
        for bare_run, bot_run in zip(rounds["bare"], rounds["bot"], strict=True)
    ]
    results[f"bot_{name}"]["cpu_ratio"] = statistics.median(paired)
    results[f"bot_{name}"]["cpu_ratio_rounds"] = paired
    return results


def cold_starts(env: dict[str, str]) -> dict[str, float]:
    """Medians from spawn to the first 200, bare app and bot started in turn (one start varies
    by tens of ms on a busy machine): seconds, and CPU seconds of master and worker by then."""
    runs: dict[str, list[float]] = {}
    for _ in range(COLD_STARTS):
        for name, args, text in (("bare", BARE_ARGS, STATUS), ("bot", BOT_ARGS, "help")):
            server = Server(args, env)
            runs.setdefault(f"cold_start_{name}_s", []).append(server.first_ack_seconds(text))
            runs.setdefault(f"cold_start_{name}_cpu_s", []).append(server.cpu_seconds())
            server.stop()
    return {key: statistics.median(values) for key, values in runs.items()}


def compile_sources() -> None:
    """Bytecode for the project's modules, as the image has (deploy/Dockerfile runs
    compileall): with PYTHONDONTWRITEBYTECODE set, each start would otherwise compile them."""
    for package in ("bot", "handlers", "gcp", "tests"):
        compileall.compile_dir(ROOT / package, quiet=1)


LOADS = (("c8", 8, 300), ("c32", 32, 300), ("c64", 64, 1500))


def main() -> int:
    compile_sources()
    gcp = Emulator(seed="fluxori")
    gcp.start()
    google = LocalGoogleCerts()
    slack = SlackEmulator(bot_url="", signing_secret=SECRET, bot_token=TOKEN)
    slack.start()
    workdir = tempfile.mkdtemp(prefix="fluxori-bench-")
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_OPS_CHANNEL": "C_OPS",
        "GCP_EMULATOR_HOST": gcp.address,
        "BOT_STORE": f"sqlite:{workdir}/a.sqlite",
        "PUSH_AUDIENCE": AUDIENCE,
        "PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
        "GOOGLE_CERTS_URL": google.url,
        "LOG_LEVEL": "ERROR",
    }
    results: dict[str, Any] = {"incident": incident_under_limits(env, google)}
    env["SLACK_RATE_SCALE"] = "1000"  # from here on, the bot's own capacity: pacing raised
    results.update(cold_starts(env))
    results.update(first_answers(env, slack))
    bot = Server(BOT_ARGS, env)
    bot.first_ack_seconds("help")
    bare = Server(BARE_ARGS, env)
    bare.first_ack_seconds(STATUS)
    slack.driver = type(slack.driver)(
        slack.workspace, f"{bot.url}/slack/events", SECRET, lambda: slack.url
    )
    for name, concurrency, total in LOADS:
        results.update(side_by_side(bare, bot, slack, name, concurrency, total))
    results["memory_after_burst"] = {"bot": bot.memory_mb(), "bare": bare.memory_mb()}
    results["confirm_to_result_s"] = confirm_to_result(slack, gcp)
    results["alerts"] = alert_storm(bot.url, google, slack)
    send(bot.url, "help", 8, 1000, "H")
    results["rss_after_1000_mb"] = proc_status_mb(bot.worker)
    send(bot.url, "help", 8, 9000, "H")
    results["rss_after_10000_mb"] = proc_status_mb(bot.worker)
    results["history"] = history_timings()
    bare.stop()
    bot.stop()
    slack.stop()
    google.stop()
    gcp.stop()
    report(results)
    return 0


def incident_under_limits(env: dict[str, str], google: LocalGoogleCerts) -> dict[str, Any]:
    from tests import bench_incident  # it reuses this module's servers and signing

    return bench_incident.incident_under_limits(env, google)


def first_answers(env: dict[str, str], slack: SlackEmulator) -> dict[str, float]:
    """A fresh bot's first answer, asked at once after its first ack and, on another fresh
    bot, a second later (the Google clients warm up meanwhile); then the next answer."""
    at_once = Server(BOT_ARGS, env)
    at_once.first_ack_seconds("help")
    first_at_once = answer_seconds(slack, at_once, "FIRSTNOW")
    at_once.stop()
    later = Server(BOT_ARGS, env)
    later.first_ack_seconds("help")
    time.sleep(1.0)  # the situation measured: a server up for a second before anyone asks
    first_later = answer_seconds(slack, later, "FIRSTLATER")
    following = answer_seconds(slack, later, "NEXT")
    later.stop()
    return {
        "first_answer_s": first_at_once,
        "first_answer_1s_s": first_later,
        "next_answer_s": following,
    }


def answer_seconds(slack: SlackEmulator, bot: Server, tag: str) -> float:
    """One `/ops status`: from sending it until its answer is in Slack."""
    burst = send(bot.url, STATUS, 1, 1, tag)
    return float(answers(slack, burst)["answer_p50_ms"]) / 1000


def confirm_to_result(slack: SlackEmulator, gcp: Emulator) -> float:
    """Median time from a Confirm click to the result in the thread (emulators answer at once)."""
    del gcp
    timings = []
    for n in range(5):
        slack.slash_command("U_ALICE", "C_OPS", text=f"scale fluxori-frontend max={20 + n}")
        card = wait_for(lambda: _pending_card(slack))
        start = time.perf_counter()
        slack.click("U_BOB", "C_OPS", card["ts"], "action.confirm")
        wait_for(partial(_has_result, slack, card["ts"]))
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _pending_card(slack: SlackEmulator) -> Any:
    cards = [
        m for m in slack.messages("C_OPS") if "action.confirm" in json.dumps(m.get("blocks", []))
    ]
    return cards[-1] if cards else None


def _has_result(slack: SlackEmulator, ts: str) -> bool:
    return any(
        ":white_check_mark:" in json.dumps(r.get("blocks", [])) for r in slack.replies("C_OPS", ts)
    )


def alert_storm(url: str, google: LocalGoogleCerts, slack: SlackEmulator) -> dict[str, float]:
    incident = json.loads(SAMPLE.read_text())
    bodies = []
    distinct = 700
    for i in range(1000):
        n = i if i < distinct else i % distinct
        incident["incident"]["incident_id"] = f"0.bench{n}"
        data = base64.b64encode(json.dumps(incident).encode()).decode()
        bodies.append(json.dumps({"message": {"data": data, "messageId": f"bench-{n}"}}).encode())
    token = google.mint()
    before = len(slack.messages("C_OPS"))
    session = requests.Session()
    began = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(
                lambda b: (
                    session.post(
                        f"{url}/pubsub/alerts",
                        data=b,
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=30,
                    ).status_code
                ),
                bodies,
            )
        )
    elapsed = time.perf_counter() - began
    cards = len(slack.messages("C_OPS")) - before  # a card each, or a group card per policy
    return {
        "deliveries": 1000,
        "distinct": distinct,
        "cards": cards,
        "per_second": 1000 / elapsed,
        "non_200": sum(1 for s in statuses if s != 200),
    }


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.002)  # tight poll: this is what is being timed
    raise TimeoutError("benchmark step timed out")


HISTORY_QUERIES = {  # what `/ops history` and App Home ask the store
    "history --user (only the oldest)": Filters(user="U_RARE"),
    "history --outcome failed (oldest)": Filters(outcome=State.FAILED.value),
    "history (newest page + count)": Filters(),
    "home: plans awaiting approval": Filters(states=(State.PENDING,), limit=10),
}


def history_timings() -> dict[str, dict[str, float]]:
    """Median ms of each history query (search, and count when the page is full) over
    1k, 10k and 100k actions whose oldest is the only one of a rare user and the only
    failed one."""
    timings: dict[str, dict[str, float]] = {}
    for size in (1_000, 10_000, 100_000):
        path = os.path.join(tempfile.mkdtemp(prefix="fluxori-history-"), "h.sqlite")
        store = SqliteStore(path)
        store.create(record(0, requested_by="U_RARE", state=State.FAILED))
        seed_sqlite(path, size - 1, START)
        for name, filters in HISTORY_QUERIES.items():
            timings.setdefault(name, {})[f"{size // 1000}k"] = _median_ms(store, filters)
        store.close()
    return timings


def _median_ms(store: SqliteStore, filters: Filters, runs: int = 21) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        if len(store.search(filters)) >= filters.limit:
            store.count(filters)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


TARGETS = {  # per load; CPU per command is the median of CPU_ROUNDS rounds
    "ack_p50_ms": "",
    "ack_p99_ms": "",
    "cpu_ms_per_command": f"<= 1.5x (median of {CPU_ROUNDS} paired rounds)",
}


def report(results: dict[str, Any]) -> None:
    Path("bench-results.json").write_text(json.dumps(results, indent=2))
    row = "{:44} {:>10} {:>10} {:>7}  {}"
    print(row.format("measure", "bot", "bare", "ratio", "target"))
    line = lambda name, bot, bare="", ratio="", target="": print(  # noqa: E731
        row.format(name, bot, bare, ratio, target)
    )
    for name, concurrency, total in LOADS:
        bot, bare = results[f"bot_{name}"], results[f"bare_{name}"]
        where = f"{total} at c={concurrency}"
        for key, target in TARGETS.items():
            ratio = f"{bot[key] / bare[key]:.2f}" if bare[key] else ""
            if key == "cpu_ms_per_command":
                ratio = f"{bot['cpu_ratio']:.2f}"
            line(f"{where} {key}", f"{bot[key]:.2f}", f"{bare[key]:.2f}", ratio, target)
        line(
            f"{where} answer p50 / p99 ms",
            f"{bot['answer_p50_ms']:.0f} / {bot['answer_p99_ms']:.0f}",
            "",
            "",
            f"{bot['posts_per_command']:.2f} posts per command (first round)",
        )
        answered = (
            f"{bot['answered']} once, {bot['answered_twice']} twice, {bot['unanswered']} none"
        )
        refused = f"{where} refused ({CPU_ROUNDS} rounds)"
        line(refused, f"{bot['refused']}", f"{bare['refused']}", "", answered)
    memory = results["memory_after_burst"]
    for process in ("master", "worker", "worker_peak"):
        line(f"RSS MB {process}", f"{memory['bot'][process]:.1f}", f"{memory['bare'][process]:.1f}")
    for unit in ("s", "cpu_s"):
        cold, floor = results[f"cold_start_bot_{unit}"], results[f"cold_start_bare_{unit}"]
        name = f"cold start {unit.replace('_', ' ')}"
        line(name, f"{cold:.2f}", f"{floor:.2f}", f"{cold / floor:.2f}", "<= 1.3x")
    first, then = results["first_answer_s"], results["next_answer_s"]
    line(
        "first answer, asked at ack / 1 s later / next s",
        f"{first:.2f} / {results['first_answer_1s_s']:.3f} / {then:.3f}",
    )
    line("confirm to result s (median)", f"{results['confirm_to_result_s']:.3f}", "", "", "< 1 s")
    a = results["alerts"]
    cards = f"{a['cards']} posts / {a['distinct']} distinct, {a['non_200']} non-200"
    line("alerts: 1000 pushes, 30% dups /s", f"{a['per_second']:.0f}", "", "", cards)
    small, large = results["rss_after_1000_mb"], results["rss_after_10000_mb"]
    growth = f"growth {large - small:.1f} MB (< 5)"
    line("worker RSS MB after 1k -> 10k requests", f"{small:.1f}", f"{large:.1f}", "", growth)

    report_incident(results["incident"])
    print("\nhistory over SQLite, median ms        1k        10k       100k   target")
    for name, by_size in results["history"].items():
        cells = " ".join(f"{by_size[k]:>9.2f}" for k in ("1k", "10k", "100k"))
        print(f"{name:36} {cells}   < 50 ms")


def report_incident(i: dict[str, Any]) -> None:
    print("\nunder Slack's limits: 20 people, 60 commands, 100 incidents of 2 policies in 20 s")
    print(f"  commands refused: {i['refused']} of {i['commands']}; answered {i['answered']}")
    print(f"  ack p50 / p99 ms: {i['ack_p50_ms']:.0f} / {i['ack_p99_ms']:.0f}   (target < 3000)")
    print(
        f"  posts: {i['posts']} ({i['posts_per_command']:.1f} per command, {i['alert_cards']}"
        f" alert cards for {i['incidents']} incidents); 429s: {i['rate_limited_429']}"
    )
    ratio = i["last_answer_s"] / i["posting_limit_allows_s"]
    print(
        f"  last answer after {i['last_answer_s']:.1f} s; the posting limit allows"
        f" {i['posting_limit_allows_s']:.1f} s for these posts: {ratio:.2f}x (target <= 1.3x)"
    )
    print(f"  alert pushes not answered 200: {i['alert_pushes_not_200']}")


if __name__ == "__main__":
    sys.exit(main())
