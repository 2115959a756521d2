// http/health.cpp — GET /health (public): liveness and readiness in the
// application/health+json shape (status pass | warn | fail, with checks).
//   database: a read and a write transaction succeed
// Further checks (signing keys fresh or pinned, sync queue) are added by their modules.
#include "http/handlers.h"
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
  json::Object o;
  o["status"] = json::Value(std::string(ok ? "pass" : "fail"));
  o["checks"] = json::Value(checks);
  c.res.status = ok ? 200 : 503;
  c.res.set_content(json::write(json::Value(o), c.pretty), "application/health+json");
}

}  // namespace ef::http
