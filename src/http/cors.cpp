// http/cors.cpp — see cors.h.
#include "http/cors.h"

#include <algorithm>
#include <set>

namespace ef::http {

const char* const kCorsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE";

namespace {

constexpr size_t kMaxOrigins = 200;
constexpr size_t kMaxHeaders = 100;
constexpr size_t kMaxOriginBytes = 512;

const std::vector<std::string> kDefaultAllowed = {"Authorization", "Content-Type",  "Accept",
                                                  "Prefer",        "If-Match",      "If-None-Match",
                                                  "If-None-Exist", "If-Modified-Since", "X-Request-Id"};
const std::vector<std::string> kDefaultExposed = {"Location",      "Content-Location", "ETag",
                                                  "Last-Modified", "WWW-Authenticate", "X-Request-Id",
                                                  "X-Progress",    "Retry-After",      "Preference-Applied"};

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

int default_port(const std::string& scheme) {
  if (scheme == "http") return 80;
  if (scheme == "https") return 443;
  return 0;
}

// "scheme://host[:port]" (and, when wildcard_port, "scheme://host:*").  Returns false with
// a reason for anything else (a path, a query, user info, a trailing slash...).
bool parse_origin(const std::string& s, bool wildcard_port, CorsConfig::Origin* out, std::string* why) {
  if (s.size() > kMaxOriginBytes) return *why = "is longer than 512 bytes", false;
  size_t sep = s.find("://");
  if (sep == std::string::npos || sep == 0) return *why = "must look like https://host or http://host:port", false;
  std::string scheme = lower(s.substr(0, sep));
  if (!std::isalpha(static_cast<unsigned char>(scheme[0])) ||
      scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-") != std::string::npos)
    return *why = "has an invalid scheme", false;
  std::string rest = s.substr(sep + 3);
  std::string host, port;
  if (!rest.empty() && rest[0] == '[') {  // IPv6 literal
    size_t close = rest.find(']');
    if (close == std::string::npos) return *why = "has an unterminated [IPv6] host", false;
    host = rest.substr(0, close + 1);
    if (host.find_first_not_of("[]0123456789abcdefABCDEF:.") != std::string::npos)
      return *why = "has an invalid IPv6 host", false;
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return *why = "must be scheme://host[:port] with no path", false;
      port = rest.substr(1);
      if (port.empty()) return *why = "has an empty port", false;
    }
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return *why = "has an empty port", false;
    }
    if (host.empty() || host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                            std::string::npos)
      return *why = "must be scheme://host[:port] with no path, query, user or trailing slash", false;
  }
  out->scheme = scheme;
  out->host = lower(host);
  if (port.empty()) {
    out->port = default_port(scheme);
  } else if (port == "*") {
    if (!wildcard_port) return *why = "has a wildcard port", false;
    out->port = -1;
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      return *why = "has a port that is not a number 1..65535 or *", false;
    int p = std::stoi(port);
    if (p < 1 || p > 65535) return *why = "has a port that is not a number 1..65535 or *", false;
    out->port = p;
  }
  return true;
}

bool is_token(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  return s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") ==
         std::string::npos;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

bool CorsConfig::allows(const std::string& origin) const {
  if (!enabled || origin.empty() || origin == "null") return false;
  if (any_origin) return true;
  Origin o;
  std::string why;
  if (!parse_origin(origin, false, &o, &why)) return false;
  for (const auto& a : origins)
    if (a.scheme == o.scheme && a.host == o.host && (a.port == -1 || a.port == o.port)) return true;
  return false;
}

Result<CorsConfig> parse_cors_config(const json::Value& section, bool auth_required) {
  CorsConfig c;
  c.allowed_headers = kDefaultAllowed;
  c.exposed_headers = kDefaultExposed;
  if (section.is<picojson::null>()) return c;
  auto fail = [](const std::string& key, const std::string& problem) {
    return Status(Err::invalid, "key 'cors." + key + "': " + problem);
  };
  const json::Object* obj = json::as_object(section);
  if (!obj) return Status(Err::invalid, "key 'cors': must be an object like {\"allowed_origins\": [\"http://localhost:*\"]}");
  static const std::set<std::string> known = {"allowed_origins", "allow_any_origin_with_auth", "allowed_headers",
                                              "exposed_headers", "max_age_seconds", "allow_credentials", "$comment",
                                              "comment"};
  for (const auto& kv : *obj)
    if (!known.count(kv.first))
      return fail(kv.first, "unknown key (known: allow_any_origin_with_auth, allow_credentials, allowed_headers, "
                            "allowed_origins, exposed_headers, max_age_seconds)");
  auto boolean = [&](const char* key, bool* out) -> Status {
    const json::Value* v = json::get(section, key);
    if (!v || v->is<picojson::null>()) return Status();
    if (!v->is<bool>()) return fail(key, "must be true or false");
    *out = v->get<bool>();
    return Status();
  };
  auto strings = [&](const char* key, size_t max, std::vector<std::string>* out, bool* given) -> Status {
    const json::Value* v = json::get(section, key);
    if (!v || v->is<picojson::null>()) return Status();
    if (!v->is<json::Array>()) return fail(key, "must be a list of strings");
    const auto& a = v->get<json::Array>();
    if (a.size() > max) return fail(key, "has " + std::to_string(a.size()) + " entries; the limit is " + std::to_string(max));
    out->clear();
    for (const auto& e : a) {
      if (!json::is_string(e)) return fail(key, "must be a list of strings");
      out->push_back(e.get<std::string>());
    }
    if (given) *given = true;
    return Status();
  };
  bool any_with_auth = false;
  if (Status st = boolean("allow_any_origin_with_auth", &any_with_auth); !st) return st;
  if (Status st = boolean("allow_credentials", &c.allow_credentials); !st) return st;
  std::vector<std::string> origins;
  if (Status st = strings("allowed_origins", kMaxOrigins, &origins, nullptr); !st) return st;
  for (const auto& o : origins) {
    if (o == "*") {
      c.any_origin = true;
      continue;
    }
    if (o == "null") return fail("allowed_origins", "\"null\" (the opaque origin of files and sandboxed frames) cannot be allowed");
    CorsConfig::Origin parsed;
    std::string why;
    if (!parse_origin(o, true, &parsed, &why)) return fail("allowed_origins", "'" + o + "' " + why);
    c.origins.push_back(parsed);
  }
  if (c.any_origin && auth_required && !any_with_auth)
    return fail("allowed_origins",
                "\"*\" lets a page on any web site call this server with a token it holds; with auth.required "
                "it must be confirmed with \"allow_any_origin_with_auth\": true (or list the origins)");
  if (c.any_origin && c.allow_credentials)
    return fail("allow_credentials", "cannot be true with \"*\" in allowed_origins (any site could send the "
                                     "browser's credentials); list the origins instead");
  bool given = false;
  if (Status st = strings("allowed_headers", kMaxHeaders, &c.allowed_headers, &given); !st) return st;
  for (const auto& h : c.allowed_headers)
    if (!is_token(h)) return fail("allowed_headers", "'" + h + "' is not a header name");
  if (Status st = strings("exposed_headers", kMaxHeaders, &c.exposed_headers, &given); !st) return st;
  for (const auto& h : c.exposed_headers)
    if (!is_token(h)) return fail("exposed_headers", "'" + h + "' is not a header name");
  if (const json::Value* v = json::get(section, "max_age_seconds"); v && !v->is<picojson::null>()) {
    double d;
    if (!json::number_value(*v, &d) || d < 0 || d > 86400 || d != double(int64_t(d)))
      return fail("max_age_seconds", "must be a whole number from 0 to 86400");
    c.max_age_seconds = int(d);
  }
  c.enabled = c.any_origin || !c.origins.empty();
  return c;
}

bool is_preflight(const httplib::Request& req) {
  return req.method == "OPTIONS" && req.has_header("Origin") && req.has_header("Access-Control-Request-Method");
}

static void vary_origin(httplib::Response& res) {
  auto it = res.headers.find("Vary");
  if (it == res.headers.end()) {
    res.set_header("Vary", "Origin");
  } else if (lower(it->second).find("origin") == std::string::npos) {
    it->second += ", Origin";
  }
}

static void allow_origin(const CorsConfig& cfg, const std::string& origin, httplib::Response& res) {
  // "*" is sent as "*" (no credentials possible); listed origins are echoed.
  res.set_header("Access-Control-Allow-Origin", cfg.any_origin ? std::string("*") : origin);
  if (cfg.allow_credentials) res.set_header("Access-Control-Allow-Credentials", "true");
}

void answer_preflight(const CorsConfig& cfg, const httplib::Request& req, httplib::Response& res) {
  res.status = 204;
  res.body.clear();
  vary_origin(res);
  const std::string origin = req.get_header_value("Origin");
  if (!cfg.allows(origin)) return;
  allow_origin(cfg, origin, res);
  res.set_header("Access-Control-Allow-Methods", kCorsMethods);
  res.set_header("Access-Control-Allow-Headers", join(cfg.allowed_headers));
  res.set_header("Access-Control-Max-Age", std::to_string(cfg.max_age_seconds));
}

void add_cors_headers(const CorsConfig& cfg, const httplib::Request& req, httplib::Response& res) {
  // Idempotent: cpp-httplib's set_header adds another line rather than replacing one.
  if (!cfg.enabled || res.has_header("Access-Control-Allow-Origin")) return;
  vary_origin(res);
  const std::string origin = req.get_header_value("Origin");
  if (!cfg.allows(origin)) return;
  allow_origin(cfg, origin, res);
  if (!cfg.exposed_headers.empty()) res.set_header("Access-Control-Expose-Headers", join(cfg.exposed_headers));
}

json::Value with_cors_flag(json::Value security, bool cors_enabled) {
  if (!security.is<json::Object>()) security = json::Value(json::Object());
  security.get<json::Object>()["cors"] = json::Value(cors_enabled);
  return security;
}

}  // namespace ef::http
