// http/cors.h — Cross-Origin Resource Sharing (https://fetch.spec.whatwg.org/#http-cors-protocol)
// so that browser apps on other origins (SMART apps, FHIR viewers) can call the API.
//
// Owns: the `cors` config section (parsed and validated at start-up; an unknown key or a bad
// value stops start-up naming the key), origin matching, the answer to a preflight and the
// headers added to every real response.  Off unless the section lists allowed_origins.
//
//   "cors": {"allowed_origins": ["https://app.example.org", "http://localhost:*"],
//            "allow_any_origin_with_auth": false, "allowed_headers": [...],
//            "exposed_headers": [...], "max_age_seconds": 600, "allow_credentials": false}
//
// Origins: "scheme://host[:port]" compared exactly (scheme and host case-insensitively, the
// scheme's default port implied), or "scheme://host:*" for any port of that host, or "*"
// for any origin ("*" only when auth.required is false or allow_any_origin_with_auth is
// true; never with allow_credentials).  The opaque origin "null" is never allowed.
//
// A CORS decision is never a security decision: it only tells the browser whether a page
// on that origin may read the answer.  The bearer token is what authorizes, so a preflight
// is answered before authentication (it never carries the token), and an allowed origin
// gets the CORS headers on every response, 401/403/404/5xx included, so the app can read
// the OperationOutcome.  Responses to a disallowed origin carry no CORS headers (the
// browser then hides them from the page); the request itself is served as usual.
#pragma once
#include <httplib.h>

#include <string>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::http {

struct CorsConfig {
  bool enabled = false;          // true when allowed_origins is non-empty
  bool any_origin = false;       // "*" listed
  struct Origin {
    std::string scheme, host;    // lower case
    int port = 0;                // -1 = any port ("host:*")
  };
  std::vector<Origin> origins;
  std::vector<std::string> allowed_headers;
  std::vector<std::string> exposed_headers;
  int max_age_seconds = 600;
  bool allow_credentials = false;

  // The Origin header's value is allowed.
  bool allows(const std::string& origin) const;
};

// Parses the `cors` section (null or missing: disabled).  auth_required is the effective
// auth.required.  Errors: "key 'cors.allowed_origins': ...".
Result<CorsConfig> parse_cors_config(const json::Value& section, bool auth_required);

// The methods a preflight lists (every method the API serves).
extern const char* const kCorsMethods;

// A preflight is an OPTIONS request with Origin and Access-Control-Request-Method.
bool is_preflight(const httplib::Request& req);
// Answers a preflight: 204 with the Access-Control-Allow-* headers for an allowed origin,
// 204 with no CORS headers otherwise (the browser then refuses the real request).
void answer_preflight(const CorsConfig& cfg, const httplib::Request& req, httplib::Response& res);
// Adds Access-Control-Allow-Origin (+ Expose-Headers, Allow-Credentials) and Vary: Origin to
// a real response when the request's origin is allowed; only Vary: Origin otherwise.
void add_cors_headers(const CorsConfig& cfg, const httplib::Request& req, httplib::Response& res);
// CapabilityStatement.rest.security with "cors" set (security may be null: a new object).
json::Value with_cors_flag(json::Value security, bool cors_enabled);

}  // namespace ef::http
