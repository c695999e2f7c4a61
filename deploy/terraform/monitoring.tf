# Cloud Monitoring in the Fluxori project: a Pub/Sub notification channel on the bot's alerts
# topic, and two example policies. Their user_labels are what the bot reads: `service` and
# `environment` map the incident to a service, `runbook` picks the card's buttons
# (handlers/alerts.py BUTTONS).

data "google_project" "fluxori" {
  project_id = var.fluxori_project
}

resource "google_monitoring_notification_channel" "ops" {
  project      = var.fluxori_project
  display_name = "#fluxori-ops via the ops bot (${var.environment})"
  type         = "pubsub"
  labels       = { topic = google_pubsub_topic.alerts.id }
}

# Monitoring publishes as its notification service agent, created with the first channel.
resource "google_pubsub_topic_iam_member" "monitoring_publishes_alerts" {
  topic      = google_pubsub_topic.alerts.id
  role       = "roles/pubsub.publisher"
  member     = "serviceAccount:service-${data.google_project.fluxori.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  depends_on = [google_monitoring_notification_channel.ops]
}

resource "google_monitoring_alert_policy" "high_error_rate" {
  project               = var.fluxori_project
  display_name          = "fluxori-backend high 5xx rate (${var.environment})"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = [google_monitoring_notification_channel.ops.name]
  user_labels = {
    service     = "fluxori-backend"
    environment = var.environment
    runbook     = "high-error-rate"
  }
  documentation {
    mime_type = "text/markdown"
    content   = <<-MD
      fluxori-backend (${var.environment}) answers more than ${var.error_rate_threshold} 5xx responses per second.
      Runbook: high error rate. From Slack: `/ops errors fluxori-backend --env ${var.environment}`,
      then `/ops revisions fluxori-backend` and, if a new revision is to blame, `/ops rollback fluxori-backend`.
    MD
  }
  conditions {
    display_name = "5xx responses > ${var.error_rate_threshold}/s for 5 min"
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
  project               = var.fluxori_project
  display_name          = "fluxori-backend high latency (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = [google_monitoring_notification_channel.ops.name]
  user_labels = {
    service     = "fluxori-backend"
    environment = var.environment
    runbook     = "high-latency"
  }
  documentation {
    mime_type = "text/markdown"
    content   = <<-MD
      p95 latency of fluxori-backend (${var.environment}) is above ${var.latency_threshold_ms} ms.
      Runbook: high latency. From Slack: `/ops logs fluxori-backend slow-requests --env ${var.environment}`,
      `/ops logs fluxori-backend slow-queries`, then `/ops scale fluxori-backend` if instances are saturated.
    MD
  }
  conditions {
    display_name = "p95 latency > ${var.latency_threshold_ms} ms for 5 min"
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
