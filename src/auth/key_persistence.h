// auth/key_persistence.h — what the key store needs from persistence, as an interface that
// store/ implements (store/key_cache.h, SQLite tables auth_key and auth_issuer_state), so
// auth/ never depends on the database.  Rows, not their meaning: which keys are trusted, and
// until when, is auth/key_store.cpp's decision.  All times are ms since the epoch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace ef::auth {

struct CachedKey {
  std::string issuer;
  std::string kid;         // '' for pins without a kid
  std::string thumbprint;  // RFC 7638
  std::string source;      // discovered | pinned | imported
  std::string origin;      // pinned: config | cli; otherwise ''
  std::string alg;
  std::string jwk;         // public JWK JSON (never a symmetric secret)
  int64_t fetched_at = 0;
  int64_t last_seen_at = 0;
};

struct IssuerState {
  std::string issuer;
  std::string jwks_uri;
  int64_t last_attempt_at = 0;  // 0 = never
  int64_t last_success_at = 0;
  std::string last_error;       // '' = last attempt succeeded
  int64_t last_error_at = 0;
  int64_t next_refresh_at = 0;
};

class KeyPersistence {
 public:
  virtual ~KeyPersistence() = default;
  // All key rows (issuer = "" for every issuer), ordered by issuer, source, kid.
  virtual Result<std::vector<CachedKey>> keys(const std::string& issuer = {}) = 0;
  virtual Result<std::vector<IssuerState>> states() = 0;
  // A successful JWKS fetch: upserts `discovered` rows, never touches pinned/imported ones,
  // deletes discovered rows whose last_seen_at < prune_before, records success.
  virtual Status record_success(const std::string& issuer, const std::string& jwks_uri,
                                const std::vector<CachedKey>& discovered, int64_t now, int64_t prune_before,
                                int64_t next_refresh_at) = 0;
  // A failed attempt: keys untouched; the error text and times recorded.
  virtual Status record_error(const std::string& issuer, const std::string& jwks_uri, const std::string& error,
                              int64_t now, int64_t next_refresh_at) = 0;
  // Inserts or replaces one pinned/imported row.
  virtual Status put(const CachedKey& k) = 0;
  // Makes the issuer's pinned rows of `origin` exactly `pins`.
  virtual Status sync_pins(const std::string& issuer, const std::string& origin, const std::vector<CachedKey>& pins) = 0;
  // Deletes pinned/imported rows whose kid or thumbprint equals the argument; the count.
  virtual Result<int> remove_pinned(const std::string& issuer, const std::string& kid_or_thumbprint) = 0;
};

}  // namespace ef::auth
