# The action store: the bot's project's (default) Firestore database, native mode. The bot's
# collections are ops_actions, ops_locks, ops_seen, ops_records, ops_refusals and ops_outbox
# (bot/store/firestore.py).

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"

  lifecycle {
    # Fluxori's projects already have a (default) database holding Fluxori's data; the bot's
    # store and its datastore.user grant belong in a project of their own.
    precondition {
      condition     = var.project != var.fluxori_project
      error_message = "project must be the bot's own project, not the Fluxori project (deploy/README.md)."
    }
  }
}

# De-duplication keys (Pub/Sub message ids, incident states) carry expire_at = now + 7 days;
# Firestore deletes them after that. The field is never queried, so it is not indexed.
# Alert cards (incident id -> message) carry expire_at = write + 90 days: an incident that
# closes later than that gets a new "resolved" card instead of updating the old one.
resource "google_firestore_field" "records_ttl" {
  database   = google_firestore_database.default.name
  collection = "ops_records"
  field      = "expire_at"
  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "seen_ttl" {
  database   = google_firestore_database.default.name
  collection = "ops_seen"
  field      = "expire_at"
  ttl_config {}
  index_config {}
}

# Slack messages about changes wait in ops_outbox until Slack answers; once delivered they
# carry expire_at = delivery + 1 day (pending ones carry null, which never expires).
resource "google_firestore_field" "outbox_ttl" {
  database   = google_firestore_database.default.name
  collection = "ops_outbox"
  field      = "expire_at"
  ttl_config {}
  index_config {}
}
