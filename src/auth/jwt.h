// auth/jwt.h — parsing of compact JWS / JWT text, no cryptography.
//
// Owns: the size cap, the three-part split, strict base64url decoding of every part,
// the header as a JSON object (duplicate members rejected by util/json.h), the JWT
// payload as a JSON object, and the "crit" rule (we understand no extension, so any
// name listed in crit — including RFC 7797 "b64" — rejects the token).  Header members
// "jku", "x5u", "jwk" and "x5c" are never fetched or trusted: keys come only from the
// KeyProvider.  "kid" is an opaque string.  The signing input (the first two parts as
// received) and the raw signature bytes are kept for auth/verify.cpp.
#pragma once
#include <string>
#include <string_view>

#include "auth/auth_status.h"
#include "util/json.h"

namespace ef::auth {

constexpr size_t kMaxTokenBytes = 16 * 1024;

struct Jws {
  json::Value header;         // always an object after a successful parse
  std::string alg;            // header "alg" (required)
  std::string kid;            // header "kid" or empty
  std::string typ;            // header "typ" or empty
  bool has_typ = false;
  std::string payload;        // decoded payload bytes
  std::string signing_input;  // "<b64 header>.<b64 payload>" exactly as received
  std::string signature;      // decoded signature bytes
};

struct Jwt : Jws {
  json::Value claims;  // payload parsed as a JSON object
};

// Compact JWS with an arbitrary payload.  On failure returns the status and sets *reason
// to an operator-readable sentence that never contains the token itself.
AuthStatus parse_jws(std::string_view token, Jws* out, std::string* reason);
// Compact JWS whose payload must be a JSON object (a JWT).
AuthStatus parse_jwt(std::string_view token, Jwt* out, std::string* reason);

}  // namespace ef::auth
