// store/audit.h — the audit trail (table audit_event, migration 3): one row per request
// saying who did what, when, and with which outcome.
//
// Owns: the AuditEvent record; AuditLog, which buffers events in memory and writes them
// in batches (one transaction per batch) on a background thread so the request path
// only takes a mutex and a vector push; retention pruning; and the read-side query used
// by `edgefhir audit` (cli/audit.h).
//
// Never stored: the bearer token or any other secret.  append() itself scrubs the query
// string (redact_query) and anything that looks like a JWT in the free-text columns, so a
// caller passing a raw "?access_token=..." cannot leak it into the database.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/db.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::store {

struct AuditEvent {
  int64_t seq = 0;          // set when read back
  int64_t ts_ms = 0;        // when the request arrived; 0 = now (AuditLog's clock)
  std::string request_id;
  std::string subject;      // oid, else sub (from auth::caller_names)
  std::string client_id;    // azp / appid / client_id
  std::string tenant;       // tid
  std::string issuer;
  std::string interaction;  // auth::interaction_name(), e.g. "read", "search-type"
  std::string type;
  std::string id;
  std::string query;        // the query string, without '?'; token-like parameters removed
  int status = 0;           // HTTP status sent
  std::string outcome;      // refusal / error reason, "" on success
};

struct AuditOptions {
  int64_t flush_interval_ms = 1000;  // write at least this often while events are pending
  size_t batch_size = 500;           // ...or as soon as this many are pending
  size_t max_pending = 100000;       // beyond this, new events are dropped (and counted)
  int retention_days = 90;           // 0 = keep forever
  int64_t prune_interval_ms = 24LL * 3600 * 1000;
};

// Reads the `audit` config section ({"retention_days": 90, "flush_interval_ms": 1000,
// "batch_size": 500, "max_pending": 100000}); null/missing gives the defaults.
Result<AuditOptions> audit_options_from_config(const json::Value& audit_section);

// The query string with every parameter whose name looks like a credential removed
// (access_token, id_token, refresh_token, *token*, client_secret, *secret*, password,
// *assertion*, api_key/apikey, code_verifier), and any remaining value that looks like a JWT
// replaced by "[redacted]".  Names are compared case-insensitively after percent-decoding.
std::string redact_query(std::string_view query);
// Text for a log line (a URL path): anything that looks like a JWT, also percent-encoded
// (dots sent as %2E), becomes "[redacted]".
std::string redact_text(std::string_view text);

struct AuditQuery {
  int64_t since_ms = 0;  // ts >= since_ms
  std::string who;       // substring of subject or client_id ("" = anyone)
  int limit = 100;       // newest first
};

// Newest first.  Uses the calling thread's read connection.
Result<std::vector<AuditEvent>> audit_query(Database& db, const AuditQuery& q);
// Deletes events with ts < before_ms (in chunks, each its own transaction).  Returns the
// number deleted.
Result<int64_t> audit_prune(Database& db, int64_t before_ms);

class AuditLog {
 public:
  AuditLog(Database& db, const Clock& clock, AuditOptions opt = {});
  ~AuditLog();  // stop()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Prunes once, then starts the background writer (which also prunes every
  // prune_interval_ms).  Without start(), events are only written by flush().
  void start();
  // Flushes everything pending and stops the writer.  Idempotent.
  void stop();

  // Queues one event (scrubbed).  Never blocks on the database; never fails.
  void append(AuditEvent ev);
  // Writes everything pending now, on the calling thread.
  Status flush();
  // Deletes events older than the retention period (no-op when retention_days is 0).
  Result<int64_t> prune();
  // flush() then audit_query().
  Result<std::vector<AuditEvent>> query(const AuditQuery& q);

  struct Stats {
    uint64_t appended = 0;  // accepted into the buffer
    uint64_t written = 0;   // committed to the database
    uint64_t dropped = 0;   // refused because max_pending was reached, or lost in a failed write
    uint64_t failed_flushes = 0;
    size_t pending = 0;
  };
  Stats stats() const;

 private:
  void run();
  Status write_batch(std::vector<AuditEvent>& batch);

  Database& db_;
  const Clock& clock_;
  AuditOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AuditEvent> pending_;
  Stats stats_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex flush_mu_;  // one batch writer at a time (keeps order)
  int64_t last_prune_ms_ = 0;
};

}  // namespace ef::store
