output "bot_url" {
  description = "The bot's Cloud Run URL."
  value       = google_cloud_run_v2_service.bot.uri
}

output "slack_request_url" {
  description = "Put this in the Slack app for the slash command, interactivity and events."
  value       = "${google_cloud_run_v2_service.bot.uri}/slack/events"
}

output "bot_service_account" {
  description = "The bot's runtime identity (the roles it holds are in iam.tf)."
  value       = google_service_account.bot.email
}

output "push_service_account" {
  description = "The identity in the OIDC tokens of pushes to /pubsub/alerts."
  value       = google_service_account.push.email
}

output "tasks_push_service_account" {
  description = "The identity in the OIDC tokens of job pushes to /tasks."
  value       = google_service_account.tasks_push.email
}

output "alerts_topic" {
  description = "Publish a Monitoring incident here to test the alert path."
  value       = google_pubsub_topic.alerts.id
}

output "dead_letter_subscription" {
  description = "Undeliverable alerts and jobs."
  value       = google_pubsub_subscription.dead_letter.id
}

output "notification_channel" {
  description = "Add this channel to other alert policies in the Fluxori project."
  value       = google_monitoring_notification_channel.ops.name
}
