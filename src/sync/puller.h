// sync/puller.h — the pull side of two-way sync (issue 22): the edge mirrors configured
// upstream searches (sync.pull) into its own database.
//
// One run of one search (pull_once):
//   1. GET Type?<query>&_sort=_lastUpdated&_count=N[&_lastUpdated=ge(cursor - overlap)],
//      following `next` links only on the upstream's origin and base path (pull_logic.h),
//      at most pull_max_pages_per_run pages of at most pull_max_page_bytes each;
//   2. each page is applied in ONE local write transaction (halved when it would hold the
//      writer past limits.max_write_ms) through the Repository (so the
//      write check, versioning, indexing and history are the normal ones) together with the
//      cursor (the newest upstream meta.lastUpdated of the page: pages come sorted by it) and
//      the per-resource mapping in sync_resource (upstream version + the local version that
//      holds it, origin 'pull').  A kill between pages resumes at the cursor; the overlap
//      window and de-duplication by version make the re-read pages no-ops;
//   3. when the upstream lists `history-type` for the type in its CapabilityStatement:
//      Type/_history?_since=(last scan - overlap) brings deletions, applied to resources
//      this edge holds from this upstream.
// No echo: a pulled version is recorded as already on the upstream, so the pusher skips it;
// a local change pushed later is acknowledged with the new upstream version, which the next
// pull then recognises as held.
// Conflicts (the upstream changed a resource the edge changed too and has not pushed):
// sync.conflict_policy — edge-wins keeps the local version (pushed over the upstream's with
// If-Match of the version just seen), upstream-wins writes the upstream version as a new
// local version (the local one stays in the history), skip-and-report keeps both sides as
// they are and records it, manual records it with the upstream version kept aside until
// `edgefhir sync resolve ID --keep local|upstream` (resolve_conflict()).
// An upstream resource refused by the local write check (validation.on_write strict) is not
// stored: it is recorded as a refused change (kind "rejected", direction "pull") and the run
// goes on; the cursor passes it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "service/repository.h"
#include "store/db.h"
#include "store/sync_state.h"
#include "sync/http.h"
#include "sync/pull_logic.h"
#include "sync/pusher.h"
#include "sync/sync_config.h"
#include "sync/token_client.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::sync {

struct PullReport {
  int pages = 0;
  int64_t received = 0;   // upstream versions written locally
  int64_t unchanged = 0;  // already held (overlap, echo of our own push)
  int64_t deleted = 0;
  int64_t conflicts = 0;
  int64_t rejected = 0;
  bool more = false;      // the page budget ended the run before the last page
  bool history = false;   // deletions were read from the upstream's _history
};

struct PullQueryStatus {
  std::string search;
  int interval_seconds = 0;
  int64_t cursor_ms = 0;
  bool full_done = false;
  int64_t last_attempt_ms = 0, last_success_ms = 0, last_error_ms = 0;
  std::string last_error;
  int64_t consecutive_failures = 0, received_total = 0, deleted_total = 0, created_ms = 0;
  std::string health = "pass";
  std::string health_reason;
  json::Value to_json() const;
};

// From the database alone (`sync status`, /health, /metrics); max_age from the config.
Result<std::vector<PullQueryStatus>> read_pull_status(store::Database& db, const SyncConfig& cfg, const Clock& clock);

class Puller {
 public:
  Puller(store::Database& db, service::Repository& repo, SyncConfig cfg, const Clock& clock = SystemClock::instance());
  ~Puller();
  Puller(const Puller&) = delete;
  Puller& operator=(const Puller&) = delete;

  Status init();  // rows for every configured search
  void start();
  void stop();
  Result<PullReport> pull_once(size_t query);
  // Every search until no page budget is left over (`sync now`).
  Result<PullReport> pull_all();
  std::vector<PullQueryStatus> status();  // cached for a second
  const SyncConfig& config() const { return cfg_; }

 private:
  struct Run;
  HttpResponse call(const std::string& path, Status* err);
  Result<bool> history_supported(const std::string& type);
  Status apply_search_page(Run& r, const PulledPage& page);
  Status apply_search_page_split(Run& r, const PulledPage& page);  // halves on Err::too_large
  Status apply_history_page(Run& r, const PulledPage& page);
  void run();

  store::Database& db_;
  service::Repository& repo_;
  SyncConfig cfg_;
  const Clock& clock_;
  store::SyncState state_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<TokenClient> tokens_;
  std::mutex pull_mu_;
  std::map<std::string, bool> history_;  // type -> upstream lists history-type (after /metadata)
  bool metadata_read_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stopping_ = false;
  std::atomic<bool> shutting_down_{false};

  std::mutex status_mu_;
  int64_t status_at_ms_ = -1;
  std::vector<PullQueryStatus> status_cache_;
};

// `edgefhir sync resolve ID --keep local|upstream` for a pending (manual) conflict.
// upstream: its kept-aside upstream version becomes a new local version (or the local
// resource is deleted); local: the current local version is pushed with If-Match of the
// upstream version the conflict recorded (through `pusher`), and only then marked resolved.
Status resolve_conflict(store::Database& db, service::Repository& repo, Pusher& pusher, const SyncConfig& cfg,
                        int64_t conflict_id, bool keep_local, const Clock& clock);

}  // namespace ef::sync
