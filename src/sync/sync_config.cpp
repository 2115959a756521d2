// sync/sync_config.cpp — see sync_config.h.
#include "sync/sync_config.h"

#include <set>

#include "fhir/resource_types.h"
#include "sync/http.h"

namespace ef::sync {

const char* to_string(ConflictPolicy p) { return p == ConflictPolicy::edge_wins ? "edge-wins" : "skip-and-report"; }
const char* to_string(BundleMode m) {
  switch (m) {
    case BundleMode::transaction: return "transaction";
    case BundleMode::batch: return "batch";
    case BundleMode::none: return "none";
    default: return "auto";
  }
}
const char* to_string(ClientAuth a) {
  switch (a) {
    case ClientAuth::secret_post: return "client_secret_post";
    case ClientAuth::private_key_jwt: return "private_key_jwt";
    default: return "client_secret_basic";
  }
}

namespace {

struct Checker {
  const json::Value& obj;
  std::string where;
  Status st;

  bool fail(const std::string& key, const std::string& problem) {
    if (st.ok()) st = Status(Err::invalid, where + ": key 'sync" + (key.empty() ? "" : "." + key) + "': " + problem);
    return false;
  }
  const json::Value* val(const std::string& key) {
    const json::Value* v = json::get(obj, key);
    if (!v || v->is<picojson::null>()) return nullptr;
    return v;
  }
  void str(const std::string& key, std::string& out) {
    const json::Value* v = val(key);
    if (!v) return;
    if (!json::is_string(*v)) { fail(key, "must be a string"); return; }
    out = v->get<std::string>();
    if (out.empty()) fail(key, "must not be empty (use null or leave it out)");
  }
  template <class T>
  void num(const std::string& key, T& out, int64_t lo, int64_t hi) {
    const json::Value* v = val(key);
    if (!v) return;
    double d;
    if (!json::number_value(*v, &d) || d != double(int64_t(d)) || d < double(lo) || d > double(hi)) {
      fail(key, "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
      return;
    }
    out = T(d);
  }
  template <class E>
  void choice(const std::string& key, E& out, const std::vector<std::pair<const char*, E>>& names) {
    const json::Value* v = val(key);
    if (!v) return;
    std::string all;
    for (const auto& n : names) all += std::string(all.empty() ? "" : ", ") + "\"" + n.first + "\"";
    if (json::is_string(*v))
      for (const auto& n : names)
        if (v->get<std::string>() == n.first) {
          out = n.second;
          return;
        }
    fail(key, "must be one of " + all);
  }
};

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || base.empty() || p[0] == '/') return p;
  return base + (base.back() == '/' ? "" : "/") + p;
}

}  // namespace

Result<SyncConfig> parse_sync_config(const json::Value* sync, const std::string& where, const std::string& base_dir) {
  SyncConfig c;
  if (!sync || sync->is<picojson::null>()) return c;
  Checker k{*sync, where, {}};
  if (!json::is_object(*sync)) {
    k.fail("", "must be an object with at least \"upstream\"");
    return k.st;
  }
  static const std::set<std::string> known = {
      "enabled", "upstream", "token_url", "client_id", "client_auth", "client_secret_file", "client_key_file",
      "client_key_id", "client_key_alg", "scope", "resource", "interval_seconds", "batch_size", "types",
      "conflict_policy", "max_queue", "bundle", "ca_file", "timeout_seconds", "backoff_initial_seconds",
      "backoff_max_seconds", "$comment", "comment"};
  for (const auto& kv : *json::as_object(*sync)) {
    if (!known.count(kv.first)) {
      std::string list;
      for (const auto& n : known)
        if (n[0] != '$' && n != "comment") list += (list.empty() ? "" : ", ") + n;
      k.fail(kv.first, "unknown key (known: " + list + ")");
    }
  }
  c.enabled = true;
  if (const json::Value* e = k.val("enabled")) {
    if (!e->is<bool>()) k.fail("enabled", "must be true or false");
    else c.enabled = e->get<bool>();
  }
  k.str("upstream", c.upstream);
  if (k.st.ok() && c.upstream.empty()) k.fail("upstream", "is required: the base URL of the upstream FHIR server");
  while (!c.upstream.empty() && c.upstream.back() == '/') c.upstream.pop_back();
  if (k.st.ok()) {
    auto ep = parse_endpoint(c.upstream);
    if (!ep) k.fail("upstream", ep.status().message);
  }
  k.str("token_url", c.token_url);
  if (k.st.ok() && !c.token_url.empty()) {
    auto ep = parse_endpoint(c.token_url);
    if (!ep) k.fail("token_url", ep.status().message);
  }
  k.str("client_id", c.client_id);
  k.choice<ClientAuth>("client_auth", c.client_auth,
                       {{"client_secret_basic", ClientAuth::secret_basic},
                        {"client_secret_post", ClientAuth::secret_post},
                        {"private_key_jwt", ClientAuth::private_key_jwt}});
  k.str("client_secret_file", c.client_secret_file);
  k.str("client_key_file", c.client_key_file);
  k.str("client_key_id", c.client_key_id);
  k.str("client_key_alg", c.client_key_alg);
  k.str("scope", c.scope);
  k.str("resource", c.resource);
  k.num("interval_seconds", c.interval_seconds, 1, 86400);
  k.num("batch_size", c.batch_size, 1, 10000);
  k.num("max_queue", c.max_queue, 1, int64_t(1e12));
  k.num("timeout_seconds", c.timeout_seconds, 1, 3600);
  k.num("backoff_initial_seconds", c.backoff_initial_seconds, 1, 3600);
  k.num("backoff_max_seconds", c.backoff_max_seconds, 1, 86400);
  k.choice<ConflictPolicy>("conflict_policy", c.conflict_policy,
                           {{"edge-wins", ConflictPolicy::edge_wins}, {"skip-and-report", ConflictPolicy::skip_and_report}});
  k.choice<BundleMode>("bundle", c.bundle,
                       {{"auto", BundleMode::auto_detect},
                        {"transaction", BundleMode::transaction},
                        {"batch", BundleMode::batch},
                        {"none", BundleMode::none}});
  k.str("ca_file", c.ca_file);
  if (const json::Value* t = k.val("types")) {
    const json::Array* a = json::as_array(*t);
    if (!a || a->empty()) {
      k.fail("types", "must be null (every type) or a non-empty array of resource type names");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < a->size(); ++i) {
        const std::string* s = json::as_string((*a)[i]);
        std::string key = "types[" + std::to_string(i) + "]";
        if (!s) { k.fail(key, "must be a string"); break; }
        if (!fhir::is_resource_type(*s)) { k.fail(key, "'" + *s + "' is not a FHIR R4 resource type"); break; }
        if (seen.insert(*s).second) c.types.push_back(*s);
      }
    }
  }
  if (k.st.ok() && c.backoff_max_seconds < c.backoff_initial_seconds)
    k.fail("backoff_max_seconds", "must not be smaller than backoff_initial_seconds");
  if (k.st.ok() && c.uses_token()) {
    if (c.client_id.empty()) k.fail("client_id", "is required with token_url (the edge's client id at the token endpoint)");
    else if (c.client_auth == ClientAuth::private_key_jwt && c.client_key_file.empty())
      k.fail("client_key_file", "is required with client_auth \"private_key_jwt\" (PEM private key)");
    else if (c.client_auth != ClientAuth::private_key_jwt && c.client_secret_file.empty())
      k.fail("client_secret_file", std::string("is required with client_auth \"") + to_string(c.client_auth) +
                                       "\" (a file holding the client secret)");
  }
  if (k.st.ok() && !c.uses_token()) {
    for (const char* key : {"client_id", "client_secret_file", "client_key_file", "scope", "resource"})
      if (k.val(key)) {
        k.fail(key, "is only meaningful with token_url");
        break;
      }
  }
  if (!k.st) return k.st;
  c.client_secret_file = resolve(base_dir, c.client_secret_file);
  c.client_key_file = resolve(base_dir, c.client_key_file);
  c.ca_file = resolve(base_dir, c.ca_file);
  return c;
}

Result<SyncConfig> sync_config_of(const ServerConfig& cfg) {
  return parse_sync_config(json::get(cfg.raw, "sync"), "config " + (cfg.path.empty() ? "(defaults)" : cfg.path));
}

}  // namespace ef::sync
