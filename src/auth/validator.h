// auth/validator.h — bearer access-token validation: the whole pipeline from the
// Authorization header value to a Principal.
//
// Fixed check order, stopping at the first failure:
//   present → parse → issuer trusted → alg allowed → key lookup → signature → typ →
//   exp/nbf/iat → audience.
// Keys come only from the KeyProvider (never from the token); an unknown kid calls
// provider.unknown_kid() so the store may refresh.  Every outcome carries one AuthStatus,
// an operator-readable reason (never the token or key material) and, for
// `token inspect`, one CheckLine per check that ran.
// Verified-token cache: keyed by SHA-256 of the token, bounded, an entry lives until the
// token's exp (exp/nbf/iat are re-checked against now on every hit), and the whole cache
// is dropped when provider.generation() changes.  Thread-safe; a hit costs one SHA-256
// and a shared lock.
#pragma once
#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/auth_status.h"
#include "auth/config.h"
#include "auth/key.h"
#include "auth/principal.h"
#include "util/clock.h"

namespace ef::auth {

struct CheckLine {
  std::string name;    // "token present", "parse", "issuer", "algorithm", "key", "signature", "typ", "lifetime", "audience"
  bool passed = false;
  std::string detail;  // what was checked / why it failed
};

struct AuthOutcome {
  AuthStatus status = AuthStatus::internal_error;
  std::string reason;      // empty when ok
  PrincipalPtr principal;  // set when ok
  std::vector<CheckLine> checks;
  bool from_cache = false;
  bool ok() const { return status == AuthStatus::ok; }
};

class Validator {
 public:
  // cfg, keys and clock must outlive the validator.
  Validator(const AuthConfig& cfg, const KeyProvider& keys, const Clock& clock, size_t cache_capacity = 10000);

  // Value of the Authorization header (empty when absent).
  AuthOutcome validate_header(std::string_view authorization_header_value) const;
  AuthOutcome validate_token(std::string_view jwt) const;

  // Test/metrics hooks.
  uint64_t signature_verifications() const { return verifications_.load(); }
  size_t cache_size() const;

 private:
  struct Entry {
    PrincipalPtr principal;
    int64_t exp = 0;
    int64_t verified_at = 0;  // seconds; nbf/iat held then, so they hold at any later time
    uint64_t generation = 0;  // provider generation the signature was verified under
  };
  AuthOutcome validate_uncached(std::string_view jwt) const;
  void remember(const std::string& digest, const PrincipalPtr& p, uint64_t generation) const;

  const AuthConfig& cfg_;
  const KeyProvider& keys_;
  const Clock& clock_;
  size_t capacity_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, Entry> cache_;
  mutable std::atomic<uint64_t> cache_generation_{0};
  mutable std::atomic<uint64_t> verifications_{0};
};

}  // namespace ef::auth
