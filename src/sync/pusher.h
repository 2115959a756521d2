// sync/pusher.h — store-and-forward of local changes to the upstream FHIR server (issue 9).
//
// One push (push_once) reads up to batch_size committed changes after the progress mark,
// coalesces them (outbox.h), and sends them:
//   - as ONE transaction Bundle (default when the upstream's CapabilityStatement lists
//     "transaction"), or a batch Bundle, or one request per change ("bundle": "none", or
//     automatically when the upstream refuses Bundles with 404/405/501/not-supported);
//   - PUT Type/id with the resource (idempotent: a replay is a no-op upstream), DELETE
//     Type/id for deletions, If-Match / ifMatch = the upstream version seen last time.
// Only after the upstream acknowledged are the progress mark, the per-resource upstream
// versions and any conflicts written, in one local transaction: a crash at any point
// loses nothing and at worst replays the last batch, which changes nothing upstream.
//
// Conflicts (412/409 on the precondition): the current upstream resource is read; if it
// already equals what we send (our own earlier push whose acknowledgement was lost) it is
// simply acknowledged.  Otherwise a conflict is recorded and the policy applies:
// edge-wins re-sends without the precondition; skip-and-report leaves upstream as it is;
// upstream-wins leaves it too (the next pull writes the upstream version locally); manual
// keeps the upstream version aside in the conflict row until `sync resolve`.
// Changes the upstream already has are not sent (no echo): a change whose local version is
// not newer than sync_resource.local_version (written by the puller for downloaded versions,
// and by acknowledgements), and changes of a resource with a pending manual conflict.
// Changes the upstream refuses outright (400/404/422 ...) are recorded as "rejected" and
// passed over, so one bad resource cannot stop the queue; transport errors, 401/403,
// 408/429 and 5xx stop the push and are retried with exponential backoff and jitter
// (a 401 first renews the token once).
//
// The background thread (start/stop) pushes at once at start, then every interval_seconds,
// back to back while a full batch was sent, and after failures waits backoff_ms().
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/db.h"
#include "store/sync_state.h"
#include "sync/sync_config.h"
#include "sync/http.h"
#include "sync/outbox.h"
#include "sync/token_client.h"
#include "util/clock.h"
#include "util/json.h"

namespace ef::sync {

// What /health, /metrics and `sync status` show.
struct SyncStatus {
  bool enabled = false;
  bool running = false;            // a background pusher is active in this process
  std::string upstream;
  std::string mode;                // transaction | batch | none | auto (not yet detected)
  int64_t start_seq = 0, pushed_seq = 0, newest_seq = 0;
  int64_t queue_length = 0;        // changes not yet acknowledged
  int64_t oldest_unsent_ms = 0;    // 0 when the queue is empty
  int64_t max_queue = 0;
  bool over_cap = false;           // queue_length > max_queue
  int64_t enabled_at_ms = 0;
  int64_t last_attempt_ms = 0, last_success_ms = 0, last_error_ms = 0;
  std::string last_error;
  int64_t consecutive_failures = 0;
  int64_t pushed_total = 0;
  int64_t conflicts = 0;           // sync_conflict rows of kind "conflict"
  int64_t rejected = 0;            // ... of kind "rejected"
  int64_t pending = 0;             // manual conflicts waiting for `sync resolve`
  int64_t next_attempt_ms = 0;     // 0 when not scheduled (no thread)
  bool token_configured = false;
  bool has_token = false;
  int64_t token_expires_ms = 0;
  std::string token_error;
  std::string health = "pass";     // pass | warn
  std::string health_reason;       // why warn
  json::Value to_json() const;
};

struct PushReport {
  int changes = 0;       // committed changes read
  int entries = 0;       // requests/bundle entries after coalescing
  int acknowledged = 0;
  int conflicts = 0;
  int rejected = 0;
  bool more = false;     // the batch was full: more changes are waiting
  int64_t pushed_seq = 0;
  std::string mode;
};

// Exponential backoff with jitter: attempt n (1-based) waits a uniformly random time in
// [d/2, d] with d = min(max_s, initial_s * 2^(n-1)) seconds; r01 in [0,1).
int64_t backoff_ms(int64_t failures, int initial_s, int max_s, double r01);

class Pusher {
 public:
  Pusher(store::Database& db, SyncConfig cfg, const Clock& clock = SystemClock::instance());
  ~Pusher();
  Pusher(const Pusher&) = delete;
  Pusher& operator=(const Pusher&) = delete;

  // Records the starting point on first use (changes committed from now on are pushed) and
  // checks the configured secret / key file can be read.  Errors name the config key.
  Status init();
  void start();
  void stop();
  // Push soon (e.g. after a local write); ignored while backing off unless `force`.
  void wake(bool force = false);

  Result<PushReport> push_once();
  // Sends the current local version of one resource now with If-Match `if_match` ("" = none)
  // and records the acknowledgement (`sync resolve --keep local`); a refusal or a new conflict
  // is an error and nothing is marked.
  Status push_resource(const std::string& type, const std::string& id, const std::string& if_match);
  // `sync now`: until the queue is empty, an error, or max_batches batches.
  Result<PushReport> push_until_empty(int max_batches = 1 << 30);

  SyncStatus status();
  const SyncConfig& config() const { return cfg_; }

  // Tests: the random source of the jitter (default: a seeded mt19937).
  void set_random(std::function<double()> r01) { random_ = std::move(r01); }

 private:
  struct Batch;
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& if_match, Status* err);
  Status resolve_mode();
  Status send_bundle(Batch& b);
  Status send_singles(Batch& b);
  Status send_single(Batch& b, size_t i);
  Status resolve_conflict(Batch& b, size_t i, int status);
  void run();

  store::Database& db_;
  SyncConfig cfg_;
  const Clock& clock_;
  store::SyncState state_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<TokenClient> tokens_;
  std::mutex push_mu_;  // one push at a time in this process
  BundleMode mode_ = BundleMode::auto_detect;
  std::atomic<int> mode_shown_{int(BundleMode::auto_detect)};
  int64_t retry_after_ms_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stopping_ = false;
  std::atomic<bool> shutting_down_{false};  // stop() in progress: a failed push is not an upstream error
  bool woken_ = false;
  int64_t failures_ = 0;
  int64_t next_attempt_ms_ = 0;
  std::atomic<bool> running_{false};
  std::function<double()> random_;

  std::mutex status_mu_;
  int64_t status_at_ms_ = -1;
  SyncStatus status_cache_;
};

// Status from the database alone (no pusher running in this process: `sync status`).
Result<SyncStatus> read_status(store::Database& db, const SyncConfig& cfg, const Clock& clock);

}  // namespace ef::sync
