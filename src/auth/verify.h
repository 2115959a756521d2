// auth/verify.h — JWS signature verification with a Key (mbedTLS).
//
// Owns: the table of JWS algorithms we accept (RS*, PS*, ES*, HS*; never "none", never
// EdDSA), the rule that the *key* decides the algorithm family (RS/PS only with RSA
// keys, ES256 only with a P-256 key, ES384 with P-384, ES512 with P-521, HS* only with
// HMAC secrets), the key's own "alg" restriction, minimum strengths (RSA >= 2048 bits,
// HMAC secret >= hash length, RFC 7518 §3.2), and the primitives: RSASSA-PKCS1-v1_5,
// RSASSA-PSS with MGF1(same hash) and salt length = hash length (RFC 7518 §3.5),
// ECDSA with the raw r||s signature of exact length (64/96/132 bytes), HMAC with a
// constant-time comparison of the full-length tag.
// Thread safety: all functions are safe to call concurrently on shared Keys.  ECDSA
// builds a fresh EC group per call (mbedTLS groups are not thread-safe on first use);
// RSA public operations are serialised by mbedTLS's own per-context mutex.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_status.h"
#include "auth/jwt.h"
#include "auth/key.h"

namespace ef::auth {

// True for the JWS algorithms this server can verify.
bool is_supported_alg(std::string_view alg);
std::vector<std::string> supported_algorithms();
// Why `alg` is unsupported, for reasons ("'none' (unsigned token) is never accepted").
std::string unsupported_alg_reason(std::string_view alg);

// ok when `alg` may be used with `key` (type/curve, key.alg); else alg_key_mismatch,
// unsupported_alg or key_too_weak with a reason.
AuthStatus check_alg_fits_key(const Key& key, std::string_view alg, std::string* reason);

// Verifies `signature` over `signing_input` with `key` under `alg`.  Includes
// check_alg_fits_key.  Returns ok, bad_signature, or the fit/strength status.
AuthStatus verify_signature(const Key& key, std::string_view alg, std::string_view signing_input,
                            std::string_view signature, std::string* reason);
inline AuthStatus verify_jws(const Jws& jws, const Key& key, std::string* reason) {
  return verify_signature(key, jws.alg, jws.signing_input, jws.signature, reason);
}

// Constant-time equality of two byte strings (length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace ef::auth
