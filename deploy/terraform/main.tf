# The Google Cloud side of the Fluxori ops bot: its Cloud Run service and identity, the
# Pub/Sub topics for alerts and jobs (OIDC push), the Monitoring channel and two example
# alert policies, Firestore with a TTL on de-duplication keys, and a maintenance schedule.

locals {
  labels        = { app = "fluxori-ops-bot", environment = var.environment }
  push_audience = "fluxori-ops-bot-${var.environment}"
  slack_secrets = { SLACK_BOT_TOKEN = "slack-bot-token", SLACK_SIGNING_SECRET = "slack-signing-secret" }
}

data "google_project" "this" {}

# --- identities ---------------------------------------------------------------------------

resource "google_service_account" "bot" {
  account_id   = "fluxori-ops-bot"
  display_name = "Fluxori ops bot (runtime)"
}

resource "google_service_account" "push" {
  account_id   = "fluxori-ops-push"
  display_name = "Fluxori ops bot: Pub/Sub push identity"
}

# Least privilege, one grant per runbook action:
# rollback and scale: run.developer on the managed services only;
resource "google_cloud_run_v2_service_iam_member" "bot_developer" {
  for_each = toset(var.managed_services)
  name     = each.value
  location = var.region
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.bot.email}"
}

# deploying a revision (secret rotation) acts as the services' runtime account;
resource "google_service_account_iam_member" "bot_acts_as_runtime" {
  service_account_id = "projects/${var.project}/serviceAccounts/${var.fluxori_runtime_service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.bot.email}"
}

# errors, logs presets, SLOs and the rollback check read logs and metrics;
resource "google_project_iam_member" "bot_readers" {
  for_each = toset(["roles/logging.viewer", "roles/monitoring.viewer", "roles/datastore.user"])
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.bot.email}"
}

# secret rotation: versions of jwt-secret only (add, enable, disable, verify);
resource "google_secret_manager_secret_iam_member" "bot_jwt_versions" {
  for_each  = toset(["roles/secretmanager.secretVersionManager", "roles/secretmanager.secretAccessor"])
  secret_id = var.jwt_secret_id
  role      = each.value
  member    = "serviceAccount:${google_service_account.bot.email}"
}

# the bot's own Slack credentials.
resource "google_secret_manager_secret" "slack" {
  for_each  = local.slack_secrets
  secret_id = each.value
  labels    = local.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "bot_slack" {
  for_each  = local.slack_secrets
  secret_id = google_secret_manager_secret.slack[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.bot.email}"
}

# --- the bot on Cloud Run -------------------------------------------------------------------

resource "google_cloud_run_v2_service" "bot" {
  name     = "fluxori-ops-bot"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL" # Slack must reach it; push routes check OIDC themselves
  labels   = local.labels

  template {
    service_account                  = google_service_account.bot.email
    max_instance_request_concurrency = 80
    timeout                          = "600s" # a job pushed to /tasks runs inside its request
    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }
    containers {
      image = var.image
      resources {
        limits   = { cpu = "1", memory = "512Mi" }
        cpu_idle = true # request-based CPU: jobs run inside /tasks requests (BOT_JOBS=pubsub)
      }
      env {
        name  = "SLACK_OPS_CHANNEL"
        value = var.slack_ops_channel
      }
      env {
        name  = "BOT_STORE"
        value = "firestore"
      }
      env {
        name  = "BOT_JOBS"
        value = "pubsub"
      }
      env {
        name  = "BOT_JOBS_TOPIC"
        value = google_pubsub_topic.jobs.id
      }
      env {
        name  = "PUSH_AUDIENCE"
        value = local.push_audience
      }
      env {
        name  = "PUSH_SERVICE_ACCOUNT"
        value = google_service_account.push.email
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project
      }
      env {
        name  = "LOG_LEVEL"
        value = "INFO"
      }
      dynamic "env" {
        for_each = local.slack_secrets
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.slack[env.key].secret_id
              version = "latest"
            }
          }
        }
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.bot_slack]
}

# Slack cannot send Google credentials; /pubsub/alerts and /tasks verify OIDC tokens.
resource "google_cloud_run_v2_service_iam_member" "public" {
  name     = google_cloud_run_v2_service.bot.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- Pub/Sub: alerts and jobs, pushed with OIDC, with a dead-letter topic -----------------------

resource "google_pubsub_topic" "alerts" {
  name   = "fluxori-ops-alerts"
  labels = local.labels
}

resource "google_pubsub_topic" "jobs" {
  name   = "fluxori-ops-jobs"
  labels = local.labels
}

resource "google_pubsub_topic" "dead_letter" {
  name   = "fluxori-ops-dead-letter"
  labels = local.labels
}

resource "google_pubsub_topic_iam_member" "bot_publishes_jobs" {
  topic  = google_pubsub_topic.jobs.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.bot.email}"
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  pushes = {
    alerts = { topic = google_pubsub_topic.alerts.id, path = "/pubsub/alerts", ack = 60 }
    jobs   = { topic = google_pubsub_topic.jobs.id, path = "/tasks", ack = 600 }
  }
}

# Pub/Sub signs push tokens as the push account, and moves poison messages aside.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.pushes
  name                 = "fluxori-ops-${each.key}-push"
  topic                = each.value.topic
  ack_deadline_seconds = each.value.ack
  labels               = local.labels

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.bot.uri}${each.value.path}"
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.push_audience
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = google_pubsub_subscription.push
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Expired plans and interrupted changes are swept every minute through the jobs topic.
resource "google_cloud_scheduler_job" "maintenance" {
  name     = "fluxori-ops-maintenance"
  region   = var.region
  schedule = "* * * * *"
  pubsub_target {
    topic_name = google_pubsub_topic.jobs.id
    data       = base64encode(jsonencode({ kind = "maintenance", payload = {} }))
  }
}

# --- Cloud Monitoring: notification channel and example policies -----------------------------

resource "google_monitoring_notification_channel" "ops" {
  display_name = "#fluxori-ops via the ops bot"
  type         = "pubsub"
  labels       = { topic = google_pubsub_topic.alerts.id }
}

resource "google_pubsub_topic_iam_member" "monitoring_publishes_alerts" {
  topic  = google_pubsub_topic.alerts.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

resource "google_monitoring_alert_policy" "high_error_rate" {
  display_name          = "fluxori-backend high 5xx rate"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.ops.name]
  user_labels           = { service = "fluxori-backend", environment = var.environment, runbook = "high-error-rate" }
  documentation {
    content   = "5xx rate on fluxori-backend (${var.environment}) above ${var.error_rate_threshold} req/s. Runbook: high-error-rate. Slack: /ops errors fluxori-backend"
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "Cloud Run 5xx request rate > ${var.error_rate_threshold}/s"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"fluxori-backend\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.error_rate_threshold
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "high_latency" {
  display_name          = "fluxori-backend high latency"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.ops.name]
  user_labels           = { service = "fluxori-backend", environment = var.environment, runbook = "high-latency" }
  documentation {
    content   = "p95 latency of fluxori-backend (${var.environment}) above ${var.latency_threshold_ms} ms. Runbook: high-latency. Slack: /ops logs fluxori-backend slow-requests"
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "Cloud Run p95 latency > ${var.latency_threshold_ms} ms"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"fluxori-backend\" AND metric.type = \"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.latency_threshold_ms
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_95"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }
}

# --- Firestore: the action store --------------------------------------------------------------

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
}

# De-duplication keys (Pub/Sub message ids, incident states) expire after a week.
resource "google_firestore_field" "seen_ttl" {
  database   = google_firestore_database.default.name
  collection = "ops_seen"
  field      = "expire_at"
  ttl_config {}
}
