"""`make bench`: the bot as in production (`python -m bot serve` against gcp/emulator and the
Slack emulator) measured against a bare Bolt app on the same server stack. Prints a table and
writes bench-results.json. Targets (2-core machine): ack p99 < 300 ms at concurrency 32 and
within 1.5x the bare app; cold start within 1.5x; Confirm-to-result < 1 s; resident size grows
< 5 MB between 1,000 and 10,000 requests; `/ops history` over 1k/10k/100k SQLite actions
finds the oldest record of a rare user in < 50 ms."""

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
from tests.test_history import START, record, seed_sqlite

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
SAMPLE = Path(__file__).parent / "samples" / "alert-open.json"


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
COLD_STARTS = 7


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

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def load(url: str, text: str, concurrency: int, total: int) -> dict[str, float]:
    session_pool = [requests.Session() for _ in range(concurrency)]

    def one(i: int) -> float:
        body, headers = signed(text)
        start = time.perf_counter()
        reply = session_pool[i % concurrency].post(
            f"{url}/slack/events", data=body, headers=headers, timeout=10
        )
        assert reply.status_code == 200, reply.text
        return time.perf_counter() - start

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(one, range(total)))
    elapsed = time.perf_counter() - began
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "p50_ms": quantile(0.5),
        "p95_ms": quantile(0.95),
        "p99_ms": quantile(0.99),
        "rps": total / elapsed,
    }


def cold_starts(env: dict[str, str]) -> tuple[float, float]:
    """Median seconds from spawn to the first 200, bare app and bot started in turn (one start
    varies by tens of ms on a busy machine)."""
    bare: list[float] = []
    bot: list[float] = []
    for _ in range(COLD_STARTS):
        for args, text, times in (
            (BARE_ARGS, "status fluxori-backend", bare),
            (BOT_ARGS, "help", bot),
        ):
            server = Server(args, env)
            times.append(server.first_ack_seconds(text))
            server.stop()
    return statistics.median(bare), statistics.median(bot)


def compile_sources() -> None:
    """Bytecode for the project's modules, as the image has (deploy/Dockerfile runs
    compileall): with PYTHONDONTWRITEBYTECODE set, each start would otherwise compile them."""
    for package in ("bot", "handlers", "gcp", "tests"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> int:
    compile_sources()
    gcp = Emulator(seed="fluxori")
    gcp.start()
    google = LocalGoogleCerts()
    bot_port_holder: dict[str, str] = {}
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
    results: dict[str, Any] = {}
    results["cold_start_bare_s"], results["cold_start_bot_s"] = cold_starts(env)
    bare = Server(BARE_ARGS, env)
    bot = Server(BOT_ARGS, env)
    bare.first_ack_seconds("status fluxori-backend")
    bot.first_ack_seconds("help")
    del bot_port_holder
    slack.driver = type(slack.driver)(
        slack.workspace, f"{bot.url}/slack/events", SECRET, lambda: slack.url
    )
    for concurrency in (1, 8, 32):
        results[f"ack_bare_c{concurrency}"] = load(
            bare.url, "status fluxori-backend", concurrency, 300
        )
        results[f"ack_bot_c{concurrency}"] = load(
            bot.url, "status fluxori-backend", concurrency, 300
        )
        drain(slack)
    results["confirm_to_result_s"] = confirm_to_result(slack, gcp)
    results["alerts"] = alert_storm(bot.url, google, slack)
    load(bot.url, "help", 8, 1000)
    results["rss_after_1000_mb"] = bot.rss_mb()
    load(bot.url, "help", 8, 9000)
    results["rss_after_10000_mb"] = bot.rss_mb()
    results["history"] = history_timings()
    bare.stop()
    bot.stop()
    slack.stop()
    google.stop()
    gcp.stop()
    report(results)
    return 0


def drain(slack: SlackEmulator, quiet: float = 0.5) -> None:
    """Wait until the bot has stopped posting (its queued status answers are done)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        count = len(slack.calls())
        if count != last:
            last, since = count, time.monotonic()
        time.sleep(0.05)


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
    before = len(
        [m for m in slack.messages("C_OPS") if "alert.ack" in json.dumps(m.get("blocks", []))]
    )
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
    cards = (
        len([m for m in slack.messages("C_OPS") if "alert.ack" in json.dumps(m.get("blocks", []))])
        - before
    )
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


def report(results: dict[str, Any]) -> None:
    Path("bench-results.json").write_text(json.dumps(results, indent=2))
    row = "{:36} {:>10} {:>10} {:>7}  {}"
    print(row.format("measure", "bot", "bare", "ratio", "target"))
    for c in (1, 8, 32):
        bot, bare = results[f"ack_bot_c{c}"], results[f"ack_bare_c{c}"]
        for key in ("p50_ms", "p95_ms", "p99_ms", "rps"):
            target = "< 300 ms and <= 1.5x" if (c == 32 and key == "p99_ms") else ""
            ratio = bot[key] / bare[key]
            print(
                row.format(
                    f"ack c={c} {key}",
                    f"{bot[key]:.1f}",
                    f"{bare[key]:.1f}",
                    f"{ratio:.2f}",
                    target,
                )
            )
    cold, floor = results["cold_start_bot_s"], results["cold_start_bare_s"]
    print(
        row.format("cold start s", f"{cold:.2f}", f"{floor:.2f}", f"{cold / floor:.2f}", "<= 1.5x")
    )
    print(
        row.format(
            "confirm to result s (median)", f"{results['confirm_to_result_s']:.3f}", "", "", "< 1 s"
        )
    )
    a = results["alerts"]
    cards = f"{a['cards']} cards / {a['distinct']} distinct, {a['non_200']} non-200"
    print(row.format("alerts: 1000 pushes, 30% dups /s", f"{a['per_second']:.0f}", "", "", cards))
    small, large = results["rss_after_1000_mb"], results["rss_after_10000_mb"]
    print(
        row.format(
            "RSS MB after 1k -> 10k requests",
            f"{small:.1f}",
            f"{large:.1f}",
            "",
            f"growth {large - small:.1f} MB (< 5)",
        )
    )
    print("\nhistory over SQLite, median ms        1k        10k       100k   target")
    for name, by_size in results["history"].items():
        cells = " ".join(f"{by_size[k]:>9.2f}" for k in ("1k", "10k", "100k"))
        print(f"{name:36} {cells}   < 50 ms")


if __name__ == "__main__":
    sys.exit(main())
