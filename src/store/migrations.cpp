// store/migrations.cpp — every schema change, in order, compiled into the binary.
// Database::open applies the ones newer than schema_migrations' highest version, each in
// its own transaction.  Never edit a released migration: append a new one.
#include "store/db.h"

namespace ef::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> k = {
      {1, "resources, history and search index",
       R"SQL(
-- Every version of every resource; seq is the global commit order (system history, sync outbox).
CREATE TABLE resource_version(
  seq          INTEGER PRIMARY KEY,
  type         TEXT NOT NULL,
  id           TEXT NOT NULL,
  version      INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,          -- ms since epoch
  method       TEXT NOT NULL,             -- POST, PUT, PATCH, DELETE
  body         BLOB                       -- JSON text; NULL for a delete
);
CREATE UNIQUE INDEX resource_version_tiv ON resource_version(type, id, version);
CREATE INDEX resource_version_type_lu ON resource_version(type, last_updated);
CREATE INDEX resource_version_lu ON resource_version(last_updated);

-- The current version of each resource (deleted ones kept with deleted=1 for 410 Gone).
CREATE TABLE resource(
  rid          INTEGER PRIMARY KEY,
  type         TEXT NOT NULL,
  id           TEXT NOT NULL,
  version      INTEGER NOT NULL,
  seq          INTEGER NOT NULL,          -- resource_version.seq of the current version
  last_updated INTEGER NOT NULL,
  deleted      INTEGER NOT NULL DEFAULT 0,
  UNIQUE(type, id)
);
CREATE INDEX resource_type_lu ON resource(type, last_updated);

-- Search parameters get small integer ids (per resource type + code).
CREATE TABLE search_param(
  pid  INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  code TEXT NOT NULL,
  UNIQUE(type, code)
);

-- Index rows (see fhir/index_row.h), rewritten with each version, removed on delete.
CREATE TABLE idx_string(rid INTEGER NOT NULL, pid INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL);
CREATE INDEX idx_string_v ON idx_string(pid, norm);
CREATE INDEX idx_string_r ON idx_string(rid);

CREATE TABLE idx_token(rid INTEGER NOT NULL, pid INTEGER NOT NULL, system TEXT, code TEXT, text TEXT,
                       type_system TEXT, type_code TEXT);
CREATE INDEX idx_token_v ON idx_token(pid, code, system);
CREATE INDEX idx_token_r ON idx_token(rid);

CREATE TABLE idx_date(rid INTEGER NOT NULL, pid INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE INDEX idx_date_v ON idx_date(pid, lo, hi);
CREATE INDEX idx_date_r ON idx_date(rid);

CREATE TABLE idx_number(rid INTEGER NOT NULL, pid INTEGER NOT NULL, num REAL, lo REAL, hi REAL,
                        system TEXT, code TEXT, unit TEXT);   -- number and quantity
CREATE INDEX idx_number_v ON idx_number(pid, num);
CREATE INDEX idx_number_r ON idx_number(rid);

CREATE TABLE idx_reference(rid INTEGER NOT NULL, pid INTEGER NOT NULL, ref_type TEXT, ref_id TEXT,
                           exact TEXT, system TEXT, code TEXT);
CREATE INDEX idx_reference_v ON idx_reference(pid, ref_id, ref_type);
CREATE INDEX idx_reference_t ON idx_reference(ref_id, ref_type);
CREATE INDEX idx_reference_r ON idx_reference(rid);

CREATE TABLE idx_uri(rid INTEGER NOT NULL, pid INTEGER NOT NULL, exact TEXT NOT NULL);
CREATE INDEX idx_uri_v ON idx_uri(pid, exact);
CREATE INDEX idx_uri_r ON idx_uri(rid);
)SQL"},
      {2, "signing key cache",
       R"SQL(
-- Keys per issuer: pinned (from config / keys pin) or discovered (JWKS fetch) or imported.
CREATE TABLE auth_key(
  issuer       TEXT NOT NULL,
  kid          TEXT NOT NULL,             -- '' for pins without a kid
  thumbprint   TEXT NOT NULL,             -- RFC 7638, base64url
  source       TEXT NOT NULL,             -- pinned | discovered | imported
  alg          TEXT,
  jwk          TEXT NOT NULL,             -- public JWK JSON (never private or symmetric material)
  fetched_at   INTEGER NOT NULL,          -- ms
  last_seen_at INTEGER NOT NULL,          -- ms: last time the JWKS still listed it
  PRIMARY KEY(issuer, kid, thumbprint)
);
-- Per issuer fetch state, shown by `edgefhir keys list` and /health.
CREATE TABLE auth_issuer_state(
  issuer          TEXT PRIMARY KEY,
  jwks_uri        TEXT,
  last_attempt_at INTEGER,
  last_success_at INTEGER,
  last_error      TEXT,
  last_error_at   INTEGER,
  next_refresh_at INTEGER
);
)SQL"},
      {3, "audit trail",
       R"SQL(
CREATE TABLE audit_event(
  seq         INTEGER PRIMARY KEY,
  ts          INTEGER NOT NULL,           -- ms
  request_id  TEXT,
  subject     TEXT,                       -- oid, else sub
  client_id   TEXT,                       -- azp / appid / client_id
  tenant      TEXT,
  issuer      TEXT,
  interaction TEXT,                       -- read, search-type, create, ...
  type        TEXT,
  id          TEXT,
  query       TEXT,                       -- query string (never a token)
  status      INTEGER NOT NULL,
  outcome     TEXT                        -- reason for a refusal, if any
);
CREATE INDEX audit_event_ts ON audit_event(ts);
CREATE INDEX audit_event_subject ON audit_event(subject, ts);
)SQL"},
      {4, "signing key cache: where a pinned key came from",
       R"SQL(
-- For source 'pinned': 'config' (re-synchronised from the config file at every start) or
-- 'cli' (`edgefhir keys pin`, kept until `keys unpin`); '' for discovered/imported keys.
ALTER TABLE auth_key ADD COLUMN origin TEXT NOT NULL DEFAULT '';
)SQL"},
      {5, "edge-to-cloud sync: progress, per-resource upstream versions, conflicts",
       R"SQL(
-- One row per upstream: the outbox is resource_version itself; pushed_seq is the highest
-- seq the upstream acknowledged (every change with seq <= pushed_seq is done).
CREATE TABLE sync_state(
  upstream             TEXT PRIMARY KEY,
  start_seq            INTEGER NOT NULL,  -- max(resource_version.seq) when sync was first enabled
  pushed_seq           INTEGER NOT NULL,
  enabled_at           INTEGER NOT NULL,  -- ms
  last_attempt_at      INTEGER,
  last_success_at      INTEGER,
  last_error           TEXT,
  last_error_at        INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  pushed_total         INTEGER NOT NULL DEFAULT 0
);
-- What the upstream last reported for each resource we pushed (If-Match on the next push).
CREATE TABLE sync_resource(
  upstream         TEXT NOT NULL,
  type             TEXT NOT NULL,
  id               TEXT NOT NULL,
  upstream_version TEXT,                  -- upstream versionId; NULL = unknown or deleted
  local_version    INTEGER NOT NULL,      -- edge version acknowledged
  pushed_at        INTEGER NOT NULL,
  PRIMARY KEY(upstream, type, id)
);
-- Every conflict (upstream changed behind our back) and every change the upstream refused.
CREATE TABLE sync_conflict(
  seq              INTEGER PRIMARY KEY,
  upstream         TEXT NOT NULL,
  at               INTEGER NOT NULL,      -- ms
  type             TEXT NOT NULL,
  id               TEXT NOT NULL,
  local_version    INTEGER NOT NULL,
  change_seq       INTEGER NOT NULL,      -- resource_version.seq of the change
  kind             TEXT NOT NULL,         -- conflict | rejected
  expected_version TEXT,                  -- If-Match we sent
  upstream_version TEXT,                  -- what the upstream had
  resolution       TEXT NOT NULL,         -- overwritten | skipped | rejected
  detail           TEXT
);
CREATE INDEX sync_conflict_up ON sync_conflict(upstream, seq);
)SQL"},
      {6, "search index: composite groups",
       R"SQL(
-- Rows of one composite combination share grp (> 0); see fhir/indexer.h.
ALTER TABLE idx_string ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_token ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_date ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_number ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_reference ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idx_uri ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
)SQL"},
      {7, "search: current resources of a type in insertion order",
       R"SQL(
-- Type search pages in rid order (keyset paging, store/search.h): (type, deleted, rid).
CREATE INDEX resource_type_live ON resource(type, deleted);
)SQL"},
      {8, "bulk data export jobs",
       R"SQL(
-- One row per $export kick-off (store/export_jobs.h); the NDJSON files live next to the
-- database in <database>.export/<id>/ (http/export.h).  A cancelled job's row is deleted.
CREATE TABLE export_job(
  id             TEXT PRIMARY KEY,
  status         TEXT NOT NULL,            -- queued | running | done | failed
  request        TEXT NOT NULL,            -- kick-off URL
  level          TEXT NOT NULL,            -- system | patient | group
  group_id       TEXT NOT NULL DEFAULT '',
  types          TEXT NOT NULL DEFAULT '', -- comma-separated _type; '' = all
  since_ms       INTEGER,                  -- _since
  owner          TEXT NOT NULL DEFAULT '', -- caller identity allowed to poll and download
  created_ms     INTEGER NOT NULL,
  started_ms     INTEGER NOT NULL DEFAULT 0,
  finished_ms    INTEGER NOT NULL DEFAULT 0,
  transaction_ms INTEGER NOT NULL DEFAULT 0,
  output         TEXT NOT NULL DEFAULT '', -- manifest output array (JSON)
  error          TEXT NOT NULL DEFAULT '',
  expires_ms     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX export_job_status ON export_job(status, created_ms);
)SQL"},
      {9, "search index: no rows for _id and _lastUpdated",
       R"SQL(
-- Both are searched and sorted on resource.id / resource.last_updated (fhir/search_params.h
-- SearchParam::from_columns); the rows earlier versions wrote were never read.
DELETE FROM idx_token WHERE pid IN (SELECT pid FROM search_param WHERE code='_id');
DELETE FROM idx_date WHERE pid IN (SELECT pid FROM search_param WHERE code='_lastUpdated');
)SQL"},
      {10, "two-way sync: pull cursors, origin of upstream versions, conflicts of both directions",
       R"SQL(
-- Who recorded the upstream version of a resource: 'push' (our PUT acknowledged) or 'pull'
-- (downloaded).  Either way local_version is the edge version the upstream has: the pusher
-- skips changes up to it (no echo), the puller skips upstream versions it already holds.
ALTER TABLE sync_resource ADD COLUMN origin TEXT NOT NULL DEFAULT 'push';
-- 'push' (a PUT/DELETE met a 412/409) or 'pull' (a download met a local unpushed change);
-- upstream_body keeps the upstream version of a 'manual' conflict ('' = deleted upstream)
-- until `edgefhir sync resolve` (resolution 'pending' until then).
ALTER TABLE sync_conflict ADD COLUMN direction TEXT NOT NULL DEFAULT 'push';
ALTER TABLE sync_conflict ADD COLUMN upstream_body TEXT;
ALTER TABLE sync_conflict ADD COLUMN resolved_at INTEGER;
CREATE INDEX sync_conflict_res ON sync_conflict(upstream, type, id);
-- One row per (upstream, configured pull search): the incremental cursor and the run record.
CREATE TABLE sync_pull(
  upstream             TEXT NOT NULL,
  search               TEXT NOT NULL,             -- "Type?params" as configured
  cursor_ms            INTEGER NOT NULL DEFAULT 0, -- newest upstream meta.lastUpdated applied (0: none yet)
  history_since_ms     INTEGER NOT NULL DEFAULT 0, -- upstream _history read up to here (deletions)
  full_done            INTEGER NOT NULL DEFAULT 0, -- the first full download completed
  last_attempt_at      INTEGER NOT NULL DEFAULT 0,
  last_success_at      INTEGER NOT NULL DEFAULT 0,
  last_error           TEXT NOT NULL DEFAULT '',
  last_error_at        INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  received_total       INTEGER NOT NULL DEFAULT 0, -- upstream versions written locally
  deleted_total        INTEGER NOT NULL DEFAULT 0, -- upstream deletions applied
  created_at           INTEGER NOT NULL,
  PRIMARY KEY(upstream, search)
);
)SQL"},
      {11, "search index: token values cover rid",
       R"SQL(
-- A token criterion's `rid IN (SELECT rid FROM idx_token WHERE pid=? AND code ...)` list
-- (and its count) is read from the index alone instead of one table row per match:
-- Observation?code:below=<20 LOINC codes> on Synthea (6,427 matches), page + total 34 -> 8 ms
-- in SQLite (issue 21).  Same name, same leading columns: every plan that used it still can.
DROP INDEX idx_token_v;
CREATE INDEX idx_token_v ON idx_token(pid, code, system, rid);
)SQL"},
      {12, "search index: tables clustered by resource (WITHOUT ROWID), no rid index",
       R"SQL(
-- Each index row was a rowid-table row plus two index entries, (pid, value) and (rid): three
-- B-tree inserts per row, ~12.7 rows per Synthea resource.  Now each table is clustered on
-- (rid, pid, n), n numbering the rows of one resource (store/resources.cpp write_index), so
-- the rid index goes: deletes by rid, `x.rid=a.rid` probes, composite joins on rid + grp and
-- sorts read the table itself; the value indexes stay (a WITHOUT ROWID index carries the
-- primary key, so they still cover rid).  Rows are copied in their old order.
CREATE TABLE idx_string_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_string_12(rid, pid, n, norm, exact, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), norm, exact, grp FROM idx_string ORDER BY 1, 2, 3;
DROP TABLE idx_string;
ALTER TABLE idx_string_12 RENAME TO idx_string;
CREATE INDEX idx_string_v ON idx_string(pid, norm);
CREATE TABLE idx_token_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, system TEXT, code TEXT, text TEXT, type_system TEXT, type_code TEXT,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_token_12(rid, pid, n, system, code, text, type_system, type_code, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), system, code, text, type_system, type_code, grp FROM idx_token ORDER BY 1, 2, 3;
DROP TABLE idx_token;
ALTER TABLE idx_token_12 RENAME TO idx_token;
CREATE INDEX idx_token_v ON idx_token(pid, code, system, rid);
CREATE TABLE idx_date_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_date_12(rid, pid, n, lo, hi, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), lo, hi, grp FROM idx_date ORDER BY 1, 2, 3;
DROP TABLE idx_date;
ALTER TABLE idx_date_12 RENAME TO idx_date;
CREATE INDEX idx_date_v ON idx_date(pid, lo, hi);
CREATE TABLE idx_number_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, num REAL, lo REAL, hi REAL, system TEXT, code TEXT, unit TEXT,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_number_12(rid, pid, n, num, lo, hi, system, code, unit, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), num, lo, hi, system, code, unit, grp FROM idx_number ORDER BY 1, 2, 3;
DROP TABLE idx_number;
ALTER TABLE idx_number_12 RENAME TO idx_number;
CREATE INDEX idx_number_v ON idx_number(pid, num);
CREATE TABLE idx_reference_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, ref_type TEXT, ref_id TEXT, exact TEXT, system TEXT, code TEXT,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_reference_12(rid, pid, n, ref_type, ref_id, exact, system, code, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), ref_type, ref_id, exact, system, code, grp FROM idx_reference ORDER BY 1, 2, 3;
DROP TABLE idx_reference;
ALTER TABLE idx_reference_12 RENAME TO idx_reference;
CREATE INDEX idx_reference_v ON idx_reference(pid, ref_id, ref_type);
CREATE INDEX idx_reference_t ON idx_reference(ref_id, ref_type);
CREATE TABLE idx_uri_12(rid INTEGER NOT NULL, pid INTEGER NOT NULL, n INTEGER NOT NULL, exact TEXT NOT NULL,
  grp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(rid, pid, n)) WITHOUT ROWID;
INSERT INTO idx_uri_12(rid, pid, n, exact, grp)
  SELECT rid, pid, row_number() OVER (PARTITION BY rid ORDER BY rowid), exact, grp FROM idx_uri ORDER BY 1, 2, 3;
DROP TABLE idx_uri;
ALTER TABLE idx_uri_12 RENAME TO idx_uri;
CREATE INDEX idx_uri_v ON idx_uri(pid, exact);
)SQL"},
  };
  return k;
}

}  // namespace ef::store
