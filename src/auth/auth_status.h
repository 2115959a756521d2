// auth/auth_status.h — the one outcome code of bearer-token validation.
//
// Every reason a token can be refused maps to exactly one AuthStatus.  The code
// is for machines (metrics labels, log fields, tests); the validator pairs it
// with a human reason string for operators.  Only src/http/ turns a status into
// an HTTP answer (401 for everything here except internal_error).
#pragma once
#include <string>
#include <string_view>

namespace ef::auth {

enum class AuthStatus {
  ok = 0,
  missing_token,      // no Authorization header, or it is empty
  bad_scheme,         // header is not "Bearer <token>" (Basic, no token, extra parts)
  too_large,          // token longer than the size cap (kMaxTokenBytes)
  malformed,          // not three dot-separated parts, or an empty header/signature part
  bad_base64,         // a part is not strict base64url (padding, bad chars, unused bits)
  bad_json,           // header or payload is not a JSON object (incl. duplicate members, bad UTF-8)
  bad_header,         // header member of the wrong type (alg/kid/typ not strings, crit not an array)
  crit_unsupported,   // "crit" lists an extension we do not understand (incl. b64 / unencoded payload)
  unsupported_alg,    // alg unknown, "none", EdDSA or any algorithm we never accept
  missing_issuer,     // payload has no "iss" string
  unknown_issuer,     // "iss" is not one of the trusted issuers (or tid does not fit a {tenantid} template)
  alg_not_allowed,    // alg is a supported JWS alg but not in this issuer's allow-list
  no_key,             // no key for the token's kid (or no key at all) for this issuer
  alg_key_mismatch,   // alg does not fit the key type / curve / the key's own "alg" (key confusion)
  key_too_weak,       // RSA modulus < 2048 bits, or HMAC secret shorter than the hash
  bad_signature,      // signature does not verify (or has the wrong length)
  typ_not_allowed,    // header "typ" not in the issuer's token_types (or missing when types were set)
  bad_claim,          // a registered claim has the wrong type (exp not a number, aud not string/array...)
  missing_exp,        // no "exp" claim
  expired,            // now > exp + skew
  not_yet_valid,      // now < nbf - skew
  issued_in_future,   // iat > now + skew
  audience_mismatch,  // none of the token's audiences is a configured audience
  internal_error,     // crypto library failure or a bug; never the caller's fault
};

// Short stable snake_case name ("expired", "bad_signature" ...) for metrics and logs.
const char* auth_status_code(AuthStatus s);

// A token-supplied value (kid, alg, typ, iss, aud ...) made safe to quote in a reason:
// control characters become '?', and it is cut to `max` bytes with "..." appended.
std::string safe_text(std::string_view s, size_t max = 80);

}  // namespace ef::auth
