"""`BOT_CONFIG` (TOML) -> the handlers' OpsConfig; without it, the built-in Fluxori defaults.

Example:

    default_env = "prod"
    channel = "C0123456789"       # or a name, "#fluxori-ops", looked up once at start-up
    services = ["fluxori-backend", "fluxori-frontend"]

    [environments.prod]
    project = "fluxori-prod"
    region = "africa-south1"

    [secrets.jwt-secret]
    consumers = ["fluxori-backend"]

    [alert_storm]                 # the 4th incident of one policy within 10 minutes groups
    threshold = 4
    window_minutes = 10
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import ConfigError
from bot.policy import parse_policy
from handlers.config import FLUXORI_DEFAULTS, Environment, OpsConfig, SecretSpec

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PROJECT = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9_]{2,}$")
# Slack channel names: lowercase letters, numbers, hyphens and underscores, at most 80.
_CHANNEL_NAME = re.compile(r"^#?[a-z0-9_-]{1,80}$")
CHANNEL_FORMAT = "must be a channel id like C0123ABCD or a name like #fluxori-ops"
LIST_PAGE = 200
_TOP_KEYS = {
    "default_env",
    "channel",
    "services",
    "environments",
    "secrets",
    "action_ttl_minutes",
    "rollback_watch_minutes",
    "backup_max_age_hours",
    "policy",
    "alert_storm",
}


def load(path: str, channel_override: str = "") -> OpsConfig:
    """Load and validate; raises ConfigError with one message per problem."""
    config = parse(_read(path), path) if path else FLUXORI_DEFAULTS
    if channel_override:
        if not _is_channel(channel_override):
            raise ConfigError([f"SLACK_OPS_CHANNEL `{channel_override}` {CHANNEL_FORMAT}."])
        config = replace(config, channel=channel_override)
    return config


def resolve_channel(config: OpsConfig, slack: WebClient) -> OpsConfig:
    """The config with its channel as an id: chat.update and the readers accept only ids.
    A name is looked up with conversations.list (every page); ConfigError when it is not
    found or Slack cannot be asked."""
    if not config.channel or _CHANNEL_ID.match(config.channel):
        return config
    name = config.channel.removeprefix("#")
    try:
        channel_id = _channel_id(slack, name)
    except SlackApiError as err:
        reason = str(err.response.get("error", "error"))
        raise ConfigError(
            [f"channel #{name}: Slack refused to list channels ({reason})."]
        ) from None
    except (SlackClientError, OSError) as err:
        raise ConfigError(
            [f"channel #{name}: cannot reach Slack ({type(err).__name__})."]
        ) from None
    if not channel_id:
        raise ConfigError(
            [f"channel #{name}: no such channel the bot can see; check the name or give its id."]
        )
    return replace(config, channel=channel_id)


def _channel_id(slack: WebClient, name: str) -> str:
    pages = slack.conversations_list(
        types="public_channel,private_channel", exclude_archived=True, limit=LIST_PAGE
    )
    for page in pages:  # a SlackResponse follows response_metadata.next_cursor
        for channel in page.get("channels") or ():
            if channel.get("name") == name:
                return str(channel["id"])
    return ""


def _is_channel(value: str) -> bool:
    return bool(_CHANNEL_ID.match(value) or _CHANNEL_NAME.match(value))


def _read(path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"BOT_CONFIG={path}: no such file."]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"BOT_CONFIG={path}: cannot read it ({err})."]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"BOT_CONFIG={path}: not valid TOML ({err})."]) from None


def parse(raw: dict[str, Any], source: str = "BOT_CONFIG") -> OpsConfig:
    problems = [f"{source}: unknown key `{k}`." for k in raw if k not in _TOP_KEYS]
    envs = _environments(raw.get("environments", {}), problems, source)
    services = _services(raw.get("services", list(FLUXORI_DEFAULTS.services)), problems, source)
    secrets = _secrets(raw.get("secrets", {}), services, problems, source)
    default_env = raw.get("default_env", next(iter(envs), ""))
    if default_env not in envs:
        problems.append(f"{source}: default_env `{default_env}` is not one of the environments.")
    channel = raw.get("channel", "")
    if channel and not (isinstance(channel, str) and _is_channel(channel)):
        problems.append(f"{source}: channel `{channel}` {CHANNEL_FORMAT}.")
    policy = parse_policy(raw.get("policy"), tuple(envs), problems, source)
    ttl = _positive_int(raw, "action_ttl_minutes", 15, problems, source)
    watch = _positive_int(raw, "rollback_watch_minutes", 5, problems, source)
    storm = _alert_storm(raw.get("alert_storm", {}), problems, source)
    backup_age = _positive_int(raw, "backup_max_age_hours", 48, problems, source, "hours")
    if problems:
        raise ConfigError(problems)
    return OpsConfig(
        environments=envs,
        default_env=default_env,
        services=services,
        secrets=secrets,
        channel=channel,
        action_ttl_minutes=ttl,
        rollback_watch_seconds=watch * 60,
        storm_threshold=storm.get("threshold", FLUXORI_DEFAULTS.storm_threshold),
        storm_window_seconds=storm.get("window_minutes", 10) * 60,
        backup_max_age_hours=backup_age,
        extra={"policy": policy},
    )


def _environments(raw: Any, problems: list[str], source: str) -> dict[str, Environment]:
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{source}: [environments.NAME] tables are required (project, region).")
        return {}
    envs = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            problems.append(f"{source}: environments.{name} must be a table.")
            continue
        project, region = table.get("project", ""), table.get("region", "")
        if not isinstance(project, str) or not _PROJECT.match(project):
            problems.append(
                f"{source}: environments.{name}.project `{project}` is not a project id."
            )
        if not isinstance(region, str) or not re.match(r"^[a-z]+-[a-z]+\d$", region):
            problems.append(f"{source}: environments.{name}.region `{region}` is not a region.")
        envs[name] = Environment(
            name, str(project), str(region), str(table.get("failover_region", ""))
        )
    return envs


def _services(raw: Any, problems: list[str], source: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{source}: services must be a non-empty list of Cloud Run service names.")
        return ()
    for name in raw:
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{source}: service `{name}` is not a valid Cloud Run service name.")
    return tuple(str(n) for n in raw)


def _secrets(
    raw: Any, services: tuple[str, ...], problems: list[str], source: str
) -> dict[str, SecretSpec]:
    if not isinstance(raw, dict):
        problems.append(f"{source}: [secrets.NAME] must be tables with consumers = [...].")
        return {}
    specs = {}
    for name, table in raw.items():
        consumers = table.get("consumers", []) if isinstance(table, dict) else None
        if not isinstance(consumers, list):
            problems.append(f"{source}: secrets.{name}.consumers must be a list of services.")
            continue
        unknown = [c for c in consumers if c not in services]
        if unknown:
            problems.append(f"{source}: secrets.{name} consumers {unknown} are not in services.")
        specs[name] = SecretSpec(name, tuple(consumers))
    return specs


def _positive_int(
    raw: dict[str, Any],
    key: str,
    default: int,
    problems: list[str],
    source: str,
    unit: str = "minutes",
) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        problems.append(f"{source}: {key} must be a positive whole number of {unit}.")
        return default
    return value


def _alert_storm(raw: Any, problems: list[str], source: str) -> dict[str, int]:
    """[alert_storm]: threshold (incidents, at least 2) and window_minutes; those given."""
    if not isinstance(raw, dict):
        problems.append(f"{source}: [alert_storm] must be a table (threshold, window_minutes).")
        return {}
    problems += [
        f"{source}: unknown key `alert_storm.{k}`."
        for k in raw
        if k not in ("threshold", "window_minutes")
    ]
    found = {}
    for key, least in (("threshold", 2), ("window_minutes", 1)):
        value = raw.get(key, least)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            problems.append(f"{source}: alert_storm.{key} must be a whole number, {least} or more.")
        elif key in raw:
            found[key] = value
    return found
