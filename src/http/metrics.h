// http/metrics.h — the server's operational metrics and their Prometheus text rendering.
//
// Owns: the in-process registry of request counters (by FHIR interaction and HTTP status),
// the request latency histogram (by interaction), auth-failure counters (by AuthStatus
// code), gauges/counters whose values other modules supply through callbacks (key-cache
// age, JWKS refresh errors, database size ...), build info, a few process metrics read
// from /proc, and render_prometheus() in the text exposition format 0.0.4.
//
// Cost on the request path: the hot counters live in per-thread shards, each guarded by
// its own mutex that only the owning thread and render_prometheus() ever take, so a
// request pays one uncontended lock and two small hash lookups; no global lock.  A shard
// outlives its thread (counts are cumulative) and is reused by the next new thread.
// Label cardinality is bounded: each shard keeps at most kMaxLabelValues distinct
// interactions and auth reasons; further values are counted under "other".
//
// Metric names (all prefixed edgefhir_ except the process_* ones):
//   edgefhir_http_requests_total{interaction,code}          counter
//   edgefhir_http_request_duration_seconds{interaction}     histogram (kLatencyBuckets)
//   edgefhir_http_requests_in_flight                        gauge (InFlight guard)
//   edgefhir_auth_failures_total{reason}                    counter
//   edgefhir_build_info{version,...}                        gauge, always 1
//   edgefhir_start_time_seconds                             gauge (set_start_time)
//   process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
//   process_open_fds, process_threads                       (Linux /proc; absent elsewhere)
//   anything added with add_gauge()/add_counter() — see the suggested names below.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/clock.h"
#include "util/status.h"

namespace ef::auth {
struct IssuerKeyStatus;
}

namespace ef::http {

// Content-Type of a /metrics response.
constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
constexpr size_t kNumLatencyBuckets = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);
constexpr size_t kMaxLabelValues = 64;

using Labels = std::vector<std::pair<std::string, std::string>>;

// One value of a callback metric.
struct Sample {
  Labels labels;
  double value = 0;
};
// Called at render time, from the thread serving GET /metrics.  Must be thread-safe and
// quick (no network); it should not throw (an exception drops that metric's samples).
using SampleFn = std::function<std::vector<Sample>()>;

// The value of a callback histogram: counts[i] observations <= bounds[i] (and above
// bounds[i-1]); counts has one more entry than bounds (above the last bound, +Inf).
struct HistogramSample {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
};
using HistogramFn = std::function<HistogramSample()>;

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request.  `interaction` is the FHIR interaction name (read, vread, update,
  // create, patch, delete, history-instance, search-type, transaction, metadata, health ...);
  // `status` the HTTP status sent; `micros` the handling time.
  void observe_request(std::string_view interaction, int status, int64_t micros);
  // One refused bearer token; `reason` is auth::auth_status_code(...) ("expired", "missing_token" ...).
  void auth_failure(std::string_view reason);

  // Requests currently being handled (construct at the start of dispatch).
  class InFlight {
   public:
    explicit InFlight(Metrics& m) : m_(m) { m_.in_flight_.fetch_add(1, std::memory_order_relaxed); }
    ~InFlight() { m_.in_flight_.fetch_sub(1, std::memory_order_relaxed); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Metrics& m_;
  };

  // Callback metrics.  `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* and not be registered
  // yet; label names must match [a-zA-Z_][a-zA-Z0-9_]* (and not start with "__").
  // Errors are Err::invalid naming the problem.  A counter's callback returns cumulative
  // totals (by convention its name ends in _total).
  // Suggested (the lead wires these):
  //   edgefhir_database_size_bytes                   gauge   db->size_bytes()
  //   edgefhir_database_checkpoints_total            counter db->background_checkpoints()
  //   edgefhir_database_forced_checkpoints_total     counter db->forced_checkpoints()
  //   edgefhir_jwks_age_seconds{issuer}              gauge   now - last successful refresh
  //   edgefhir_jwks_keys{issuer}                     gauge   keys currently cached
  //   edgefhir_jwks_refresh_errors_total{issuer}     counter failed refreshes since start
  //   edgefhir_database_write_group_size             histogram  db->write_stats() (requests per transaction)
  //   edgefhir_database_commit_seconds               histogram  db->write_stats() (COMMIT durations)
  Status add_gauge(const std::string& name, const std::string& help, SampleFn fn);
  Status add_counter(const std::string& name, const std::string& help, SampleFn fn);
  // Single unlabelled value.
  Status add_gauge(const std::string& name, const std::string& help, std::function<double()> fn);
  Status add_counter(const std::string& name, const std::string& help, std::function<double()> fn);
  // Unlabelled histogram (name_bucket{le}, name_sum, name_count); a sample whose counts do
  // not match its bounds is not rendered.
  Status add_histogram(const std::string& name, const std::string& help, HistogramFn fn);

  // edgefhir_build_info{version="...", ...} 1.  Replaces earlier labels.
  void set_build_info(Labels labels);
  // edgefhir_start_time_seconds (Unix seconds; pass clock.now_ms()/1000.0 at start-up).
  void set_start_time(double unix_seconds);
  // process_* metrics from /proc/self (on by default; off in unit tests for determinism).
  void set_process_metrics(bool on);

  // The whole exposition, metric families sorted by name, samples by label values.
  std::string render_prometheus() const;

  // Snapshot accessors (tests, `status` endpoints).
  uint64_t requests(std::string_view interaction, int status) const;
  uint64_t auth_failures(std::string_view reason) const;
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  struct Shard;  // per-thread counters (metrics.cpp)

 private:
  struct Callback {
    std::string name, help, type;
    SampleFn fn;
    HistogramFn hist;  // type "histogram"
  };
  struct Totals;
  Shard& shard() const;
  Totals merged() const;
  Status add(const std::string& name, const std::string& help, const char* type, SampleFn fn);

  const uint64_t id_;
  mutable std::mutex mu_;  // guards everything below (never taken on the request path once a thread has its shard)
  mutable std::vector<std::shared_ptr<Shard>> shards_;
  std::vector<Callback> callbacks_;
  Labels build_info_;
  double start_time_ = 0;
  bool process_metrics_ = true;
  std::atomic<int64_t> in_flight_{0};
};

// The process-wide registry the server uses.
Metrics& metrics();

// Registers the key-cache metrics, read from `status` (normally KeyStore::status) at scrape
// time, labelled by issuer:
//   edgefhir_jwks_age_seconds{issuer}            gauge   now - last successful fetch (issuers that fetched)
//   edgefhir_jwks_keys{issuer}                   gauge   keys trusted now
//   edgefhir_jwks_stale{issuer}                  gauge   1 = serving cached keys (last fetch failed / none yet)
//   edgefhir_jwks_fetches_total{issuer}          counter fetch attempts since start
//   edgefhir_jwks_refresh_errors_total{issuer}   counter failed fetches since start
//   edgefhir_jwks_unknown_kid_total{issuer}      counter tokens naming a kid we did not have
// `clock` must outlive the registry.  Fails when the names are registered already.
Status add_key_store_metrics(Metrics& m, std::function<std::vector<auth::IssuerKeyStatus>()> status, const Clock& clock);

// Text-format helpers (exposed for tests).
std::string escape_label_value(std::string_view v);  // \ → \\, " → \", newline → \n
std::string escape_help(std::string_view v);         // \ → \\, newline → \n
std::string format_value(double v);                  // integers exactly, +Inf/-Inf/NaN, else %.17g
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace ef::http
