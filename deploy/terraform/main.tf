# The Fluxori ops bot on Cloud Run. The bot runs in its own project (var.project) and acts on
# one Fluxori environment's project (var.fluxori_project): iam.tf grants it exactly that.

locals {
  labels         = { app = "fluxori-ops-bot", environment = var.environment }
  bot_member     = "serviceAccount:${google_service_account.bot.email}"
  push_audience  = var.push_audience != "" ? var.push_audience : "fluxori-ops-bot-${var.environment}"
  tasks_audience = "${local.push_audience}-tasks"
  config_secret  = "fluxori-ops-config"
  config_dir     = "/etc/fluxori-ops"

  # The bot's view of the world comes from the same variables as its grants.
  bot_config = templatefile("${path.module}/bot-config.toml.tftpl", {
    environment          = var.environment
    slack_ops_channel    = var.slack_ops_channel
    managed_services     = jsonencode(var.managed_services)
    fluxori_project      = var.fluxori_project
    region               = var.region
    jwt_secret_id        = var.jwt_secret_id
    jwt_secret_consumers = jsonencode(var.jwt_secret_consumers)
    access_policy        = var.access_policy
  })
}

# Not secret, but Secret Manager is how Cloud Run mounts a file; each change is a new version,
# and the revision pins it, so a config change rolls out as a new revision.
resource "google_secret_manager_secret" "config" {
  secret_id = local.config_secret
  labels    = local.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "config" {
  secret      = google_secret_manager_secret.config.id
  secret_data = local.bot_config
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_cloud_run_v2_service" "bot" {
  name     = "fluxori-ops-bot"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL" # Slack must reach it; the push routes check OIDC themselves
  labels   = local.labels

  template {
    service_account = google_service_account.bot.email
    # = gunicorn's threads in bot/server.py: beyond that, requests would queue inside the
    # instance behind long /tasks jobs instead of Cloud Run starting another instance.
    max_instance_request_concurrency = 16
    timeout                          = "600s" # a change pushed to /tasks runs inside its request

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    volumes {
      name = "config"
      secret {
        secret = google_secret_manager_secret.config.secret_id
        items {
          path    = "config.toml"
          version = google_secret_manager_secret_version.config.version
        }
      }
    }

    containers {
      image = var.image
      resources {
        limits = { cpu = var.cpu, memory = var.memory }
        # Request-based CPU: with BOT_JOBS=pubsub every job runs inside a /tasks request.
        cpu_idle          = true
        startup_cpu_boost = true
      }
      volume_mounts {
        name       = "config"
        mount_path = local.config_dir
      }

      env {
        name  = "BOT_CONFIG"
        value = "${local.config_dir}/config.toml"
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
        name  = "TASKS_PUSH_AUDIENCE"
        value = local.tasks_audience
      }
      env {
        name  = "TASKS_PUSH_SERVICE_ACCOUNT"
        value = google_service_account.tasks_push.email
      }
      env {
        name  = "LOG_LEVEL"
        value = var.log_level
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT" # Firestore, Pub/Sub and trace ids use the bot's project
        value = var.project
      }
      env {
        name = "SLACK_BOT_TOKEN"
        value_source {
          secret_key_ref {
            secret  = var.slack_bot_token_secret
            version = "latest"
          }
        }
      }
      env {
        name = "SLACK_SIGNING_SECRET"
        value_source {
          secret_key_ref {
            secret  = var.slack_signing_secret_secret
            version = "latest"
          }
        }
      }

      startup_probe {
        period_seconds    = 2
        failure_threshold = 15
        http_get {
          path = "/healthz"
        }
      }
    }
  }

  # Cloud Run checks at deploy time that the runtime account can read every secret it uses.
  depends_on = [google_secret_manager_secret_iam_member.bot_reads_own_secrets]
}

# Slack cannot send Google credentials, so the service is public: Slack requests are
# signature-checked, /pubsub/alerts accepts only the push account's OIDC tokens for
# local.push_audience, and /tasks only the tasks_push account's for local.tasks_audience.
resource "google_cloud_run_v2_service_iam_member" "public" {
  name     = google_cloud_run_v2_service.bot.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}
