// http/sync_observe.cpp — see sync_observe.h.
#include "http/sync_observe.h"

#include "util/time.h"

namespace ef::sync {

namespace {

// What push and pull checks share: status, observed value and unit, time, and an output that is
// the health reason or, while attempts keep failing, "last <what> failed: <error>".
json::Object component_check(const std::string& health, int64_t observed, const std::string& unit, int64_t time_ms,
                             const std::string& reason, const std::string& last_error, int64_t failures,
                             const std::string& what) {
  json::Object k;
  k["componentType"] = json::Value(std::string("component"));
  k["status"] = json::Value(health);
  k["observedValue"] = json::make_number(observed);
  k["observedUnit"] = json::Value(unit);
  k["time"] = json::Value(timefmt::format_instant(time_ms));
  std::string out = reason;
  if (out.empty() && !last_error.empty() && failures > 0) out = "last " + what + " failed: " + last_error;
  if (!out.empty()) k["output"] = json::Value(out);
  return k;
}

// One metric read from a status snapshot S (the pusher's or the puller's).
template <class S>
struct MetricDef {
  const char* name;
  const char* help;
  bool counter;
  std::function<double(const S&)> get;
};

// Registers every def; each scrape takes a snapshot() (the status is cached for a second).
template <class S, size_t N>
Status add_metrics(http::Metrics& m, const MetricDef<S> (&defs)[N], const std::function<S()>& snapshot) {
  for (const MetricDef<S>& d : defs) {
    auto get = d.get;
    std::function<double()> fn = [snapshot, get] { return get(snapshot()); };
    Status st = d.counter ? m.add_counter(d.name, d.help, fn) : m.add_gauge(d.name, d.help, fn);
    if (!st) return st;
  }
  return Status();
}

}  // namespace

json::Value health_check(const SyncStatus& s, int64_t now_ms) {
  json::Object k = component_check(s.health, s.queue_length, "changes", now_ms, s.health_reason, s.last_error,
                                   s.consecutive_failures, "push");
  json::Object links;
  links["upstream"] = json::Value(s.upstream);
  k["links"] = json::Value(links);
  return json::Value(k);
}

Status register_metrics(http::Metrics& m, std::shared_ptr<Pusher> pusher, const Clock& clock) {
  const Clock* c = &clock;
  using Def = MetricDef<SyncStatus>;
  const Def defs[] = {
      {"edgefhir_sync_queue_length", "Local changes not yet acknowledged by the sync upstream.", false,
       [](const SyncStatus& s) { return double(s.queue_length); }},
      {"edgefhir_sync_oldest_unsent_age_seconds", "Age of the oldest change not yet acknowledged (0 when none).", false,
       [c](const SyncStatus& s) { return s.oldest_unsent_ms ? double(c->now_ms() - s.oldest_unsent_ms) / 1000.0 : 0.0; }},
      {"edgefhir_sync_last_success_timestamp_seconds", "Unix time of the last successful push (0: never).", false,
       [](const SyncStatus& s) { return double(s.last_success_ms) / 1000.0; }},
      {"edgefhir_sync_consecutive_failures", "Failed push attempts since the last success.", false,
       [](const SyncStatus& s) { return double(s.consecutive_failures); }},
      {"edgefhir_sync_over_cap", "1 when the sync queue is longer than sync.max_queue.", false,
       [](const SyncStatus& s) { return s.over_cap ? 1.0 : 0.0; }},
      {"edgefhir_sync_pushed_total", "Changes acknowledged by the upstream since sync was enabled.", true,
       [](const SyncStatus& s) { return double(s.pushed_total); }},
      {"edgefhir_sync_conflicts_total", "Conflicts recorded (upstream changed a resource behind the edge).", true,
       [](const SyncStatus& s) { return double(s.conflicts); }},
      {"edgefhir_sync_rejected_total", "Changes the upstream refused (recorded, passed over).", true,
       [](const SyncStatus& s) { return double(s.rejected); }},
      {"edgefhir_sync_conflicts_pending", "Manual conflicts waiting for `edgefhir sync resolve`.", false,
       [](const SyncStatus& s) { return double(s.pending); }},
  };
  return add_metrics<SyncStatus>(m, defs, [pusher] { return pusher->status(); });
}

json::Value pull_health_check(const PullQueryStatus& q, int64_t now_ms) {
  json::Object k = component_check(q.health, q.received_total, "resources received",
                                   q.last_success_ms ? q.last_success_ms : now_ms, q.health_reason, q.last_error,
                                   q.consecutive_failures, "pull");
  k["componentId"] = json::Value(q.search);
  return json::Value(k);
}

Status register_pull_metrics(http::Metrics& m, std::shared_ptr<Puller> puller, const Clock& c) {
  const Clock* clock = &c;
  using Def = MetricDef<std::vector<PullQueryStatus>>;
  const Def defs[] = {
      {"edgefhir_sync_pull_received_total", "Upstream resource versions written locally by sync pull.", true,
       [](const std::vector<PullQueryStatus>& v) {
         double n = 0;
         for (const auto& q : v) n += double(q.received_total);
         return n;
       }},
      {"edgefhir_sync_pull_deleted_total", "Upstream deletions applied locally by sync pull.", true,
       [](const std::vector<PullQueryStatus>& v) {
         double n = 0;
         for (const auto& q : v) n += double(q.deleted_total);
         return n;
       }},
      {"edgefhir_sync_pull_failing", "Pull searches whose last run failed.", false,
       [](const std::vector<PullQueryStatus>& v) {
         double n = 0;
         for (const auto& q : v) n += q.consecutive_failures > 0 ? 1 : 0;
         return n;
       }},
      {"edgefhir_sync_pull_oldest_success_age_seconds",
       "Age of the stalest pull search's last success (since it was configured when never).", false,
       [clock](const std::vector<PullQueryStatus>& v) {
         double worst = 0;
         int64_t now = clock->now_ms();
         for (const auto& q : v) {
           int64_t since = q.last_success_ms ? q.last_success_ms : q.created_ms;
           if (since > 0) worst = std::max(worst, double(now - since) / 1000.0);
         }
         return worst;
       }},
  };
  return add_metrics<std::vector<PullQueryStatus>>(m, defs, [puller] { return puller->status(); });
}

}  // namespace ef::sync
