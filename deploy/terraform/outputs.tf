output "bot_url" {
  description = "Put <bot_url>/slack/events in the Slack app manifest."
  value       = google_cloud_run_v2_service.bot.uri
}

output "bot_service_account" {
  value = google_service_account.bot.email
}

output "alerts_topic" {
  value = google_pubsub_topic.alerts.id
}
