"""Start-up validation: settings and BOT_CONFIG report every problem, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config as config_loader
from bot.errors import ConfigError
from bot.settings import Settings
from handlers.config import FLUXORI_DEFAULTS

GOOD_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s3cr3t"}


def test_defaults_without_optional_variables() -> None:
    """Only the two Slack variables are required; the rest have local defaults."""
    settings = Settings.from_environ(GOOD_ENV)
    assert (settings.store, settings.jobs, settings.port) == (
        "sqlite:fluxori-ops.sqlite",
        "inline",
        3000,
    )


def test_every_problem_is_listed() -> None:
    """A bad environment lists each problem rather than stopping at the first."""
    env = {
        "SLACK_BOT_TOKEN": "nope",
        "GCP_EMULATOR_HOST": "localhost",
        "BOT_STORE": "postgres://x",
        "BOT_JOBS": "celery",
        "PORT": "http",
        "LOG_LEVEL": "chatty",
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_environ(env)
    assert len(info.value.problems) == 7
    assert any("SLACK_SIGNING_SECRET is missing" in p for p in info.value.problems)


def test_repr_hides_tokens() -> None:
    """A Settings object logged by accident shows no token."""
    assert "xoxb" not in repr(Settings.from_environ(GOOD_ENV))


def test_builtin_defaults_match_the_design() -> None:
    """No BOT_CONFIG: three environments, two services, jwt-secret used by the backend."""
    config = config_loader.load("")
    assert config == FLUXORI_DEFAULTS
    assert config.env("prod").project == "fluxori-prod"
    assert config.secrets["jwt-secret"].consumers == ("fluxori-backend",)


def test_channel_override_from_environment() -> None:
    """SLACK_OPS_CHANNEL overrides the config's channel."""
    assert config_loader.load("", "C0OPS123").channel == "C0OPS123"


def test_toml_config_loads(tmp_path: Path) -> None:
    """A valid TOML file replaces the defaults."""
    path = tmp_path / "bot.toml"
    path.write_text(
        'default_env = "dev"\nservices = ["api"]\n'
        '[environments.dev]\nproject = "acme-dev"\nregion = "europe-west4"\n'
        '[secrets.api-key]\nconsumers = ["api"]\n'
    )
    config = config_loader.load(str(path))
    assert (
        config.service_ref("dev", "api").name
        == "projects/acme-dev/locations/europe-west4/services/api"
    )


def test_bad_toml_config_lists_problems(tmp_path: Path) -> None:
    """Each wrong value in BOT_CONFIG is named."""
    path = tmp_path / "bot.toml"
    path.write_text(
        'default_env = "qa"\nservices = ["API!"]\nchannel = "General Ops"\ncolour = "blue"\n'
        '[environments.dev]\nproject = "X"\nregion = "mars"\n'
        '[secrets.k]\nconsumers = ["other"]\n'
    )
    with pytest.raises(ConfigError) as info:
        config_loader.load(str(path))
    text = "\n".join(info.value.problems)
    for expected in (
        "unknown key `colour`",
        "default_env `qa`",
        "service `API!`",
        "channel `General Ops`",
        "project `X`",
        "region `mars`",
        "consumers ['other']",
    ):
        assert expected in text


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    """A missing file or broken TOML is a clear single problem."""
    with pytest.raises(ConfigError, match="no such file"):
        config_loader.load(str(tmp_path / "absent.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("services = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_loader.load(str(broken))


PUBSUB_ENV = {
    **GOOD_ENV,
    "BOT_JOBS": "pubsub",
    "BOT_JOBS_TOPIC": "projects/fluxori-ops/topics/jobs",
    "PUSH_AUDIENCE": "fluxori-ops-bot-prod",
    "PUSH_SERVICE_ACCOUNT": "push@fluxori-ops.iam.gserviceaccount.com",
}


def test_pubsub_jobs_need_a_tasks_identity_of_their_own() -> None:
    """With BOT_JOBS=pubsub, each missing /tasks identity variable is one problem line."""
    with pytest.raises(ConfigError) as info:
        Settings.from_environ(PUBSUB_ENV)
    assert info.value.problems == [
        "BOT_JOBS=pubsub needs TASKS_PUSH_AUDIENCE (the OIDC identity of pushes to /tasks).",
        "BOT_JOBS=pubsub needs TASKS_PUSH_SERVICE_ACCOUNT (the OIDC identity of pushes to /tasks).",
    ]


def test_tasks_identity_must_differ_from_the_alerts_one() -> None:
    """Reusing the alert pushes' audience or account for /tasks is refused, one line each."""
    env = {
        **PUBSUB_ENV,
        "TASKS_PUSH_AUDIENCE": PUBSUB_ENV["PUSH_AUDIENCE"],
        "TASKS_PUSH_SERVICE_ACCOUNT": PUBSUB_ENV["PUSH_SERVICE_ACCOUNT"],
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_environ(env)
    assert [p.split(" must")[0] for p in info.value.problems] == [
        "TASKS_PUSH_AUDIENCE",
        "TASKS_PUSH_SERVICE_ACCOUNT",
    ]
    separate = {**env, "TASKS_PUSH_AUDIENCE": "tasks", "TASKS_PUSH_SERVICE_ACCOUNT": "t@x"}
    settings = Settings.from_environ(separate)
    assert (settings.tasks_push_audience, settings.tasks_push_service_account) == ("tasks", "t@x")


@pytest.mark.parametrize("value", ["0", "-2", "fast", "inf", "nan"])
def test_slack_rate_scale_must_be_a_positive_number(value: str) -> None:
    """SLACK_RATE_SCALE multiplies Slack's limits: anything but a positive number is refused
    with what it must be."""
    with pytest.raises(ConfigError) as info:
        Settings.from_environ({**GOOD_ENV, "SLACK_RATE_SCALE": value})
    assert info.value.problems == [
        f"SLACK_RATE_SCALE={value!r} must be a positive number (1: Slack's documented limits)."
    ]


def test_slack_rate_scale_defaults_to_slacks_limits() -> None:
    """Without SLACK_RATE_SCALE the bot paces itself by Slack's documented limits."""
    assert Settings.from_environ(GOOD_ENV).slack_rate_scale == 1.0
    raised = Settings.from_environ({**GOOD_ENV, "SLACK_RATE_SCALE": "50"})
    assert raised.slack_rate_scale == 50.0
