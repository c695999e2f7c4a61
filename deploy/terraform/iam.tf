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
  title       = "Fluxori ops bot: read operations, logs and metrics; set SLO goals"
  description = "Granted on the project: operations, log entries, metrics and SLOs have no narrower resource."
  permissions = [
    "run.operations.get",         # polling an update's long-running operation (a project resource)
    "logging.logEntries.list",    # errors and logs presets; why's Admin Activity audit entries
    #                               (Data Access audit logs would need privateLogEntries.list: not read)
    "monitoring.timeSeries.list", # slo, the rollback check, alert cards' figures, why's per-revision health
    "monitoring.services.list",   # slo: the Monitoring service watching a Cloud Run service
    "monitoring.slos.list",       # slo: its objectives
    "monitoring.slos.get",        # slo-goal: the goal and window right before the update
    "monitoring.slos.update",     # slo-goal: the runbook's SLO goal and rolling window change
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

# --- the database chapter: Firestore indexes, exports, imports; the backup bucket ----------

# Firestore's indexes, exports and imports are database-level methods with no narrower IAM
# resource than the project; predefined roles that cover them (datastore.indexAdmin,
# datastore.importExportAdmin) also list operations or read documents.
resource "google_project_iam_custom_role" "database_operator" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsDatabaseOperator"
  title       = "Fluxori ops bot: Firestore indexes, export and import"
  description = "indexes, create-index, delete-index, export, restore; no document access."
  permissions = [
    "datastore.indexes.list",     # indexes, and every index plan checks what exists
    "datastore.indexes.create",   # create-index
    "datastore.indexes.delete",   # delete-index
    "datastore.databases.export", # export, and restore's export first in prod
    "datastore.databases.import", # restore
    "datastore.operations.get",   # following an index build, an export or an import
  ]
}

resource "google_project_iam_member" "bot_operates_database" {
  project = var.fluxori_project
  role    = google_project_iam_custom_role.database_operator.name
  member  = local.bot_member
}

resource "google_project_iam_custom_role" "backup_reader" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsBackupReader"
  title       = "Fluxori ops bot: list the backup bucket"
  description = "backups and restore's plan list the exports' objects; nothing is read or written."
  permissions = [
    "storage.objects.list", # backups: each export's objects, sizes and metadata file
  ]
}

# The backup bucket only, never the project's other buckets.
resource "google_storage_bucket_iam_member" "bot_lists_backups" {
  bucket = "${var.fluxori_project}-backup"
  role   = google_project_iam_custom_role.backup_reader.name
  member = local.bot_member
}

# Firestore writes an export and reads an import as its own service agent, not as the bot
# (https://cloud.google.com/firestore/docs/manage-data/export-import#permissions): it alone
# writes to the backup bucket, and only there.
data "google_project" "fluxori" {
  project_id = var.fluxori_project
}

resource "google_project_iam_custom_role" "firestore_agent_backup" {
  project     = var.fluxori_project
  role_id     = "fluxoriOpsFirestoreAgentBackup"
  title       = "Firestore service agent: write exports to and read imports from the backup bucket"
  description = "Granted on the backup bucket to Firestore's own service agent; no delete."
  permissions = [
    "storage.buckets.get",    # export and import check the bucket
    "storage.objects.create", # export writes its files
    "storage.objects.get",    # import reads them
    "storage.objects.list",   # import finds an export's files
  ]
}

resource "google_storage_bucket_iam_member" "firestore_agent_backup" {
  bucket = "${var.fluxori_project}-backup"
  role   = google_project_iam_custom_role.firestore_agent_backup.name
  member = "serviceAccount:service-${data.google_project.fluxori.number}@gcp-sa-firestore.iam.gserviceaccount.com"
}
