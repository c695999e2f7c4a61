# Identities and least-privilege grants. The custom roles hold exactly the permissions of the
# Google API methods the bot calls (tests/test_deploy.py maps each method to its permission),
# because each predefined role that covers them also allows more (run.developer deletes
# services, secretVersionManager destroys versions, the viewers read everything).

resource "google_service_account" "bot" {
  account_id   = "fluxori-ops-bot"
  display_name = "Fluxori ops bot (runtime)"
}

# Pub/Sub signs each push's OIDC token as the route's own account, for the route's own
# audience: a token minted for an alert cannot run a job, nor the other way round.
resource "google_service_account" "alerts_push" {
  account_id   = "fluxori-ops-alerts-push"
  display_name = "Fluxori ops bot: Pub/Sub push identity of /pubsub/alerts"
}

resource "google_service_account" "tasks_push" {
  account_id   = "fluxori-ops-tasks-push"
  display_name = "Fluxori ops bot: Pub/Sub push identity of /tasks"
}

# --- in the Fluxori environment's project ---------------------------------------------------
# A project's custom roles can be granted only on that project and its resources, so these
# are defined in the Fluxori project.

resource "google_project_iam_custom_role" "service_operator" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsServiceOperator"
  title       = "Fluxori ops bot: operate a Cloud Run service"
  description = "status, revisions, rollback, scale and rotation's new revision; no create or delete."
  permissions = [
    "run.services.get",    # status, and every plan reads the service and its etag
    "run.services.update", # rollback's traffic split, scale, rotation's new revision
    "run.revisions.list",  # revisions, and rollback's choice of target
    "run.revisions.get",   # the serving revision a resize or a rotation builds on (its image)
  ]
}

resource "google_project_iam_custom_role" "reader" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsReader"
  title       = "Fluxori ops bot: read operations, logs and metrics"
  description = "Granted on the project: operations, log entries and metrics have no narrower resource."
  permissions = [
    "run.operations.get",         # polling an update's long-running operation (a project resource)
    "logging.logEntries.list",    # errors and logs presets; why's Admin Activity audit entries
    #                               (Data Access audit logs would need privateLogEntries.list: not read)
    "monitoring.timeSeries.list", # slo, the rollback check, alert cards' figures, why's per-revision health
    "monitoring.services.list",   # slo: the Monitoring service watching a Cloud Run service
    "monitoring.slos.list",       # slo: its objectives
  ]
}

resource "google_project_iam_custom_role" "secret_rotator" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsSecretRotator"
  title       = "Fluxori ops bot: rotate a secret"
  description = "Add, list and disable versions; never read a value, never destroy a version."
  permissions = [
    "secretmanager.versions.add",     # rotate-secret writes the new value
    "secretmanager.versions.list",    # plans, and the sweep that finds the versions in use
    "secretmanager.versions.disable", # disable-secret-version
  ]
}

resource "google_project_iam_custom_role" "acts_as" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsActAs"
  title       = "Fluxori ops bot: deploy as the services' runtime account"
  description = "iam.serviceAccounts.actAs alone (serviceAccountUser also lists accounts and projects)."
  permissions = ["iam.serviceAccounts.actAs"]
}

# Only the managed services, never the project's other services.
resource "google_cloud_run_v2_service_iam_member" "bot_manages_service" {
  for_each = toset(var.managed_services)
  project  = var.fluxori_project
  location = var.region
  name     = each.value
  role     = google_project_iam_custom_role.service_operator.name
  member   = local.bot_member
}

# Every service update (a traffic split, a scale, a new revision) acts as the runtime account.
resource "google_service_account_iam_member" "bot_acts_as_fluxori_runtime" {
  service_account_id = "projects/${var.fluxori_project}/serviceAccounts/${var.fluxori_runtime_service_account}"
  role               = google_project_iam_custom_role.acts_as.name
  member             = local.bot_member
}

resource "google_project_iam_member" "bot_reads_fluxori" {
  project = var.fluxori_project
  role    = google_project_iam_custom_role.reader.name
  member  = local.bot_member
}

# The rotated secret only. Its consumers, not the bot, read it: the new revision Cloud Run
# starts reads the pinned version as the runtime account.
resource "google_secret_manager_secret_iam_member" "bot_rotates_jwt" {
  project   = var.fluxori_project
  secret_id = var.jwt_secret_id
  role      = google_project_iam_custom_role.secret_rotator.name
  member    = local.bot_member
}

# --- in the bot's project -------------------------------------------------------------------

resource "google_project_iam_custom_role" "store" {
  role_id     = "fluxoriOpsStore"
  title       = "Fluxori ops bot: the action store"
  description = "Read and write documents (Firestore's datastore.entities.*), nothing about databases or indexes."
  permissions = [
    "datastore.entities.get",    # reads, and queries' results
    "datastore.entities.list",   # queries: history, the Home tab, the sweep
    "datastore.entities.create", # new actions, locks, seen keys, refusals; set() may create
    "datastore.entities.update", # compare-and-set moves of an action; set() may update
    "datastore.entities.delete", # released locks, forgotten seen keys
  ]
}

# The action store (ops_* collections). The project holds no Fluxori data.
resource "google_project_iam_member" "bot_store" {
  project = var.project
  role    = google_project_iam_custom_role.store.name
  member  = local.bot_member
}

# The bot's Slack credentials and its config file, which Cloud Run reads as the runtime
# account to start an instance. roles/secretmanager.secretAccessor is exactly
# secretmanager.versions.access; the bot reads no other secret.
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
