// auth/claims.h — the claim checks of an access token (after the signature verified,
// except issuer matching, which picks the keys and therefore runs first).
//
// Owns: issuer matching (exact, or a "{tenantid}" template filled from the token's tid),
// typ matching (RFC 7515 §4.1.9 / RFC 9068: case-insensitive, "application/" optional),
// exp (required) / nbf / iat with clock skew, audience (string or array).  Time is passed
// in, never read.  Reasons are operator-readable and never echo the token.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/auth_status.h"
#include "auth/config.h"
#include "util/json.h"

namespace ef::auth {

// Finds the trusted issuer for the payload's iss.  nullptr + status/reason when none.
const IssuerConfig* match_issuer(const AuthConfig& cfg, const json::Value& claims, AuthStatus* status,
                                 std::string* reason);
// "at+jwt" == "application/at+jwt" == "AT+JWT".
bool typ_equal(std::string_view a, std::string_view b);
AuthStatus check_typ(const IssuerConfig& ic, bool has_typ, const std::string& typ, std::string* reason);
// exp required; nbf and iat optional.  `exp_out` receives exp when present.
AuthStatus check_times(const json::Value& claims, int64_t now, int64_t skew, std::string* reason,
                       int64_t* exp_out = nullptr);
AuthStatus check_audience(const json::Value& claims, const std::vector<std::string>& audiences, std::string* reason);

// "2026-11-28T10:00:00Z" and "3 minutes ago" / "in 55 minutes" relative to now.
std::string iso_time(int64_t seconds);
std::string relative_time(int64_t t, int64_t now);

}  // namespace ef::auth
