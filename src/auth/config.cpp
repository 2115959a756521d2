// auth/config.cpp — parsing and checking of the "auth" configuration (see config.h).
#include "auth/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "auth/smart_config.h"
#include "auth/verify.h"

namespace ef::auth {
namespace {

Status err(const std::string& where, const std::string& what) { return Status(Err::invalid, where + ": " + what); }

class Reader {
 public:
  Reader(const json::Value& obj, std::string where) : obj_(obj), where_(std::move(where)) {}
  std::string at(const std::string& k) const { return where_ + "." + k; }

  Status boolean(const char* k, bool* out) {
    seen_.insert(k);
    const json::Value* v = json::get(obj_, k);
    if (!v || v->is<picojson::null>()) return {};
    if (!json::is_bool(*v)) return err(at(k), "must be true or false");
    *out = v->get<bool>();
    return {};
  }
  Status integer(const char* k, int64_t* out, int64_t min, int64_t max) {
    seen_.insert(k);
    const json::Value* v = json::get(obj_, k);
    if (!v || v->is<picojson::null>()) return {};
    int64_t n;
    if (!json::is_number(*v) || !json::int_value(*v, &n)) return err(at(k), "must be an integer");
    if (n < min || n > max) return err(at(k), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    *out = n;
    return {};
  }
  Status string(const char* k, std::string* out, bool required = false) {
    seen_.insert(k);
    const json::Value* v = json::get(obj_, k);
    if (!v || v->is<picojson::null>()) return required ? err(at(k), "is required") : Status();
    const std::string* s = json::as_string(*v);
    if (!s) return err(at(k), "must be a string");
    if (s->empty()) return err(at(k), "must not be empty");
    *out = *s;
    return {};
  }
  Status strings(const char* k, std::vector<std::string>* out, bool* present = nullptr) {
    seen_.insert(k);
    const json::Value* v = json::get(obj_, k);
    if (present) *present = v && !v->is<picojson::null>();
    if (!v || v->is<picojson::null>()) return {};
    const json::Array* a = json::as_array(*v);
    if (!a) return err(at(k), "must be an array of strings");
    out->clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string* s = json::as_string((*a)[i]);
      if (!s || s->empty()) return err(at(k) + "[" + std::to_string(i) + "]", "must be a non-empty string");
      out->push_back(*s);
    }
    return {};
  }
  // Keys read by other modules (they check their own values).
  void known(std::initializer_list<const char*> ks) { seen_.insert(ks.begin(), ks.end()); }
  Status no_unknown() const {
    for (const auto& kv : *json::as_object(obj_))
      if (!seen_.count(kv.first)) return err(at(kv.first), "is not a known setting");
    return {};
  }

 private:
  const json::Value& obj_;
  std::string where_;
  std::set<std::string> seen_;
};

#define TRY(expr)              \
  do {                         \
    Status _s = (expr);        \
    if (!_s.ok()) return _s;   \
  } while (0)

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || base.empty() || p[0] == '/') return p;
  return base + (base.back() == '/' ? "" : "/") + p;
}

Status parse_issuer(const json::Value& v, const std::string& where, const std::string& base, IssuerConfig* ic) {
  if (!json::is_object(v)) return err(where, "must be an object");
  Reader r(v, where);
  TRY(r.string("issuer", &ic->issuer, true));
  TRY(r.boolean("discovery", &ic->discovery));
  TRY(r.string("jwks_uri", &ic->jwks_uri));
  bool have_algs = false;
  TRY(r.strings("algorithms", &ic->algorithms, &have_algs));
  TRY(r.strings("pinned_keys", &ic->pinned_keys));
  TRY(r.strings("token_types", &ic->token_types, &ic->token_types_explicit));
  TRY(r.string("hmac_secret_file", &ic->hmac_secret_file));
  TRY(r.integer("refresh_seconds", &ic->refresh_seconds, 60, 30 * 86400));
  TRY(r.integer("refresh_cooldown_seconds", &ic->refresh_cooldown_seconds, 1, 86400));
  TRY(r.integer("max_staleness_seconds", &ic->max_staleness_seconds, 0, 365 * 86400));
  TRY(r.integer("key_grace_seconds", &ic->key_grace_seconds, 0, 365 * 86400));
  TRY(r.string("ca_file", &ic->ca_file));
  TRY(r.integer("fetch_timeout_seconds", &ic->fetch_timeout_seconds, 1, 300));
  TRY(r.integer("max_jwks_bytes", &ic->max_jwks_bytes, 1024, 64LL << 20));
  TRY(r.no_unknown());

  if (!have_algs) {
    ic->algorithms = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"};
    if (!ic->hmac_secret_file.empty()) ic->algorithms = {"HS256"};
  }
  if (ic->algorithms.empty()) return err(where + ".algorithms", "must list at least one algorithm");
  bool hs = false, asym = false;
  for (const auto& a : ic->algorithms) {
    if (!is_supported_alg(a)) return err(where + ".algorithms", "'" + a + "' is not a supported algorithm");
    (a[0] == 'H' ? hs : asym) = true;
  }
  if (hs && ic->hmac_secret_file.empty())
    return err(where + ".algorithms", "HS* algorithms need 'hmac_secret_file'");
  if (!ic->hmac_secret_file.empty() && !hs)
    return err(where + ".hmac_secret_file", "is set but no HS* algorithm is listed in 'algorithms'");
  if (!asym && ic->discovery && ic->hmac_secret_file.empty())
    return err(where + ".algorithms", "no asymmetric algorithm for discovered keys");
  if (ic->token_types_explicit && ic->token_types.empty())
    return err(where + ".token_types", "must not be empty (omit it for the default [\"JWT\", \"at+jwt\"])");
  if (!ic->jwks_uri.empty() && ic->jwks_uri.rfind("https://", 0) != 0 && ic->jwks_uri.rfind("http://", 0) != 0)
    return err(where + ".jwks_uri", "must be an http(s) URL");
  for (auto& p : ic->pinned_keys) p = resolve(base, p);
  ic->hmac_secret_file = resolve(base, ic->hmac_secret_file);
  ic->ca_file = resolve(base, ic->ca_file);
  return {};
}

}  // namespace

Result<AuthConfig> parse_auth_config(const json::Value& auth, const std::string& base_dir) {
  if (!json::is_object(auth)) return err("auth", "must be an object");
  AuthConfig c;
  c.raw = auth;
  Reader r(auth, "auth");
  TRY(r.boolean("required", &c.required));
  TRY(r.strings("audiences", &c.audiences));
  TRY(r.integer("clock_skew_seconds", &c.clock_skew_seconds, 0, 3600));
  TRY(r.string("roles_claim", &c.roles_claim));
  if (const json::Value* iss = json::get(auth, "issuers"); iss && !iss->is<picojson::null>()) {
    const json::Array* a = json::as_array(*iss);
    if (!a) return err("auth.issuers", "must be an array");
    std::set<std::string> names;
    for (size_t i = 0; i < a->size(); ++i) {
      IssuerConfig ic;
      std::string where = "auth.issuers[" + std::to_string(i) + "]";
      TRY(parse_issuer((*a)[i], where, base_dir, &ic));
      if (!names.insert(ic.issuer).second) return err(where + ".issuer", "'" + ic.issuer + "' is listed twice");
      c.issuers.push_back(std::move(ic));
    }
  }
  // issuers: above; role_permissions, scopes_require_role: auth/policy.cpp; smart: auth/smart_config.cpp.
  r.known({"issuers", "role_permissions", "scopes_require_role", "smart", "$comment", "comment"});
  TRY(r.no_unknown());
  TRY(check_smart_config(auth));
  if (!c.issuers.empty() && c.audiences.empty())
    return err("auth.audiences", "must list at least one audience when issuers are configured");
  if (c.required && c.issuers.empty())
    return err("auth.issuers", "must list at least one trusted issuer when auth.required is true");
  return c;
}

Result<AuthConfig> load_auth_config_file(const std::string& path, const std::string& base_dir) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(Err::not_found, "cannot open config file '" + path + "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  auto v = json::parse(ss.str());
  if (!v.ok()) return Status(Err::invalid, "config file '" + path + "': " + v.status().message);
  const json::Value* auth = json::get(*v, "auth");
  if (!auth) return Status(Err::invalid, "config file '" + path + "' has no \"auth\" section");
  return parse_auth_config(*auth, base_dir);
}

}  // namespace ef::auth
