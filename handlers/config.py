"""What the bot operates on: environments, services, secrets. Built-in Fluxori defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from gcp.refs import ServiceRef

DATABASE_TARGET = "firestore"  # every database action's target: one database per project


@dataclass(frozen=True)
class Environment:
    name: str
    project: str
    region: str
    failover_region: str = ""


@dataclass(frozen=True)
class SecretSpec:
    name: str
    consumers: tuple[str, ...]


@dataclass(frozen=True)
class OpsConfig:
    """The operational map the handlers decide against (loaded by bot.config)."""

    environments: dict[str, Environment]
    default_env: str
    services: tuple[str, ...]
    secrets: dict[str, SecretSpec]
    channel: str = ""
    action_ttl_minutes: int = 15
    rollback_watch_seconds: int = 300
    # An alert storm: the `storm_threshold`th open incident of one policy within
    # `storm_window_seconds` starts one group card for the policy instead of a card each.
    storm_threshold: int = 4
    storm_window_seconds: int = 600
    backup_max_age_hours: int = 48  # `/ops backups` warns when the newest export is older
    extra: dict[str, object] = field(default_factory=dict)

    def env(self, name: str | None) -> Environment:
        return self.environments[name or self.default_env]

    def backup_bucket(self, env: str) -> str:
        """The runbook's `gs://fluxori-<environment>-backup`: the project's name + `-backup`."""
        return f"{self.env(env).project}-backup"

    def service_ref(self, env: str, service: str) -> ServiceRef:
        environment = self.env(env)
        return ServiceRef(environment.project, environment.region, service)


FLUXORI_DEFAULTS = OpsConfig(
    environments={
        name: Environment(name, f"fluxori-{name}", "africa-south1", "europe-west4")
        for name in ("dev", "staging", "prod")
    },
    default_env="prod",
    services=("fluxori-backend", "fluxori-frontend"),
    secrets={"jwt-secret": SecretSpec("jwt-secret", ("fluxori-backend",))},
)
