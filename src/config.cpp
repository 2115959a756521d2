// config.cpp — see config.h.
#include "config.h"

#include <fstream>
#include <set>
#include <sstream>

namespace ef {

bool ServerConfig::auth_required() const {
  const json::Value* r = json::get(auth, "required");
  if (r && r->is<bool>()) return r->get<bool>();
  return true;
}

std::string ServerConfig::effective_base_url() const {
  if (!base_url.empty()) return base_url;
  std::string host = listen_host == "0.0.0.0" ? "127.0.0.1" : listen_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(tls_cert.empty() ? "http" : "https") + "://" + host + ":" + std::to_string(listen_port);
}

Status apply_listen(ServerConfig& c, const std::string& hp) {
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hp.size())
    return Status(Err::invalid, "listen '" + hp + "' must be HOST:PORT, e.g. 127.0.0.1:8080");
  std::string host = hp.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char ch : hp.substr(colon + 1)) {
    if (ch < '0' || ch > '9') return Status(Err::invalid, "listen '" + hp + "': port must be a number");
    port = port * 10 + (ch - '0');
    if (port > 65535) return Status(Err::invalid, "listen '" + hp + "': port must be 0..65535");
  }
  c.listen_host = host;
  c.listen_port = port;
  return Status();
}

namespace {

struct Reader {
  const json::Value& obj;
  std::string where;  // "config FILE"
  std::string prefix; // "limits."
  Status st;

  bool fail(const std::string& key, const std::string& problem) {
    if (st.ok()) st = Status(Err::invalid, where + ": key '" + prefix + key + "': " + problem);
    return false;
  }
  void str(const std::string& key, std::string& out) {
    const json::Value* v = json::get(obj, key);
    if (!v || v->is<picojson::null>()) return;
    if (!json::is_string(*v)) { fail(key, "must be a string"); return; }
    out = v->get<std::string>();
  }
  template <class T>
  void num(const std::string& key, T& out, double lo, double hi) {
    const json::Value* v = json::get(obj, key);
    if (!v || v->is<picojson::null>()) return;
    double d;
    if (!json::number_value(*v, &d)) { fail(key, "must be a number"); return; }
    if (d < lo || d > hi || d != double(int64_t(d))) {
      fail(key, "must be a whole number from " + std::to_string(int64_t(lo)) + " to " + std::to_string(int64_t(hi)));
      return;
    }
    out = T(d);
  }
  void boolean(const std::string& key, bool& out) {
    const json::Value* v = json::get(obj, key);
    if (!v || v->is<picojson::null>()) return;
    if (!v->is<bool>()) { fail(key, "must be true or false"); return; }
    out = v->get<bool>();
  }
  void only(const std::set<std::string>& known) {
    if (const json::Object* o = json::as_object(obj))
      for (const auto& kv : *o)
        if (!known.count(kv.first)) fail(kv.first, "unknown key (known: " + join(known) + ")");
  }
  static std::string join(const std::set<std::string>& s) {
    std::string out;
    for (const auto& k : s) out += (out.empty() ? "" : ", ") + k;
    return out;
  }
};

}  // namespace

Result<ServerConfig> parse_config(const std::string& text, const std::string& where_path) {
  std::string where = "config " + where_path;
  auto v = json::parse(text);
  if (!v) return Status(Err::invalid, where + ": " + v.status().message);
  if (!json::is_object(*v)) return Status(Err::invalid, where + ": must be a JSON object");
  ServerConfig c;
  c.raw = *v;
  c.path = where_path;
  Reader r{*v, where, "", {}};
  r.only({"listen", "database", "base_url", "auth", "limits", "durability", "tls", "log_level", "log_requests", "allow_insecure_bearer",
          "audit", "sync", "export", "metrics", "writer", "cors", "console", "validation", "$comment", "comment"});
  std::string listen;
  r.str("listen", listen);
  if (r.st.ok() && !listen.empty()) {
    Status s = apply_listen(c, listen);
    if (!s) r.fail("listen", s.message);
  }
  r.str("database", c.database);
  r.str("base_url", c.base_url);
  if (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  r.str("durability", c.durability);
  if (r.st.ok() && c.durability != "process" && c.durability != "power")
    r.fail("durability", "must be \"process\" (survives a crash of the process) or \"power\" (survives power loss)");
  r.str("log_level", c.log_level);
  if (r.st.ok() && !c.log_level.empty() && c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    r.fail("log_level", "must be one of debug, info, warn, error");
  r.boolean("allow_insecure_bearer", c.allow_insecure_bearer);
  r.boolean("log_requests", c.log_requests);
  if (const json::Value* a = json::get(*v, "auth")) {
    if (!json::is_object(*a)) r.fail("auth", "must be an object");
    else {
      c.auth = *a;
      const json::Value* req = json::get(*a, "required");
      if (req && !req->is<bool>()) r.fail("auth.required", "must be true or false");
    }
  } else {
    c.auth = json::Value(json::Object());
  }
  if (const json::Value* t = json::get(*v, "tls")) {
    if (!t->is<picojson::null>()) {
      Reader tr{*t, where, "tls.", {}};
      if (!json::is_object(*t)) r.fail("tls", "must be an object with cert and key");
      tr.only({"cert", "key"});
      tr.str("cert", c.tls_cert);
      tr.str("key", c.tls_key);
      if (tr.st.ok() && (c.tls_cert.empty() != c.tls_key.empty())) tr.fail("cert", "tls needs both cert and key");
      if (r.st.ok() && !tr.st.ok()) r.st = tr.st;
    }
  }
  if (const json::Value* va = json::get(*v, "validation")) {
    Reader vr{*va, where, "validation.", {}};
    if (!json::is_object(*va)) r.fail("validation", "must be an object");
    vr.only({"on_write"});
    vr.str("on_write", c.validation_on_write);
    if (vr.st.ok() && c.validation_on_write != "strict" && c.validation_on_write != "warn" &&
        c.validation_on_write != "off")
      vr.fail("on_write", "must be \"strict\" (refuse invalid resources), \"warn\" (store them, report the issues) or \"off\"");
    if (r.st.ok() && !vr.st.ok()) r.st = vr.st;
  }
  if (const json::Value* l = json::get(*v, "limits")) {
    Reader lr{*l, where, "limits.", {}};
    if (!json::is_object(*l)) r.fail("limits", "must be an object");
    lr.only({"max_body_bytes", "max_json_depth", "max_bundle_entries", "max_query_params", "max_url_bytes",
             "read_timeout_seconds", "keep_alive_seconds", "keep_alive_max_requests", "threads",
             "max_search_params", "max_or_values", "max_search_values", "max_header_bytes", "max_response_bytes",
             "max_json_values", "max_write_ms", "xml_cache_bytes", "max_expansion_concepts",
             "terminology_cache_entries", "terminology_cache_bytes"});
    lr.num("max_body_bytes", c.limits.max_body_bytes, 1024, 1e10);
    lr.num("max_json_depth", c.limits.max_json_depth, 8, 1000);
    lr.num("max_bundle_entries", c.limits.max_bundle_entries, 1, 1e7);
    lr.num("max_query_params", c.limits.max_query_params, 1, 10000);
    lr.num("max_url_bytes", c.limits.max_url_bytes, 256, 1e6);
    lr.num("read_timeout_seconds", c.limits.read_timeout_seconds, 1, 3600);
    lr.num("keep_alive_seconds", c.limits.keep_alive_seconds, 0, 3600);
    lr.num("keep_alive_max_requests", c.limits.keep_alive_max_requests, 1, 1e9);
    lr.num("threads", c.limits.threads, 0, 1024);
    // the search budgets' ranges keep every accepted search inside SQLite's limits
    // (fhir/search_query.h)
    lr.num("max_search_params", c.limits.max_search_params, 1, 200);
    lr.num("max_or_values", c.limits.max_or_values, 1, 400);
    lr.num("max_search_values", c.limits.max_search_values, 1, 2000);
    lr.num("max_header_bytes", c.limits.max_header_bytes, 4096, 1e7);
    lr.num("max_response_bytes", c.limits.max_response_bytes, 65536, 1e11);
    lr.num("max_json_values", c.limits.max_json_values, 1000, 1e9);
    lr.num("max_write_ms", c.limits.max_write_ms, 50, 3600000);
    lr.num("xml_cache_bytes", c.limits.xml_cache_bytes, 0, 1e10);
    lr.num("max_expansion_concepts", c.limits.max_expansion_concepts, 1, 1e6);
    lr.num("terminology_cache_entries", c.limits.terminology_cache_entries, 0, 1e6);
    lr.num("terminology_cache_bytes", c.limits.terminology_cache_bytes, 0, 1e10);
    if (r.st.ok() && !lr.st.ok()) r.st = lr.st;
  }
  if (const json::Value* w = json::get(*v, "writer")) {
    Reader wr{*w, where, "writer.", {}};
    if (!json::is_object(*w)) r.fail("writer", "must be an object");
    wr.only({"group_commit", "max_group_requests", "max_group_bytes", "commit_delay_us"});
    wr.boolean("group_commit", c.writer.group_commit);
    wr.num("max_group_requests", c.writer.max_group_requests, 1, 100000);
    wr.num("max_group_bytes", c.writer.max_group_bytes, 1024, 1e10);
    wr.num("commit_delay_us", c.writer.commit_delay_us, 0, 100000);
    if (r.st.ok() && !wr.st.ok()) r.st = wr.st;
  }
  if (!r.st) return r.st;
  return c;
}

Result<ServerConfig> load_config(const std::string& path) {
  if (path.empty()) {
    ServerConfig c;
    c.auth = json::Value(json::Object());
    c.raw = json::Value(json::Object());
    return c;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::invalid, "config " + path + ": cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace ef
