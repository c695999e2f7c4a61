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

# History's queries (bot/store/filtering.py): the equality filters people combine, newest
# first. Each combination is a composite index of its equality fields (in the order the store
# issues them) and then the time field descending; `--since`/`--before` are ranges on that
# same time field, and a count uses the same index. A user filter is an OR of the requester
# and the approver: each branch has its own index. Google's Firestore emulator runs queries
# without composite indexes, so these are declared from the queries, and
# tests/test_history.py checks that they match, one for one.
locals {
  action_index_equalities = [
    ["env"],
    ["target"],
    ["state"],
    ["env", "target"],
    ["env", "state"],
    ["target", "state"],
    ["env", "target", "state"],
    ["requested_by"],
    ["env", "requested_by"],
    ["target", "requested_by"],
    ["state", "requested_by"],
    ["env", "target", "requested_by"],
    ["env", "state", "requested_by"],
    ["target", "state", "requested_by"],
    ["env", "target", "state", "requested_by"],
    ["approved_by"],
    ["env", "approved_by"],
    ["target", "approved_by"],
    ["state", "approved_by"],
    ["env", "target", "approved_by"],
    ["env", "state", "approved_by"],
    ["target", "state", "approved_by"],
    ["env", "target", "state", "approved_by"]
  ]
  refusal_index_equalities = [
    ["kind"],
    ["kind", "context.env"],
    ["kind", "context.target"],
    ["kind", "by"],
    ["kind", "context.env", "context.target"],
    ["kind", "context.env", "by"],
    ["kind", "context.target", "by"],
    ["kind", "context.env", "context.target", "by"]
  ]
}

resource "google_firestore_index" "history" {
  for_each = merge(
    { for f in local.action_index_equalities : "actions:${join("+", f)}" => {
      collection = "ops_actions", fields = concat(f, ["created_at"])
    } },
    { for f in local.refusal_index_equalities : "refusals:${join("+", f)}" => {
      collection = "ops_refusals", fields = concat(f, ["at"])
    } },
  )
  database   = google_firestore_database.default.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value
      # the equality fields, then the time field last, newest first
      order = fields.key == length(each.value.fields) - 1 ? "DESCENDING" : "ASCENDING"
    }
  }
}
