variable "project" {
  description = "The bot's own project (Cloud Run, Pub/Sub, Firestore, its secrets), e.g. fluxori-ops-prod. Not the Fluxori project: see deploy/README.md."
  type        = string
}

variable "fluxori_project" {
  description = "The Fluxori environment's project the bot operates on, e.g. fluxori-prod."
  type        = string
}

variable "environment" {
  description = "The environment's name in the bot's config and on alert policies: dev, staging or prod."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.environment))
    error_message = "environment must be a short lower-case name such as prod."
  }
}

variable "region" {
  description = "Region of the bot and of the Fluxori services."
  type        = string
  default     = "africa-south1"
}

variable "image" {
  description = "The bot's image with an immutable tag, e.g. africa-south1-docker.pkg.dev/fluxori-ops-prod/ops/fluxori-ops-bot:3f9c2ab (given with -var at apply)."
  type        = string
}

variable "slack_ops_channel" {
  description = "Channel id of #fluxori-ops (right-click the channel > Copy link: the C... part)."
  type        = string
  validation {
    condition     = can(regex("^[CG][A-Z0-9_]{2,}$", var.slack_ops_channel))
    error_message = "slack_ops_channel must be a channel id like C0123ABCD, not a name."
  }
}

variable "managed_services" {
  description = "Cloud Run services of the Fluxori project the bot may roll back, scale and redeploy."
  type        = list(string)
  default     = ["fluxori-backend", "fluxori-frontend"]
}

variable "fluxori_runtime_service_account" {
  description = "Email of the service account the Fluxori services run as (every service update acts as it)."
  type        = string
}

variable "jwt_secret_id" {
  description = "Secret Manager secret in the Fluxori project that /ops rotate-secret rotates."
  type        = string
  default     = "jwt-secret"
}

variable "jwt_secret_consumers" {
  description = "Services that read the rotated secret (they get a new revision pinned to the new version)."
  type        = list(string)
  default     = ["fluxori-backend"]
}

variable "slack_bot_token_secret" {
  description = "Secret (in the bot's project) holding the xoxb- bot token; created before apply (README step 4)."
  type        = string
  default     = "slack-bot-token"
}

variable "slack_signing_secret_secret" {
  description = "Secret (in the bot's project) holding the Slack signing secret."
  type        = string
  default     = "slack-signing-secret"
}

variable "access_policy" {
  description = "Optional TOML [policy] tables appended to the bot's config (who may request and approve; see bot/policy.py)."
  type        = string
  default     = ""
}

variable "push_audience" {
  description = "Audience of the OIDC tokens of alert pushes (/pubsub/alerts); empty: fluxori-ops-bot-ENVIRONMENT."
  type        = string
  default     = ""
}

variable "tasks_push_audience" {
  description = "Audience of the OIDC tokens of job pushes (/tasks); empty: fluxori-ops-bot-ENVIRONMENT-tasks."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL of the bot."
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "cpu" {
  description = "CPU limit of a bot instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of a bot instance."
  type        = string
  default     = "512Mi"
}

variable "min_instances" {
  description = "Instances kept warm; 0 lets the bot scale to zero (Slack acks survive a cold start)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on bot instances."
  type        = number
  default     = 3
}

variable "error_rate_threshold" {
  description = "5xx responses per second on fluxori-backend that open an incident."
  type        = number
  default     = 5
}

variable "latency_threshold_ms" {
  description = "p95 request latency of fluxori-backend, in ms, that opens an incident."
  type        = number
  default     = 1000
}

variable "scheduler_region" {
  description = "Region of the maintenance Cloud Scheduler job; empty: region."
  type        = string
  default     = ""
}
