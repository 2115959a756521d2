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
  };
  for (const Def& d : defs) {
    auto get = d.get;
    std::function<double()> fn = [p, get, keep = pusher] { return get(p->status()); };
    Status st = d.counter ? m.add_counter(d.name, d.help, fn) : m.add_gauge(d.name, d.help, fn);
    if (!st) return st;
  }
  return Status();
}

}  // namespace ef::sync
