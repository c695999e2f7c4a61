"""The Fluxori platform as the `fluxori` seed lays it out (it matches the bot's defaults)."""

from __future__ import annotations

ENVIRONMENTS = {"dev": "fluxori-dev", "staging": "fluxori-staging", "prod": "fluxori-prod"}
PROJECTS = tuple(ENVIRONMENTS.values())
REGION = "africa-south1"
FAILOVER_REGION = "europe-west4"
SERVICES = ("fluxori-backend", "fluxori-frontend")
SECRET = "jwt-secret"
SECRET_CONSUMER = "fluxori-backend"
SECRET_ENV_VAR = "JWT_SECRET"
SLO_DISPLAY_NAME = "99% of requests are successful over 24h"
