// auth/config.h — the "auth" section of the server configuration, parsed and checked.
//
// Shape (defaults shown):
//   {"required": true, "audiences": ["https://fhir.example.org"], "clock_skew_seconds": 60,
//    "roles_claim": "roles",
//    "issuers": [{"issuer": "https://login.example.org/{tenantid}/v2.0", "discovery": true,
//      "jwks_uri": null, "algorithms": ["RS256", ...], "pinned_keys": ["certs/idp.pem"],
//      "token_types": ["JWT", "at+jwt"], "hmac_secret_file": null, "refresh_seconds": 3600,
//      "refresh_cooldown_seconds": 30, "max_staleness_seconds": 604800,
//      "key_grace_seconds": 86400, "ca_file": null, "fetch_timeout_seconds": 10,
//      "max_jwks_bytes": 1048576}]}
// Errors name the key and the problem ("auth.issuers[0].algorithms: 'XY256' is not a
// supported algorithm").  Unknown members of an issuer are errors (typos must not silently
// weaken security); unknown top-level members are left for other modules (policy settings
// are read from AuthConfig::raw).  Relative file paths (pinned_keys, hmac_secret_file,
// ca_file) are resolved against `base_dir` when one is given, else left relative to the
// process working directory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/json.h"
#include "util/status.h"

namespace ef::auth {

struct IssuerConfig {
  std::string issuer;  // exact iss, may contain "{tenantid}" (matched against the token's tid)
  bool discovery = true;
  std::string jwks_uri;  // empty: from discovery
  std::vector<std::string> algorithms;  // default: every asymmetric JWS alg (RS*, PS*, ES*)
  std::vector<std::string> pinned_keys;
  std::vector<std::string> token_types{"JWT", "at+jwt"};
  bool token_types_explicit = false;  // set in config: then a missing typ is refused
  std::string hmac_secret_file;
  int64_t refresh_seconds = 3600;
  int64_t refresh_cooldown_seconds = 30;
  int64_t max_staleness_seconds = 604800;
  int64_t key_grace_seconds = 86400;
  std::string ca_file;
  int64_t fetch_timeout_seconds = 10;
  int64_t max_jwks_bytes = 1048576;

  bool has_tenant_template() const { return issuer.find("{tenantid}") != std::string::npos; }
};

struct AuthConfig {
  bool required = true;
  std::vector<std::string> audiences;
  int64_t clock_skew_seconds = 60;
  std::string roles_claim = "roles";
  std::vector<IssuerConfig> issuers;
  json::Value raw;  // the whole "auth" section as given (other modules read policy settings)
};

// `auth` is the value of the "auth" member (an object).
Result<AuthConfig> parse_auth_config(const json::Value& auth, const std::string& base_dir = {});
// Reads a JSON config file and parses its "auth" member (missing member = error).
Result<AuthConfig> load_auth_config_file(const std::string& path, const std::string& base_dir = {});

}  // namespace ef::auth
