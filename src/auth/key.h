// auth/key.h — a verification key as the rest of the server sees it (CONTRACT between
// auth/jwks.cpp, which builds keys, auth/verify.cpp, which uses them, and
// auth/key_store.cpp, which caches and persists them).
//
// A Key is immutable once built and shared as std::shared_ptr<const Key> across threads.
// The key *type* (RSA, EC curve, HMAC) decides which JWS algorithms it can verify;
// a token header never does.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ef::auth {

enum class KeyType { rsa, ec_p256, ec_p384, ec_p521, hmac };

enum class KeySource { pinned, discovered, imported, config_secret };

struct Key {
  std::string issuer;        // issuer this key belongs to (set by the store)
  std::string kid;           // empty for PEM/cert pins: matches any kid of its issuer
  std::string alg;           // JWK "alg" if given (restricts use), else empty
  KeyType type = KeyType::rsa;
  int bits = 0;              // RSA modulus bits / EC field bits / HMAC key bits
  KeySource source = KeySource::discovered;
  std::string thumbprint;    // RFC 7638 JWK thumbprint, base64url SHA-256 (empty for HMAC)
  std::string jwk_json;      // canonical public JWK JSON (what is persisted); empty for HMAC
  std::string secret;        // HMAC only; never logged, never persisted in the key cache
  // mbedTLS public key (mbedtls_pk_context*), owned; opaque here so headers stay light.
  std::shared_ptr<void> pk;
};

using KeyPtr = std::shared_ptr<const Key>;

// Which JWS algorithms a key type can verify ("RS256", "PS384", "ES256", "HS512" ...).
std::vector<std::string> algorithms_for(KeyType t);
const char* key_type_name(KeyType t);   // "RSA", "EC P-256", ...
const char* key_source_name(KeySource s);  // "pinned", "discovered", ...

// Where the validator gets keys.  Implemented by auth::KeyStore (and by simple in-memory
// providers in tests).  Must be thread-safe.
class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // Keys of `issuer` that may verify a token whose header has `kid` (empty kid = token had none).
  // Pins without a kid match every kid.  Never blocks on the network.
  virtual std::vector<KeyPtr> find(const std::string& issuer, const std::string& kid) const = 0;
  // Called when no key matched `kid`: may schedule a single-flight, rate-limited refresh.
  virtual void unknown_kid(const std::string& issuer, const std::string& kid) const {}
  // Incremented whenever the key set changes, so the verified-token cache can drop entries.
  virtual uint64_t generation() const { return 0; }
};

}  // namespace ef::auth
