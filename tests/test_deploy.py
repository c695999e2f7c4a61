"""deploy/ stays consistent with the code: manifest, Terraform and Dockerfile."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MANIFEST = json.loads((DEPLOY / "slack-manifest.json").read_text())
TERRAFORM = "\n".join(p.read_text() for p in (DEPLOY / "terraform").glob("*.tf"))
SOURCE = "\n".join(
    p.read_text() for p in (ROOT / "bot").rglob("*.py") if "slack_emulator" not in p.parts
)

SCOPES_BY_METHOD = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "usergroups_users_list": "usergroups:read",
    "conversations_info": "channels:read",
    "users_info": "users:read",
}
LOCAL_ONLY = {
    "GCP_EMULATOR_HOST": "emulators only",
    "FIRESTORE_EMULATOR_HOST": "emulators only",
    "PUBSUB_EMULATOR_HOST": "emulators only",
    "SLACK_API_URL": "the Slack emulator; production uses Slack's own",
    "SLACK_APP_TOKEN": "Socket Mode on a laptop",
    "ALERTS_SUBSCRIPTION": "Socket Mode on a laptop",
    "BOT_CONFIG": "optional; the built-in defaults are Fluxori's",
    "GOOGLE_CERTS_URL": "tests serve their own; production uses Google's default",
    "PORT": "set by Cloud Run",
    "K_SERVICE": "set by Cloud Run",
}


def test_manifest_command_and_urls() -> None:
    """The one slash command is /ops and every Slack URL is the bot's /slack/events."""
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == ["/ops"]
    urls = [
        MANIFEST["features"]["slash_commands"][0]["url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert '"/ops"' in SOURCE


def test_manifest_events_are_the_registered_ones() -> None:
    """bot_events equals the events the app listens to."""
    registered = set(re.findall(r'app\.event\("([a-z_]+)"\)', SOURCE))
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == registered


def test_manifest_scopes_are_exactly_what_the_code_calls() -> None:
    """Every Web API method used has its scope, and no scope is unused."""
    called = {m for m in SCOPES_BY_METHOD if f".{m}(" in SOURCE}
    needed = {SCOPES_BY_METHOD[m] for m in called} | {"commands"}
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_terraform_sets_every_production_variable() -> None:
    """Each variable bot/settings.py reads is set on the Cloud Run service, or exempt with a reason."""
    settings = (ROOT / "bot" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.get)?\(?\[?"([A-Z_]+)"', settings))
    missing = {
        name
        for name in read - set(LOCAL_ONLY)
        if f'"{name}"' not in TERRAFORM and f"{name} =" not in TERRAFORM
    }
    assert missing == set()


def test_terraform_grants_each_role_the_actions_need() -> None:
    """Least-privilege roles for rollback/scale, rotation, reads, the store and jobs."""
    for role in (
        "roles/run.developer",
        "roles/iam.serviceAccountUser",
        "roles/logging.viewer",
        "roles/monitoring.viewer",
        "roles/secretmanager.secretVersionManager",
        "roles/datastore.user",
        "roles/pubsub.publisher",
    ):
        assert role in TERRAFORM
    assert "roles/owner" not in TERRAFORM
    assert "roles/editor" not in TERRAFORM


def test_push_subscriptions_point_at_the_served_routes_with_oidc() -> None:
    """Alerts push to /pubsub/alerts and jobs to /tasks, each with an OIDC token."""
    web = (ROOT / "bot" / "container.py").read_text()
    for path in ("/pubsub/alerts", "/tasks"):
        assert f'path = "{path}"' in TERRAFORM
        assert f'"{path}"' in web
    assert "oidc_token" in TERRAFORM
    assert "dead_letter_policy" in TERRAFORM


def test_dockerfile_runs_unprivileged_in_exec_form() -> None:
    """Non-root user and the production server as PID 1 (SIGTERM reaches gunicorn)."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    assert 'CMD ["python", "-m", "bot", "serve"]' in dockerfile
    assert "compileall" in dockerfile
