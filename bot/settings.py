"""Settings from the environment (DESIGN.md "Environment"), validated at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.errors import ConfigError

GOOGLE_CERTS = "https://www.googleapis.com/oauth2/v1/certs"
_HOST_PORT = re.compile(r"^[\w.\-]+:\d{1,5}$")
_TOPIC = re.compile(r"^projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/topics/[A-Za-z][\w.~+%-]{2,254}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str
    slack_app_token: str = ""
    slack_api_url: str = ""
    ops_channel: str = ""
    gcp_emulator_host: str = ""
    firestore_emulator_host: str = ""
    pubsub_emulator_host: str = ""
    storage_emulator_host: str = ""  # Google's variable for Cloud Storage: http://host:port
    config_path: str = ""
    store: str = "sqlite:fluxori-ops.sqlite"
    jobs: str = "inline"
    jobs_topic: str = ""
    alerts_subscription: str = ""
    push_audience: str = ""
    push_service_account: str = ""
    tasks_push_audience: str = ""
    tasks_push_service_account: str = ""
    google_certs_url: str = GOOGLE_CERTS
    port: int = 3000
    log_level: str = "INFO"
    cloud_run_service: str = ""
    slack_rate_scale: float = 1.0  # times Slack's documented limits (bot.slack.pacing)

    def __repr__(self) -> str:  # tokens must never reach a log line through a repr
        return f"Settings(store={self.store!r}, jobs={self.jobs!r}, port={self.port})"

    @property
    def on_cloud_run(self) -> bool:
        return bool(self.cloud_run_service)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, socket_mode: bool = False) -> Settings:
        """Read and check every variable; raises ConfigError listing every problem."""
        env = {k: v.strip() for k, v in environ.items()}
        problems = _required(env, socket_mode) + _formats(env) + _tasks_identity(env)
        if problems:
            raise ConfigError(problems)
        return cls(
            slack_bot_token=env["SLACK_BOT_TOKEN"],
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_api_url=env.get("SLACK_API_URL", ""),
            ops_channel=env.get("SLACK_OPS_CHANNEL", ""),
            gcp_emulator_host=env.get("GCP_EMULATOR_HOST", ""),
            firestore_emulator_host=env.get("FIRESTORE_EMULATOR_HOST", ""),
            pubsub_emulator_host=env.get("PUBSUB_EMULATOR_HOST", ""),
            storage_emulator_host=env.get("STORAGE_EMULATOR_HOST", ""),
            config_path=env.get("BOT_CONFIG", ""),
            store=env.get("BOT_STORE") or "sqlite:fluxori-ops.sqlite",
            jobs=env.get("BOT_JOBS") or "inline",
            jobs_topic=env.get("BOT_JOBS_TOPIC", ""),
            alerts_subscription=env.get("ALERTS_SUBSCRIPTION", ""),
            push_audience=env.get("PUSH_AUDIENCE", ""),
            push_service_account=env.get("PUSH_SERVICE_ACCOUNT", ""),
            tasks_push_audience=env.get("TASKS_PUSH_AUDIENCE", ""),
            tasks_push_service_account=env.get("TASKS_PUSH_SERVICE_ACCOUNT", ""),
            google_certs_url=env.get("GOOGLE_CERTS_URL") or GOOGLE_CERTS,
            port=int(env.get("PORT") or 3000),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            cloud_run_service=env.get("K_SERVICE", ""),
            slack_rate_scale=float(env.get("SLACK_RATE_SCALE") or 1),
        )


def _required(env: Mapping[str, str], socket_mode: bool) -> list[str]:
    problems = []
    if not env.get("SLACK_BOT_TOKEN", "").startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN is missing or is not a bot token (it starts with xoxb-).")
    if socket_mode and not env.get("SLACK_APP_TOKEN", "").startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN is missing or is not an app-level token (xapp-...).")
    if not socket_mode and not env.get("SLACK_SIGNING_SECRET"):
        problems.append("SLACK_SIGNING_SECRET is missing (Slack app > Basic Information).")
    return problems


def _tasks_identity(env: Mapping[str, str]) -> list[str]:
    """/tasks runs jobs, so its pushes carry an identity of their own: a token minted for
    the alerts subscription must not be able to run a change."""
    if env.get("BOT_JOBS") != "pubsub":
        return []
    problems = []
    for own, shared in (
        ("TASKS_PUSH_AUDIENCE", "PUSH_AUDIENCE"),
        ("TASKS_PUSH_SERVICE_ACCOUNT", "PUSH_SERVICE_ACCOUNT"),
    ):
        if not env.get(own):
            problems.append(f"BOT_JOBS=pubsub needs {own} (the OIDC identity of pushes to /tasks).")
        elif env[own] == env.get(shared):
            problems.append(f"{own} must differ from {shared}, so alert pushes cannot run jobs.")
    return problems


def _formats(env: Mapping[str, str]) -> list[str]:
    problems = []
    for name in ("GCP_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"):
        if env.get(name) and not _HOST_PORT.match(env[name]):
            problems.append(f"{name}={env[name]!r} must be host:port, e.g. 127.0.0.1:8086.")
    store = env.get("BOT_STORE", "")
    if store and store != "firestore" and not (store.startswith("sqlite:") and len(store) > 7):
        problems.append(f"BOT_STORE={store!r} must be sqlite:PATH or firestore.")
    if env.get("BOT_JOBS", "inline") not in ("inline", "pubsub", ""):
        problems.append(f"BOT_JOBS={env['BOT_JOBS']!r} must be inline or pubsub.")
    if env.get("BOT_JOBS") == "pubsub" and not _TOPIC.match(env.get("BOT_JOBS_TOPIC", "")):
        problems.append("BOT_JOBS=pubsub needs BOT_JOBS_TOPIC=projects/PROJECT/topics/TOPIC.")
    port = env.get("PORT", "")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        problems.append(f"PORT={port!r} must be a port number (1-65535).")
    level = env.get("LOG_LEVEL", "")
    if level and level.upper() not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL={level!r} must be one of {', '.join(LOG_LEVELS)}.")
    scale = env.get("SLACK_RATE_SCALE", "")
    if scale and not _positive_number(scale):
        problems.append(
            f"SLACK_RATE_SCALE={scale!r} must be a positive number (1: Slack's documented limits)."
        )
    url = env.get("SLACK_API_URL", "")
    if url and not url.startswith(("http://", "https://")):
        problems.append(f"SLACK_API_URL={url!r} must be an http(s) URL ending in /api/.")
    return problems


def _positive_number(text: str) -> bool:
    try:
        return 0 < float(text) < float("inf")
    except ValueError:
        return False
