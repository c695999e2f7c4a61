# Identities and least-privilege grants. Each grant names the runbook actions that need it.

resource "google_service_account" "bot" {
  account_id   = "fluxori-ops-bot"
  display_name = "Fluxori ops bot (runtime)"
}

# Pub/Sub signs its alert pushes' OIDC tokens as this account; /pubsub/alerts accepts no other.
resource "google_service_account" "push" {
  account_id   = "fluxori-ops-push"
  display_name = "Fluxori ops bot: Pub/Sub push identity"
}

# Job pushes to /tasks run changes, so they carry an identity of their own: a token minted for
# the alerts subscription is refused there.
resource "google_service_account" "tasks_push" {
  account_id   = "fluxori-ops-tasks-push"
  display_name = "Fluxori ops bot: Pub/Sub push identity for jobs"
}

# --- in the Fluxori environment's project ---------------------------------------------------

# status, revisions, rollback, scale and secret rotation: the managed services only.
resource "google_cloud_run_v2_service_iam_member" "bot_manages_service" {
  for_each = toset(var.managed_services)
  project  = var.fluxori_project
  location = var.region
  name     = each.value
  role     = "roles/run.developer"
  member   = local.bot_member
}

# Every service update (a rollback's traffic split, a scale, rotation's new revision) acts as
# the services' runtime account.
resource "google_service_account_iam_member" "bot_acts_as_fluxori_runtime" {
  service_account_id = "projects/${var.fluxori_project}/serviceAccounts/${var.fluxori_runtime_service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.bot_member
}

# errors and logs presets read logs; slo, the rollback check and alert cards read metrics.
resource "google_project_iam_member" "bot_reads_fluxori" {
  for_each = toset(["roles/logging.viewer", "roles/monitoring.viewer"])
  project  = var.fluxori_project
  role     = each.value
  member   = local.bot_member
}

# rotate-secret and disable-secret-version: versions of this one secret (add, list, enable,
# disable), and reading the new version back to verify it before any service uses it.
resource "google_secret_manager_secret_iam_member" "bot_rotates_jwt" {
  for_each  = toset(["roles/secretmanager.secretVersionManager", "roles/secretmanager.secretAccessor"])
  project   = var.fluxori_project
  secret_id = var.jwt_secret_id
  role      = each.value
  member    = local.bot_member
}

# --- in the bot's project -------------------------------------------------------------------

# The action store (ops_* collections). The project holds no Fluxori data.
resource "google_project_iam_member" "bot_store" {
  project = var.project
  role    = "roles/datastore.user"
  member  = local.bot_member
}

# The bot's Slack credentials and its config file.
resource "google_secret_manager_secret_iam_member" "bot_reads_own_secrets" {
  for_each = toset([
    var.slack_bot_token_secret,
    var.slack_signing_secret_secret,
    local.config_secret,
  ])
  secret_id  = each.value
  role       = "roles/secretmanager.secretAccessor"
  member     = local.bot_member
  depends_on = [google_secret_manager_secret.config]
}
