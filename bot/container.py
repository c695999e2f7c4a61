"""The composition root: settings -> concrete adapters, Slack client, queue, Bolt app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk import WebClient

from bot import config as config_loader
from bot.app import build_app
from bot.deps import Deps
from bot.policy import GroupMembers, Policy, PolicyConfig
from bot.runtime import logs
from bot.runtime.jobs import InlineQueue, Job, JobQueue, Runner
from bot.runtime.pubsub_jobs import PubSubQueue, tasks_route
from bot.runtime.push_auth import GoogleCerts, PushVerifier
from bot.runtime.slack_http import slack_route
from bot.runtime.web import wsgi_app
from bot.settings import Settings
from bot.slack.messenger import Messenger, outbox_client, web_client
from bot.slack.outbox import Outbox
from bot.slack.pacing import Pacer
from bot.store import ActionStore
from bot.store.sqlite import SqliteStore
from gcp.clients import CallSettings, Clients
from gcp.lazy import lazy, warm_up
from handlers.ports import Platform

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

log = logs.get(__name__)

# Long enough for a cold start's first request to be acknowledged without the imports
# competing for the interpreter; short enough that its answer rarely waits for them.
WARM_UP_DELAY_SECONDS = 0.1
# What jobs and push routes use, loaded where it is first used (see gcp.lazy.later) or by
# the warm-up: the master loads only what acknowledgements need before gunicorn forks.
LOADED_LATER = ("handlers", "bot.ops", "bot.changes", "bot.alerts")


@dataclass
class Bot:
    deps: Deps
    app: App
    clients: Clients

    def wsgi(self) -> WSGIApplication:
        """The HTTP surface: Slack events, verified push routes, health. Each push route has
        an OIDC identity of its own; both share one cache of Google's certificates."""
        settings, deps = self.deps.settings, self.deps
        certs = GoogleCerts(settings.google_certs_url)
        alerts = PushVerifier(settings.push_audience, settings.push_service_account, certs)
        tasks = PushVerifier(
            settings.tasks_push_audience, settings.tasks_push_service_account, certs
        )
        slack = slack_route(
            self.app, settings.slack_signing_secret, deps.store.first_seen, deps.now
        )
        routes = {
            "/pubsub/alerts": lazy("bot.alerts.intake", "route", deps, alerts),
            "/tasks": tasks_route(deps.runners, deps.store, tasks),
        }
        return wsgi_app(slack, routes)

    def warm_up(self, delay_seconds: float = WARM_UP_DELAY_SECONDS) -> threading.Timer:
        """Load in the background, once the server is up, what acknowledgements do not need:
        the code of jobs and push routes, and the Google clients (see gcp.lazy)."""
        platform = self.deps.platform
        adapters = [platform.run, platform.logs, platform.monitoring, platform.secrets]
        return warm_up(adapters, delay_seconds, LOADED_LATER)

    def close(self) -> None:
        self.deps.queue.close()
        self.deps.outbox.close()
        self.deps.store.close()
        self.clients.close()


def build(settings: Settings, call_settings: CallSettings | None = None) -> Bot:
    """Wire everything; raises bot.errors.ConfigError for a bad BOT_CONFIG."""
    for value in (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
    ):
        logs.register_secret(value)
    ops_config = config_loader.load(settings.config_path, settings.ops_channel)
    clients = Clients(
        settings.gcp_emulator_host or None,
        call_settings,
        storage_emulator_host=settings.storage_emulator_host or None,
    )
    platform = Platform(
        run=lazy("gcp.run", "CloudRunAdapter", clients),
        logs=lazy("gcp.logs", "LoggingAdapter", clients),
        monitoring=lazy("gcp.monitoring", "MonitoringAdapter", clients),
        secrets=lazy("gcp.secrets", "SecretManagerAdapter", clients),
        firestore_admin=lazy("gcp.firestore_admin", "FirestoreAdminAdapter", clients),
        storage=lazy("gcp.storage", "StorageAdapter", clients),
        audit=lazy("gcp.audit_logs", "AuditLogAdapter", clients),
        health=lazy("gcp.revision_health", "RevisionHealthAdapter", clients),
    )
    pacer = Pacer(settings.slack_rate_scale)
    slack = web_client(settings.slack_bot_token, settings.slack_api_url, pacer)
    ops_config = config_loader.resolve_channel(ops_config, slack)
    queue = open_queue(settings, lambda job: dispatch(job, deps))
    store = open_store(settings)
    rules = ops_config.extra.get("policy")
    policy = Policy(
        rules if isinstance(rules, PolicyConfig) else None, GroupMembers(usergroup_fetcher(slack))
    )
    outbox = Outbox(
        store,
        outbox_client(settings.slack_bot_token, settings.slack_api_url),
        now=lambda: deps.now(),  # deps.now, read at each call
        pacer=pacer,
        hold_answers=queue.holds_inputs,  # jobs run here, in memory: so may their answers
    )
    deps = Deps(
        settings, ops_config, platform, slack, Messenger(slack), queue, store, outbox, policy
    )
    app = build_app(deps)
    return Bot(deps, app, clients)


def dispatch(job: Job, deps: Deps) -> None:
    runner = deps.runners.get(job.kind)
    if runner is None:
        log.error("job_kind_unknown", kind=job.kind)
        return
    runner(job)


def open_store(settings: Settings) -> ActionStore:
    if settings.store == "firestore":
        from google.cloud import firestore

        from bot.store.firestore import FirestoreStore

        return FirestoreStore(firestore.Client())
    return SqliteStore(settings.store.removeprefix("sqlite:"))


def usergroup_fetcher(slack: WebClient) -> Callable[[str], list[str]]:
    def fetch(group: str) -> list[str]:
        return list(slack.usergroups_users_list(usergroup=group)["users"])

    return fetch


def open_queue(settings: Settings, runner: Runner) -> JobQueue:
    if settings.jobs == "pubsub":
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        return PubSubQueue(pubsub_v1.PublisherClient(), settings.jobs_topic)
    return InlineQueue(runner)
