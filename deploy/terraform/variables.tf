variable "project" {
  description = "Project the bot runs in, e.g. fluxori-prod."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod (labels on alert policies)."
  type        = string
}

variable "region" {
  description = "Region of the bot and of the Fluxori services."
  type        = string
  default     = "africa-south1"
}

variable "image" {
  description = "The bot's container image (Artifact Registry)."
  type        = string
}

variable "slack_ops_channel" {
  description = "Channel id of #fluxori-ops, where alerts are posted."
  type        = string
}

variable "managed_services" {
  description = "Cloud Run services the bot may roll back and scale."
  type        = list(string)
  default     = ["fluxori-backend", "fluxori-frontend"]
}

variable "fluxori_runtime_service_account" {
  description = "Email of the service account the Fluxori services run as (deploying a revision acts as it)."
  type        = string
}

variable "jwt_secret_id" {
  description = "Secret Manager secret the bot rotates."
  type        = string
  default     = "jwt-secret"
}

variable "error_rate_threshold" {
  description = "5xx requests per second on fluxori-backend that open an incident."
  type        = number
  default     = 5
}

variable "latency_threshold_ms" {
  description = "p95 request latency of fluxori-backend that opens an incident."
  type        = number
  default     = 1000
}

variable "max_instances" {
  description = "Upper bound on bot instances."
  type        = number
  default     = 3
}
