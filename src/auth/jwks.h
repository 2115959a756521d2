// auth/jwks.h — building verification Keys (auth/key.h) from their published forms.
//
// Owns: JWK (RSA n/e, EC crv/x/y with an on-curve check, "oct" only when the caller
// explicitly allows local secrets), JWK Sets (a bad key is skipped and reported, the
// rest load), PEM public keys, X.509 certificates (PEM or DER; only the public key is
// used — no chain, name or date validation: a pinned certificate is a key container),
// JWK "x5c" (the first certificate's key must equal n/e or x/y, else the key is refused),
// RFC 7638 thumbprints, and the minimum strength rule (RSA >= 2048 bits).
// Every asymmetric Key gets jwk_json (canonical public JWK) and pk (an owned
// mbedtls_pk_context).  Errors never contain key material.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "auth/key.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::auth {

constexpr int kMinRsaBits = 2048;

struct JwkOptions {
  bool allow_symmetric = false;  // accept kty "oct" (only for local secrets, never a remote JWKS)
};

struct KeySet {
  std::vector<Key> keys;
  std::vector<std::string> skipped;  // one message per refused key ("keys[1] (kid 'x'): ...")
};

Result<Key> key_from_jwk(const json::Value& jwk, const JwkOptions& opt = {});
Result<Key> key_from_jwk_text(std::string_view text, const JwkOptions& opt = {});
// A JWK Set document {"keys":[...]}.  Fails only when the document itself is unusable.
Result<KeySet> parse_jwks(std::string_view text, const JwkOptions& opt = {});
// "-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----" or "-----BEGIN CERTIFICATE-----".
Result<Key> key_from_pem(std::string_view pem);
// DER X.509 certificate or DER SubjectPublicKeyInfo.
Result<Key> key_from_der(std::string_view der);
// Reads a file and detects PEM public key / PEM certificate / DER / JWK / JWKS.
Result<KeySet> load_key_file(const std::string& path, const JwkOptions& opt = {});
// An HMAC key from raw secret bytes (source config_secret).
Key make_hmac_key(std::string secret, std::string kid = {});

// RFC 7638 thumbprint (base64url SHA-256) of an asymmetric key's required JWK members.
std::string jwk_thumbprint(const json::Value& public_jwk);
// Builds a Key from an owned mbedtls_pk_context* (as shared_ptr<void>; see new_pk()).
Result<Key> key_from_pk(std::shared_ptr<void> pk);
// A fresh, initialised mbedtls_pk_context owned by the returned pointer.
std::shared_ptr<void> new_pk();

}  // namespace ef::auth
