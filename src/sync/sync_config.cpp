// sync/sync_config.cpp — see sync_config.h.
#include "sync/sync_config.h"

#include <set>

#include "fhir/resource_types.h"
#include "fhir/search_query.h"
#include "sync/http.h"

namespace ef::sync {

const char* to_string(ConflictPolicy p) {
  switch (p) {
    case ConflictPolicy::skip_and_report: return "skip-and-report";
    case ConflictPolicy::upstream_wins: return "upstream-wins";
    case ConflictPolicy::manual: return "manual";
    default: return "edge-wins";
  }
}
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
      "backoff_max_seconds", "pull", "pull_page_size", "pull_max_page_bytes", "pull_max_pages_per_run",
      "pull_overlap_seconds", "pull_max_age_seconds", "$comment", "comment"};
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
                           {{"edge-wins", ConflictPolicy::edge_wins},
                            {"upstream-wins", ConflictPolicy::upstream_wins},
                            {"skip-and-report", ConflictPolicy::skip_and_report},
                            {"manual", ConflictPolicy::manual}});
  k.num("pull_page_size", c.pull_page_size, 1, 1000);
  k.num("pull_max_page_bytes", c.pull_max_page_bytes, 4096, int64_t(1) << 30);
  k.num("pull_max_pages_per_run", c.pull_max_pages_per_run, 1, 1000000);
  k.num("pull_overlap_seconds", c.pull_overlap_seconds, 0, 86400);
  k.num("pull_max_age_seconds", c.pull_max_age_seconds, 1, int64_t(1e9));
  if (const json::Value* p = k.val("pull")) {
    const json::Array* a = json::as_array(*p);
    if (!a) k.fail("pull", "must be an array of {\"search\": \"Type?params\", \"interval_seconds\": N}");
    else if (a->size() > 100) k.fail("pull", "at most 100 searches");
    for (size_t i = 0; a && i < a->size() && k.st.ok(); ++i) {
      std::string key = "pull[" + std::to_string(i) + "]";
      const json::Value& q = (*a)[i];
      if (!json::is_object(q)) { k.fail(key, "must be an object with \"search\""); break; }
      for (const auto& kv : *json::as_object(q))
        if (kv.first != "search" && kv.first != "interval_seconds" && kv.first != "comment" && kv.first != "$comment")
          k.fail(key + "." + kv.first, "unknown key (known: search, interval_seconds)");
      Checker sub{q, where, {}};
      PullQuery pq;
      const json::Value* sv = json::get(q, "search");
      const std::string* s = sv ? json::as_string(*sv) : nullptr;
      if (!s || s->empty()) { k.fail(key + ".search", "is required: \"Type\" or \"Type?param=value&...\""); break; }
      pq.search = *s;
      sub.num("interval_seconds", pq.interval_seconds, 1, 86400);
      if (!sub.st.ok()) { k.fail(key + ".interval_seconds", "must be a whole number from 1 to 86400"); break; }
      Status ps = parse_pull_search(pq);
      if (!ps) { k.fail(key + ".search", ps.message); break; }
      for (const PullQuery& other : c.pull)
        if (other.type == pq.type && other.query == pq.query) k.fail(key + ".search", "repeats an earlier search");
      c.pull.push_back(std::move(pq));
    }
  }
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

namespace {
bool unreserved(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
         ch == '_' || ch == '~' || ch == ':' || ch == ',' || ch == '$' || ch == '|';
}
}  // namespace

std::string query_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (unreserved(ch)) out.push_back(char(ch));
    else {
      out.push_back('%');
      out.push_back(hex[ch >> 4]);
      out.push_back(hex[ch & 15]);
    }
  }
  return out;
}

Status parse_pull_search(PullQuery& q) {
  const std::string& s = q.search;
  if (s.size() > 2000) return Status(Err::invalid, "is longer than 2000 characters");
  size_t qm = s.find('?');
  std::string type = s.substr(0, qm);
  if (!fhir::is_resource_type(type))
    return Status(Err::invalid, "'" + type + "' is not a FHIR R4 resource type (expected \"Type?param=value\")");
  std::string qs = qm == std::string::npos ? std::string() : s.substr(qm + 1);
  auto params = fhir::parse_query_string(qs, false);
  if (!params) return Status(Err::invalid, params.status().message);
  static const std::set<std::string> managed = {"_count", "_sort", "_cursor", "_include", "_revinclude", "_summary",
                                                "_elements", "_total", "_lastUpdated", "_format", "_contained",
                                                "_containedType", "_pretty"};
  std::string out;
  for (const auto& kv : *params) {
    std::string name = kv.first.substr(0, kv.first.find(':'));
    if (managed.count(name))
      return Status(Err::invalid, "parameter '" + kv.first +
                                      "' is not allowed in a pull search (the puller sets paging, sort and the "
                                      "_lastUpdated cursor, and stores only whole matched resources)");
    out += (out.empty() ? "" : "&") + query_encode(kv.first) + "=" + query_encode(kv.second);
  }
  fhir::SearchParseOptions o;
  o.strict = true;
  auto sq = fhir::parse_search(type, *params, o);
  if (!sq) return Status(Err::invalid, sq.status().message);
  q.type = type;
  q.query = out;
  return Status();
}

Result<SyncConfig> sync_config_of(const ServerConfig& cfg) {
  return parse_sync_config(json::get(cfg.raw, "sync"), "config " + (cfg.path.empty() ? "(defaults)" : cfg.path));
}

}  // namespace ef::sync
