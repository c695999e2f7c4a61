# Pub/Sub: Monitoring alerts and the bot's jobs, pushed to the bot with OIDC tokens, with a
# dead-letter topic; and the maintenance sweep, published to the jobs topic every minute.

data "google_project" "bot" {
  project_id = var.project
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.bot.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  pushes = {
    # Posting an alert card is quick.
    alerts = {
      topic   = google_pubsub_topic.alerts.id, path = "/pubsub/alerts", ack = 60, attempts = 10
      account = google_service_account.push.email, audience = local.push_audience
    }
    # A change runs inside the push request: allow Cloud Run's whole request timeout. A job
    # that is not due yet (the rollback check) answers 503 and comes back after Pub/Sub's
    # backoff; those deliveries count as attempts, hence the larger budget.
    jobs = {
      topic   = google_pubsub_topic.jobs.id, path = "/tasks", ack = 600, attempts = 20
      account = google_service_account.tasks_push.email, audience = local.tasks_audience
    }
  }
}

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
  member = local.bot_member
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
      service_account_email = each.value.account
      audience              = each.value.audience
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = each.value.attempts
  }
  expiration_policy {
    ttl = "" # never: a quiet month without alerts must not delete the subscription
  }
}

# Undeliverable messages wait here for an engineer (deploy/README.md, "Dead letters").
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "fluxori-ops-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's service agent mints the push tokens and moves poison messages aside.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  for_each           = { alerts = google_service_account.push.name, jobs = google_service_account.tasks_push.name }
  service_account_id = each.value
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_forwards" {
  for_each     = google_pubsub_subscription.push
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# With BOT_JOBS=pubsub the bot runs no timer of its own (bot/__main__.py): this sweep expires
# unconfirmed plans and reports changes whose worker died.
resource "google_cloud_scheduler_job" "maintenance" {
  name     = "fluxori-ops-maintenance"
  region   = var.scheduler_region != "" ? var.scheduler_region : var.region
  schedule = "* * * * *"
  pubsub_target {
    topic_name = google_pubsub_topic.jobs.id
    data       = base64encode(jsonencode({ kind = "maintenance", payload = {} }))
    attributes = { kind = "maintenance" }
  }
}
