// store/sync_state.h — the SQL of two-way sync (issues 9, 22).  The outbox is not a table
// of its own: it is resource_version read in seq order (the global commit order) after the
// per-upstream progress mark sync_state.pushed_seq.  This file owns the rows that make
// push and pull resumable and auditable: sync_state (start mark, progress, last
// success/error), sync_resource (per resource: the upstream version last seen, for If-Match
// and pull de-duplication, and the local version the upstream has, origin push or pull: the
// pusher never sends versions up to it), sync_conflict (every conflict and refused change of
// both directions; a manual one keeps the upstream version until resolved) and sync_pull
// (per pull search: cursor, deletion horizon, run record).  The pull's page writes run inside
// the caller's transaction (the Conn-taking statics), next to the Repository's writes.  Progress, acknowledgements and
// conflicts of one push are written in ONE transaction (commit()), after the upstream
// acknowledged, so a crash loses nothing and at worst replays an idempotent batch.
// No FHIR or HTTP knowledge here; sync/ decides, this file reads and writes rows.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/db.h"

namespace ef::store {

struct SyncStateRow {
  std::string upstream;
  int64_t start_seq = 0;
  int64_t pushed_seq = 0;
  int64_t enabled_at = 0;
  int64_t last_attempt_at = 0;  // 0 = never
  int64_t last_success_at = 0;
  std::string last_error;       // empty after a success
  int64_t last_error_at = 0;
  int64_t consecutive_failures = 0;
  int64_t pushed_total = 0;     // changes acknowledged (after coalescing) since enabled
};

// One committed change from resource_version.
struct SyncChange {
  int64_t seq = 0;
  std::string type, id;
  int64_t version = 0;
  int64_t last_updated = 0;
  bool is_delete = false;
  std::string body;  // stored JSON; empty for a delete
};

struct SyncPending {
  std::vector<SyncChange> changes;  // seq order, at most `limit`
  // Highest seq this read accounts for: the last change's seq when the limit was reached,
  // otherwise the newest seq in the database (changes of filtered-out types are covered too).
  int64_t covered_seq = 0;
};

struct SyncQueue {
  int64_t length = 0;            // changes not yet acknowledged (matching the type filter)
  int64_t oldest_unsent_ms = 0;  // last_updated of the oldest of them; 0 when empty
  int64_t newest_seq = 0;        // max(resource_version.seq)
};

// The upstream's answer for one pushed resource.
struct SyncAck {
  std::string type, id;
  int64_t local_version = 0;
  std::optional<std::string> upstream_version;  // nullopt: unknown or deleted upstream
};

struct SyncConflictRow {
  int64_t seq = 0;  // row id (assigned on insert)
  int64_t at = 0;
  std::string type, id;
  int64_t local_version = 0;
  int64_t change_seq = 0;
  std::string kind;        // conflict | rejected
  std::string expected_version;
  std::string upstream_version;
  std::string resolution;  // overwritten | skipped | rejected | kept-local | kept-upstream | pending
                           // (manual, until resolved) | resolved-local | resolved-upstream
  std::string detail;
  std::string direction = "push";  // push | pull
  std::optional<std::string> upstream_body;  // manual: the upstream version kept aside ("" = deleted)
  int64_t resolved_at = 0;
};

// What sync_resource holds for one resource: the upstream version last seen and the edge
// version the upstream has (local changes up to it are never pushed again).
struct SyncResourceRow {
  std::optional<std::string> upstream_version;  // nullopt: unknown or deleted upstream
  int64_t local_version = 0;
  std::string origin;  // push | pull
};

// One configured pull search (sync_pull).
struct SyncPullRow {
  std::string upstream, search;
  int64_t cursor_ms = 0, history_since_ms = 0;
  bool full_done = false;
  int64_t last_attempt_at = 0, last_success_at = 0, last_error_at = 0;
  std::string last_error;
  int64_t consecutive_failures = 0, received_total = 0, deleted_total = 0, created_at = 0;
};

class SyncState {
 public:
  explicit SyncState(Database& db) : db_(db) {}

  // The row of `upstream`, created on first use with start_seq = pushed_seq = the newest
  // seq now (only changes committed after sync was enabled are pushed).
  Result<SyncStateRow> ensure(const std::string& upstream, int64_t now_ms);
  // Read only (for `sync status` on a database where sync never ran).
  Result<std::optional<SyncStateRow>> get(const std::string& upstream);

  // Up to `limit` changes with seq > after_seq in seq order; `types` empty = every type.
  Result<SyncPending> pending(int64_t after_seq, int limit, const std::vector<std::string>& types);
  // The newest version of one resource as a change (nullopt: no such resource).
  Result<std::optional<SyncChange>> latest_change(const std::string& type, const std::string& id);
  // Changes after after_seq the upstream does not have yet (versions recorded in sync_resource
  // as held upstream — pulled ones — are not counted).
  Result<SyncQueue> queue(const std::string& upstream, int64_t after_seq, const std::vector<std::string>& types);

  // Upstream version last recorded for a resource (nullopt: none known).
  Result<std::optional<std::string>> upstream_version(const std::string& upstream, const std::string& type,
                                                      const std::string& id);

  // After an upstream acknowledgement: records acks and conflicts, moves pushed_seq forward
  // (never backwards: another process may have pushed further), marks the success.
  Status commit(const std::string& upstream, int64_t pushed_seq, const std::vector<SyncAck>& acks,
                const std::vector<SyncConflictRow>& conflicts, int64_t now_ms);
  // A failed attempt: progress made before the failure (pushed_seq, acks, conflicts — may
  // be empty) plus the error, in one transaction.
  Status fail(const std::string& upstream, int64_t pushed_seq, const std::vector<SyncAck>& acks,
              const std::vector<SyncConflictRow>& conflicts, const std::string& error, int64_t now_ms);

  // Newest first.
  Result<std::vector<SyncConflictRow>> conflicts(const std::string& upstream, int limit);
  Result<std::optional<SyncConflictRow>> conflict(const std::string& upstream, int64_t seq);
  // sync_conflict rows still waiting for `sync resolve` (resolution 'pending').
  Result<int64_t> pending_count(const std::string& upstream);

  // ---- per resource (own read transaction) ----
  Result<std::optional<SyncResourceRow>> resource(const std::string& upstream, const std::string& type,
                                                  const std::string& id);
  Result<bool> has_pending(const std::string& upstream, const std::string& type, const std::string& id);

  // ---- inside a caller-owned write transaction (the puller's page, `sync resolve`) ----
  static Result<std::optional<SyncResourceRow>> resource(Conn& c, const std::string& upstream, const std::string& type,
                                                         const std::string& id);
  static Status put_resource(Conn& c, const std::string& upstream, const std::string& type, const std::string& id,
                             const std::optional<std::string>& upstream_version, int64_t local_version,
                             const std::string& origin, int64_t now_ms);
  static Status add_conflict(Conn& c, const std::string& upstream, const SyncConflictRow& r, int64_t now_ms);
  // The pending (manual) conflict of a resource, if any.
  static Result<std::optional<SyncConflictRow>> pending_conflict(Conn& c, const std::string& upstream,
                                                                 const std::string& type, const std::string& id);
  // A row of `kind` (conflict | rejected) about this upstream version of the resource exists
  // already (one report each).
  static Result<bool> conflict_recorded(Conn& c, const std::string& upstream, const std::string& type,
                                        const std::string& id, const std::string& upstream_version,
                                        const std::string& kind = "conflict");
  static Status update_pending(Conn& c, int64_t seq, const std::string& upstream_version,
                               const std::string& upstream_body, const std::string& detail);
  static Status resolve(Conn& c, int64_t seq, const std::string& resolution, int64_t now_ms);

  // ---- pull searches ----
  Result<SyncPullRow> pull_ensure(const std::string& upstream, const std::string& search, int64_t now_ms);
  Result<std::optional<SyncPullRow>> pull_get(const std::string& upstream, const std::string& search);
  // Inside the page's transaction: cursor forward (never back), counters.
  static Status pull_progress(Conn& c, const std::string& upstream, const std::string& search, int64_t cursor_ms,
                              int64_t received, int64_t deleted);
  // The first run's deletion horizon (where the upstream's history stood before the full
  // download), kept at once so a failed or partial first run does not move it later.
  Status pull_history_start(const std::string& upstream, const std::string& search, int64_t history_since_ms);
  // End of a run: success (history_since_ms / full_done forward) or the error.
  Status pull_finish(const std::string& upstream, const std::string& search, bool ok, const std::string& error,
                     int64_t history_since_ms, bool full_done, int64_t now_ms);
  // Count of sync_conflict rows of `kind` ("" = all).
  Result<int64_t> conflict_count(const std::string& upstream, const std::string& kind);

 private:
  Status write_acks(Conn& c, const std::string& upstream, const std::vector<SyncAck>& acks,
                    const std::vector<SyncConflictRow>& conflicts, int64_t now_ms);
  Database& db_;
};

}  // namespace ef::store
