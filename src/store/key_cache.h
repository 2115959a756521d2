// store/key_cache.h — SQLite persistence of signing keys (implements auth::KeyPersistence) and per-issuer fetch state
// (tables auth_key and auth_issuer_state, migrations 2 and 4).
//
// Owns: the rows, not their meaning.  A key row is (issuer, kid, thumbprint) with the public
// JWK text, its source (discovered | pinned | imported), origin (for pins: "config" or
// "cli"), fetched_at (first time we stored it) and last_seen_at (last successful JWKS that
// listed it; for pins/imports the time they were stored).  Only public JWKs are stored,
// never symmetric secrets.  Which keys are trusted, and until when, is decided by
// auth/key_store.cpp; this file only reads and writes.  All times are ms since the epoch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "auth/key_persistence.h"
#include "store/db.h"
#include "util/status.h"

namespace ef::store {

using CachedKey = auth::CachedKey;
using IssuerState = auth::IssuerState;

class KeyCache : public auth::KeyPersistence {
 public:
  explicit KeyCache(Database& db) : db_(db) {}

  // All key rows (issuer = "" for every issuer), ordered by issuer, source, kid.
  Result<std::vector<CachedKey>> keys(const std::string& issuer = {}) override;
  Result<std::vector<IssuerState>> states() override;
  // The state row of one issuer; a default IssuerState (issuer set) when there is none.
  Result<IssuerState> state(const std::string& issuer);

  // A successful JWKS fetch of `issuer`: upserts `discovered` (fetched_at kept for rows
  // already present, last_seen_at = now), never touches pinned/imported rows, deletes
  // discovered rows of the issuer whose last_seen_at < prune_before, and records success.
  Status record_success(const std::string& issuer, const std::string& jwks_uri,
                        const std::vector<CachedKey>& discovered, int64_t now, int64_t prune_before,
                        int64_t next_refresh_at) override;
  // A failed attempt: keys untouched; the error text and times recorded.  jwks_uri is
  // only updated when non-empty.
  Status record_error(const std::string& issuer, const std::string& jwks_uri, const std::string& error, int64_t now,
                      int64_t next_refresh_at) override;

  // Inserts or replaces one pinned/imported row (same issuer, kid, thumbprint).
  Status put(const CachedKey& k) override;
  // Makes the issuer's pinned rows of `origin` exactly `pins` (config pins at start-up).
  Status sync_pins(const std::string& issuer, const std::string& origin, const std::vector<CachedKey>& pins) override;
  // Deletes pinned/imported rows of issuer whose kid or thumbprint equals the argument
  // ("" = the kid-less pins).  Returns the number of rows deleted.
  Result<int> remove_pinned(const std::string& issuer, const std::string& kid_or_thumbprint) override;
  // Deletes discovered rows of issuer whose last_seen_at < before (expired keys).
  Result<int> prune_discovered(const std::string& issuer, int64_t before);

 private:
  Database& db_;
};

}  // namespace ef::store
