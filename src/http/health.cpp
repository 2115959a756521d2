// http/health.cpp — GET /health (public): liveness and readiness in the
// application/health+json shape (status pass | warn | fail, with checks).
//   database: a read and a write transaction succeed
//   sync:queue: the store-and-forward queue (http/sync_observe.h; warn above max_queue)
//   sync:pull:  one entry per pull search (warn when it has not succeeded for pull_max_age_seconds)
//   keys:<issuer>: the issuer has trusted keys (pass), serves cached keys because its
//     provider is unreachable (warn), or has none so every token fails (fail)
// Also GET /metrics (the Prometheus exposition of http/metrics.h).
#include "auth/key_store.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/sync_observe.h"
#include "util/time.h"

namespace ef::http {

void handle_health(Ctx& c) {
  json::Object checks;
  bool ok = true;
  Status rd = c.app.db->read([](store::Conn& conn) { return conn.exec("SELECT 1 FROM resource LIMIT 1"); });
  Status wr = c.app.db->write([](store::Conn& conn) { return conn.exec("CREATE TEMP TABLE IF NOT EXISTS health_probe(x)"); });
  json::Object db;
  db["status"] = json::Value(std::string(rd.ok() && wr.ok() ? "pass" : "fail"));
  if (!rd.ok() || !wr.ok()) db["output"] = json::Value(!rd.ok() ? rd.message : wr.message);
  db["time"] = json::Value(timefmt::format_instant(c.app.clock->now_ms()));
  checks["database"] = json::Value(json::Array{json::Value(db)});
  ok = rd.ok() && wr.ok();
  bool warn = false;
  if (c.app.key_store) {
    for (const auto& k : c.app.key_store->status()) {
      json::Object e;
      std::string st = k.key_count == 0 ? "fail" : k.stale && k.discovery ? "warn" : "pass";
      e["status"] = json::Value(st);
      e["observedValue"] = json::Value(double(k.key_count));
      e["observedUnit"] = json::Value(std::string("keys"));
      if (k.last_success_ms) e["time"] = json::Value(timefmt::format_instant(k.last_success_ms));
      std::string out;
      if (k.key_count == 0) out = "no trusted signing keys: every token of this issuer is refused";
      if (k.stale && k.discovery)
        out += std::string(out.empty() ? "" : "; ") + "serving cached keys" +
               (k.last_error.empty() ? std::string(" (no successful fetch yet)") : ": last fetch failed: " + k.last_error);
      if (!out.empty()) e["output"] = json::Value(out);
      checks["keys:" + k.issuer] = json::Value(json::Array{json::Value(e)});
      if (st == "fail") ok = false;
      if (st == "warn") warn = true;
    }
  }
  if (c.app.sync) {
    json::Value e = sync::health_check(c.app.sync->status(), c.app.clock->now_ms());
    std::string st = json::string_or(e, "status");
    if (st == "fail") ok = false;
    if (st == "warn") warn = true;
    checks["sync:queue"] = json::Value(json::Array{e});
  }
  if (c.app.pull) {
    json::Array pulls;
    for (const sync::PullQueryStatus& q : c.app.pull->status()) {
      json::Value e = sync::pull_health_check(q, c.app.clock->now_ms());
      if (json::string_or(e, "status") == "warn") warn = true;
      pulls.push_back(e);
    }
    checks["sync:pull"] = json::Value(pulls);
  }
  json::Object o;
  o["status"] = json::Value(std::string(!ok ? "fail" : warn ? "warn" : "pass"));
  o["checks"] = json::Value(checks);
  c.res.status = ok ? 200 : 503;
  c.res.set_content(json::write(json::Value(o), c.pretty), "application/health+json");
}

void handle_metrics(Ctx& c) {
  c.res.status = 200;
  c.res.set_content(metrics().render_prometheus(), kPrometheusContentType);
}

}  // namespace ef::http
