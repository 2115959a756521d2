// http/sync_observe.cpp — see observe.h.
#include "http/sync_observe.h"

#include "util/time.h"

namespace ef::sync {

json::Value health_check(const SyncStatus& s, int64_t now_ms) {
  json::Object k;
  k["componentType"] = json::Value(std::string("component"));
  k["status"] = json::Value(s.health);
  k["observedValue"] = json::make_number(s.queue_length);
  k["observedUnit"] = json::Value(std::string("changes"));
  k["time"] = json::Value(timefmt::format_instant(now_ms));
  std::string out = s.health_reason;
  if (out.empty() && !s.last_error.empty() && s.consecutive_failures > 0) out = "last push failed: " + s.last_error;
  if (!out.empty()) k["output"] = json::Value(out);
  json::Object links;
  links["upstream"] = json::Value(s.upstream);
  k["links"] = json::Value(links);
  return json::Value(k);
}

Status register_metrics(http::Metrics& m, std::shared_ptr<Pusher> pusher, const Clock& clock) {
  Pusher* p = pusher.get();
  const Clock* c = &clock;
  struct Def {
    const char* name;
    const char* help;
    bool counter;
    std::function<double(const SyncStatus&)> get;
  };
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
  for (const Def& d : defs) {
    auto get = d.get;
    std::function<double()> fn = [p, get, keep = pusher] { return get(p->status()); };
    Status st = d.counter ? m.add_counter(d.name, d.help, fn) : m.add_gauge(d.name, d.help, fn);
    if (!st) return st;
  }
  return Status();
}

json::Value pull_health_check(const PullQueryStatus& q, int64_t now_ms) {
  json::Object k;
  k["componentType"] = json::Value(std::string("component"));
  k["componentId"] = json::Value(q.search);
  k["status"] = json::Value(q.health);
  k["observedValue"] = json::make_number(q.received_total);
  k["observedUnit"] = json::Value(std::string("resources received"));
  k["time"] = json::Value(timefmt::format_instant(q.last_success_ms ? q.last_success_ms : now_ms));
  std::string out = q.health_reason;
  if (out.empty() && !q.last_error.empty() && q.consecutive_failures > 0) out = "last pull failed: " + q.last_error;
  if (!out.empty()) k["output"] = json::Value(out);
  return json::Value(k);
}

Status register_pull_metrics(http::Metrics& m, std::shared_ptr<Puller> puller, const Clock& c) {
  Puller* p = puller.get();
  const Clock* clock = &c;
  struct Def {
    const char* name;
    const char* help;
    bool counter;
    std::function<double(const std::vector<PullQueryStatus>&)> get;
  };
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
  for (const Def& d : defs) {
    auto get = d.get;
    std::function<double()> fn = [p, get, keep = puller] { return get(p->status()); };
    Status st = d.counter ? m.add_counter(d.name, d.help, fn) : m.add_gauge(d.name, d.help, fn);
    if (!st) return st;
  }
  return Status();
}

}  // namespace ef::sync
