// auth/signer.h — signing JWS tokens (for `token mint`, demos and tests) and generating
// demo key pairs, with mbedTLS (CTR_DRBG seeded from the platform entropy source).
//
// RSA private keys sign RS256/384/512 (PKCS#1 v1.5) and PS256/384/512 (PSS, MGF1 with the
// same hash, salt length = hash length); EC P-256/384/521 keys sign ES256/384/512 with
// the raw r||s output JWS requires; an HMAC secret signs HS256/384/512.  The server never
// signs anything at runtime.  A Signer is not thread-safe (use one per thread).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "auth/key.h"
#include "util/json.h"
#include "util/status.h"

namespace ef::auth {

class Signer {
 public:
  // PEM private key (PKCS#1, SEC1 or PKCS#8, unencrypted).
  static Result<Signer> from_pem(std::string_view private_pem);
  static Signer from_secret(std::string secret);

  KeyType type() const { return type_; }
  // RS256 for RSA, ES256/ES384/ES512 by curve, HS256 for secrets.
  std::string default_alg() const;
  // Raw JWS signature bytes over signing_input.
  Result<std::string> sign(std::string_view alg, std::string_view signing_input) const;
  // Compact JWS: header (object; "alg" is set to `alg`) and payload (object) serialised
  // compactly, base64url-encoded, signed.
  Result<std::string> mint(std::string_view alg, const json::Value& header, const json::Value& payload) const;
  // The public key as PEM (empty for secrets).
  std::string public_pem() const;

 private:
  struct State;
  std::shared_ptr<State> st_;
  KeyType type_ = KeyType::rsa;
};

struct KeyPairPem {
  std::string private_pem;
  std::string public_pem;
};
// Demo keys: KeyType::ec_p256 (default), ec_p384, ec_p521 or rsa (2048 bits).
Result<KeyPairPem> generate_key_pem(KeyType type = KeyType::ec_p256);

}  // namespace ef::auth
