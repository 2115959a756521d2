// app/sections.cpp — see sections.h.  Each section's own parser (next to the code it
// configures) names the key; this file adds the config file's name and runs them all.
#include "app/sections.h"

#include "auth/config.h"
#include "auth/policy.h"
#include "http/console.h"

namespace ef::app {

Status check_auth_config(const ServerConfig& c) {
  if (!c.auth_required()) return Status();
  const std::string where = c.path.empty() ? "no --config given (auth.required defaults to true)" : "config " + c.path;
  auto cfg = auth::parse_auth_config(c.auth);
  if (!cfg) return Status(Err::invalid, where + ": " + cfg.status().message);
  if (cfg->issuers.empty()) return Status(Err::invalid, where + ": auth.required is true but auth.issuers is empty");
  auto policy = auth::Policy::from_config(c.auth);
  if (!policy) return Status(Err::invalid, where + ": " + policy.status().message);
  return Status();
}

static Result<bool> parse_metrics(const json::Value* m) {
  if (!m || m->is<picojson::null>()) return false;
  if (!m->is<json::Object>()) return Status(Err::invalid, "\"metrics\" must be an object like {\"public\": false}");
  for (const auto& kv : m->get<json::Object>())
    if (kv.first != "public") return Status(Err::invalid, "metrics: unknown key '" + kv.first + "' (known: public)");
  const json::Value* p = json::get(*m, "public");
  if (p && !p->is<bool>()) return Status(Err::invalid, "metrics.public must be true or false");
  return p && p->get<bool>();
}

Result<Sections> check_sections(const ServerConfig& cfg) {
  if (Status st = check_auth_config(cfg); !st) return st;
  const std::string where = "config " + (cfg.path.empty() ? std::string("(defaults)") : cfg.path) + ": ";
  auto section = [&](const char* name) {
    const json::Value* v = json::get(cfg.raw, name);
    return v ? *v : json::Value();
  };
  Sections s;
  auto fail = [&](const Status& st) { return Status(Err::invalid, where + st.message); };
  auto exports = service::export_options_from_config(section("export"));
  if (!exports) return fail(exports.status());
  s.exports = *exports;
  auto audit = store::audit_options_from_config(section("audit"));
  if (!audit) return fail(audit.status());
  s.audit = *audit;
  auto metrics = parse_metrics(json::get(cfg.raw, "metrics"));
  if (!metrics) return fail(metrics.status());
  s.metrics_public = *metrics;
  auto cors = http::parse_cors_config(section("cors"), cfg.auth_required());
  if (!cors) return fail(cors.status());
  s.cors = std::move(*cors);
  auto console = http::parse_console_config(json::get(cfg.raw, "console"));
  if (!console) return fail(console.status());
  s.console_enabled = *console;
  auto sync = sync::sync_config_of(cfg);  // its messages already name the config file
  if (!sync) return sync.status();
  s.sync = std::move(*sync);
  return s;
}

}  // namespace ef::app
