// http/console.cpp — see console.h.
#include "http/console.h"

#include <sstream>

#include "auth/key_store.h"
#include "auth/validator.h"
#include "fhir/outcome.h"
#include "fhir/resource_types.h"
#include "http/console_assets.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "store/audit.h"
#include "sync/pusher.h"
#include "util/time.h"

namespace ef::http {

namespace {

// No inline script or style anywhere: the page's code and styles are files of 'self'.
const char* const kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void security_headers(Ctx& c, bool api) {
  c.res.set_header("Content-Security-Policy", kCsp);
  c.res.set_header("X-Content-Type-Options", "nosniff");
  c.res.set_header("X-Frame-Options", "DENY");
  c.res.set_header("Referrer-Policy", "no-referrer");
  c.res.set_header("Cache-Control", api ? "no-store" : "no-cache");
}

json::Value str(const std::string& s) { return json::Value(s); }
json::Value num(int64_t n) { return json::Value(double(n)); }
json::Value strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& s : v) a.push_back(str(s));
  return json::Value(a);
}

void send_plain_json(Ctx& c, int status, const json::Value& v) {
  c.res.status = status;
  c.res.set_content(json::write(v, c.pretty), "application/json");
}

void serve_file(Ctx& c, const std::string& name) {
  for (const auto& a : console_assets()) {
    if (name != a.name) continue;
    c.res.status = 200;
    c.res.set_content(std::string(a.bytes), a.content_type);
    return;
  }
 c.res.set_header("Cache-Control", "no-store");
  send_error(c, Status(Err::not_found, "no console file '" + name + "'"));
}

json::Value checks_json(const std::vector<auth::CheckLine>& lines) {
  json::Array a;
  for (const auto& l : lines) {
    json::Object o;
    o["name"] = str(l.name);
    o["passed"] = json::Value(l.passed);
    o["detail"] = str(l.detail);
    a.emplace_back(o);
  }
  return json::Value(a);
}

// What the console asks the policy about: interaction, type ("" = system level), label.
struct Probe {
  auth::Interaction i;
  bool typed;
  const char* label;
};
const Probe kProbes[] = {
    {auth::Interaction::read, true, "read"},
    {auth::Interaction::search_type, true, "search"},
    {auth::Interaction::history_type, true, "history"},
    {auth::Interaction::create, true, "create"},
    {auth::Interaction::update, true, "update"},
    {auth::Interaction::del, true, "delete"},
    {auth::Interaction::search_system, false, "search all types"},
    {auth::Interaction::export_, false, "bulk export"},
    {auth::Interaction::admin, false, "status panel (admin)"},
};

void handle_whoami(Ctx& c) {
  c.interaction = "console-whoami";
  std::string type = c.param("type");
  if (type.empty() || !fhir::is_resource_type(type)) type = "Patient";
  json::Object out;
  out["type"] = str(type);
  if (!c.app.authenticate) {
    out["auth"] = str("off");
    out["verdict"] = str("accepted");
    out["reason"] = str("auth.required is false: every request is served without a token");
    json::Array may;
    for (const auto& p : kProbes) {
      json::Object m;
      m["action"] = str(p.label);
      m["type"] = str(p.typed ? type : "");
      m["allowed"] = json::Value(true);
      m["reason"] = str("authentication is off");
      may.emplace_back(m);
    }
    out["may"] = json::Value(may);
    return send_plain_json(c, 200, json::Value(out));
  }
  out["auth"] = str("required");
  const std::string header = c.req.get_header_value("Authorization");
  AuthCheck a;
  std::vector<auth::CheckLine> lines;
  if (c.app.validator) {
    auth::AuthOutcome o = c.app.validator->validate_header(header);
    a.ok = o.ok();
    a.missing = o.status == auth::AuthStatus::missing_token;
    a.status_code = auth::auth_status_code(o.status);
    a.reason = o.reason;
    a.principal = o.principal;
    lines = std::move(o.checks);
    out["from_cache"] = json::Value(o.from_cache);
  } else {
    a = c.app.authenticate(header);
  }
  out["checks"] = checks_json(lines);
  if (!a.ok) {
    c.auth_failure = a.missing ? "missing token" : a.reason;
    metrics().auth_failure(a.missing ? "missing_token" : a.status_code);
    std::string v = "Bearer realm=\"" + c.app.realm + "\"";
    if (!a.missing) v += ", error=\"invalid_token\"";
    c.res.set_header("WWW-Authenticate", v);
    out["verdict"] = str("refused");
    out["status_code"] = str(a.missing ? "missing_token" : a.status_code);
    out["reason"] = str(a.missing ? "no bearer token: send Authorization: Bearer <access token>" : a.reason);
    return send_plain_json(c, 401, json::Value(out));
  }
  const auth::Principal& p = *a.principal;
  c.principal = a.principal;
  out["verdict"] = str("accepted");
  json::Object who;
  who["issuer"] = str(p.issuer);
  who["subject"] = str(p.subject);
  if (!p.object_id.empty()) who["object_id"] = str(p.object_id);
  if (!p.tenant_id.empty()) who["tenant"] = str(p.tenant_id);
  if (!p.client_id.empty()) who["client_id"] = str(p.client_id);
  who["roles"] = strings(p.roles);
  who["scopes"] = strings(p.scopes);
  who["patient_context"] = str(auth::patient_context(p));
  if (!p.fhir_user.empty()) who["fhir_user"] = str(p.fhir_user);
  who["expires_at"] = str(p.expires_at ? timefmt::format_instant(p.expires_at * 1000) : "");
  out["principal"] = json::Value(who);
  json::Array may;
  if (c.app.policy) {
    out["role_permissions"] = str(auth::permission_names(c.app.policy->role_permissions(p.roles)));
    for (const auto& pr : kProbes) {
      auth::Request r;
      r.interaction = pr.i;
      if (pr.typed) r.type = type;
      auth::Decision d = c.app.policy->decide(p, r);
      json::Object m;
      m["action"] = str(pr.label);
      m["type"] = str(pr.typed ? type : "");
      m["allowed"] = json::Value(d.allowed);
      m["reason"] = str(d.reason);
      if (d.allowed && !d.constraints.empty()) {
        std::string lim;
        for (const auto& k : d.constraints) {
          std::string one = k.compartment_patient.empty() ? "" : "compartment of Patient/" + k.compartment_patient;
          for (const auto& sp : k.params) one += std::string(one.empty() ? "" : " and ") + sp.first + "=" + sp.second;
          lim += (lim.empty() ? "" : "; or ") + (one.empty() ? k.scope : one);
        }
        m["restricted_to"] = str(lim);
      }
      may.emplace_back(m);
    }
  }
  out["may"] = json::Value(may);
  send_plain_json(c, 200, json::Value(out));
}

json::Value keys_json(App& app) {
  json::Array issuers;
  if (!app.key_store) return json::Value(issuers);
  const int64_t now = app.clock->now_ms();
  for (const auto& s : app.key_store->status()) {
    json::Object o;
    o["issuer"] = str(s.issuer);
    o["discovery"] = json::Value(s.discovery);
    if (!s.jwks_uri.empty()) o["jwks_uri"] = str(s.jwks_uri);
    o["trusted_keys"] = num(int64_t(s.key_count));
    o["pinned_keys"] = num(int64_t(s.pinned_count));
    o["expired_keys"] = num(int64_t(s.expired_count));
    o["stale"] = json::Value(s.stale);
    if (s.last_success_ms) {
      o["last_fetch"] = str(timefmt::format_instant(s.last_success_ms));
      o["age_seconds"] = num((now - s.last_success_ms) / 1000);
    }
    if (!s.last_error.empty()) o["last_error"] = str(s.last_error);
    if (s.next_refresh_ms) o["next_refresh"] = str(timefmt::format_instant(s.next_refresh_ms));
    o["fetches"] = num(int64_t(s.fetches));
    o["fetch_errors"] = num(int64_t(s.fetch_errors));
    o["unknown_kid"] = num(int64_t(s.unknown_kid));
    json::Array keys;
    for (const auto& k : app.key_store->keys(s.issuer)) {
      if (!k.key) continue;
      json::Object ko;
      ko["kid"] = str(k.key->kid);
      ko["type"] = str(auth::key_type_name(k.key->type));
      ko["source"] = str(auth::key_source_name(k.key->source));
      ko["trusted"] = json::Value(k.trusted);
      if (k.fetched_at_ms) ko["fetched"] = str(timefmt::format_instant(k.fetched_at_ms));
      if (k.expires_at_ms && k.expires_at_ms != INT64_MAX) ko["expires"] = str(timefmt::format_instant(k.expires_at_ms));
      keys.emplace_back(ko);
    }
    o["keys"] = json::Value(keys);
    issuers.emplace_back(o);
  }
  return json::Value(issuers);
}

// A few lines of the Prometheus exposition: requests, failures, in flight, database, sync.
json::Value metrics_json() {
  static const char* const kPrefixes[] = {"edgefhir_http_requests_in_flight", "edgefhir_auth_failures_total",
                                          "edgefhir_database_size_bytes", "edgefhir_start_time_seconds",
                                          "edgefhir_sync_queue_length", "edgefhir_jwks_keys",
                                          "edgefhir_http_requests_total"};
  json::Array lines;
  std::istringstream in(metrics().render_prometheus());
  std::string line;
  while (std::getline(in, line) && lines.size() < 200) {
    if (line.empty() || line[0] == '#') continue;
    for (const char* p : kPrefixes)
      if (line.rfind(p, 0) == 0) {
        lines.push_back(str(line));
        break;
      }
  }
  return json::Value(lines);
}

void handle_status(Ctx& c) {
  c.interaction = "console-status";
  json::Object out;
  // /health's document, as GET /health would answer it now.
  {
    httplib::Response r;
    Ctx h(c.req, r, c.app);
    handle_health(h);
    auto v = json::parse(r.body);
    if (v) out["health"] = *v;
  }
  out["keys"] = keys_json(c.app);
  if (c.app.sync) out["sync"] = c.app.sync->status().to_json();
  else {
    json::Object s;
    s["enabled"] = json::Value(false);
    out["sync"] = json::Value(s);
  }
  json::Array events;
  if (c.app.audit) {
    store::AuditQuery q;
    q.limit = 25;
    auto rows = c.app.audit->query(q);
    if (rows) {
      for (const auto& e : *rows) {
        json::Object o;
        o["time"] = str(timefmt::format_instant(e.ts_ms));
        o["request_id"] = str(e.request_id);
        o["subject"] = str(e.subject);
        o["client_id"] = str(e.client_id);
        o["interaction"] = str(e.interaction);
        o["type"] = str(e.type);
        o["id"] = str(e.id);
        o["query"] = str(e.query);
        o["status"] = num(e.status);
        o["outcome"] = str(e.outcome);
        events.emplace_back(o);
      }
    } else {
      out["audit_error"] = str(rows.status().message);
    }
  }
  out["audit"] = json::Value(events);
  out["metrics"] = metrics_json();
  send_plain_json(c, 200, json::Value(out));
}

}  // namespace

Result<bool> parse_console_config(const json::Value* s) {
  bool enabled = true;
  if (!s || s->is<picojson::null>()) return enabled;
  if (!s->is<json::Object>()) return Status(Err::invalid, "key 'console': must be an object like {\"enabled\": true}");
  for (const auto& kv : s->get<json::Object>())
    if (kv.first != "enabled" && kv.first != "$comment" && kv.first != "comment")
      return Status(Err::invalid, "key 'console." + kv.first + "': unknown key (known: enabled)");
  const json::Value* e = json::get(*s, "enabled");
  if (e && !e->is<picojson::null>()) {
    if (!e->is<bool>()) return Status(Err::invalid, "key 'console.enabled': must be true or false");
    enabled = e->get<bool>();
  }
  return enabled;
}

bool console_route(Ctx& c, ConsoleRoute* out) {
  const auto& s = c.seg;
  if (s.empty() || s[0] != "console" || !c.app.console_enabled) return false;
  const std::string& m = c.req.method;
  const bool get = m == "GET" || m == "HEAD";
  ConsoleRoute r;
  // Set now, at planning time, so that refusals by admit() (401/403) carry them too.
  const bool api = s.size() >= 2 && s[1] == "api";
  security_headers(c, api || !get);
  if (!get) {
    r.label = "invalid";
    r.run = [m](Ctx& c) {
      send_error(c, Status(Err::method_not_allowed, "method " + m + " is not allowed on " + c.req.path));
    };
  } else if (s.size() == 3 && s[1] == "api" && s[2] == "whoami") {
    r.label = "console-whoami";
    r.audited = true;  // public_ for admit(): the handler authenticates, to report each check
    r.run = handle_whoami;
  } else if (s.size() == 3 && s[1] == "api" && s[2] == "status") {
    r.label = "console-status";
    r.public_ = false;
    r.interaction = auth::Interaction::admin;
    r.run = handle_status;
  } else if (s.size() == 1 && c.req.path.back() != '/') {
    r.run = [](Ctx& c) {
      c.res.status = 301;
      c.res.set_header("Location", "/console/");
    };
  } else if (s.size() == 1) {
    r.run = [](Ctx& c) { serve_file(c, "index.html"); };
  } else if (s.size() == 2) {
    std::string name = s[1];
    r.run = [name](Ctx& c) { serve_file(c, name); };
  } else {
 r.run = [](Ctx& c) {
      send_error(c, Status(Err::not_found, "nothing at " + c.req.path));
    };
  }
  *out = std::move(r);
  return true;
}

}  // namespace ef::http
