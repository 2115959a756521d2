// auth/key_store.h — the server's KeyProvider: every configured issuer's verification keys
// (pinned, imported, discovered, HMAC secrets), persisted in SQLite through
// store/key_cache.h, served from an immutable in-memory snapshot.
//
// Owns the trust rules:
//  * Pinned keys (config "pinned_keys", source pinned, origin config — re-synchronised
//    from the config at every start; `keys pin`, origin cli) and imported keys (`keys
//    import`) never expire and are never replaced by a fetch.  A discovered key whose kid
//    equals a pinned/imported key's kid is ignored (the pin wins).  A pin without a kid
//    (PEM, certificate) matches every kid of its issuer.
//  * A discovered key is trusted until last_seen_at + max_staleness_seconds (0 = forever),
//    where last_seen_at is the last successful JWKS that listed it: an unreachable
//    provider does not stop the server for a week by default.  A key that a later
//    successful JWKS no longer lists is trusted until last_seen_at + key_grace_seconds
//    (and never beyond the staleness bound), then deleted.
//  * HMAC secrets (hmac_secret_file) are kept in memory only, never persisted.
//  * Keys are kept for configured issuers only; rows of other issuers stay in the
//    database (shown by `keys list`) but verify nothing.
// Start-up (load()) reads files and the database only — never the network; fetching is
// auth/refresher.h's job, which reports results through apply_fetch_*().
// Thread-safety: find() copies one shared_ptr to the current snapshot (atomic load) and
// scans a small vector: no lock held while verifying, no database access.  Mutations are
// serialised by a mutex and publish a new snapshot; generation() changes whenever the set
// of trusted keys changes (including time-based expiry, noticed by tick()).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/config.h"
#include "auth/jwks.h"
#include "auth/key.h"
#include "auth/key_persistence.h"
#include "util/clock.h"
#include "util/status.h"

namespace ef::auth {

// Per-issuer state for `keys list`, /health and /metrics.
struct IssuerKeyStatus {
  std::string issuer;
  bool discovery = true;       // false: offline issuer, never fetched
  std::string jwks_uri;        // configured or last discovered
  size_t key_count = 0;        // keys trusted now (all sources, HMAC included)
  size_t pinned_count = 0;     // pinned + imported + HMAC among them
  size_t expired_count = 0;    // discovered keys held but no longer trusted (stale/removed)
  int64_t last_attempt_ms = 0;  // 0 = never
  int64_t last_success_ms = 0;
  std::string last_error;      // "" when the last attempt succeeded
  int64_t last_error_ms = 0;
  int64_t next_refresh_ms = 0;
  // True for a discovery issuer whose most recent fetch failed or that never fetched
  // successfully: it is running on cached (or no) keys.
  bool stale = false;
  // Counters since this process started.
  uint64_t fetches = 0;         // JWKS fetch attempts
  uint64_t fetch_errors = 0;
  uint64_t unknown_kid = 0;     // tokens naming a kid we do not have
  uint64_t unknown_kid_refreshes = 0;  // of those, how many started a refresh
  uint64_t rate_limited = 0;    // of those, refused by the cooldown
};

// One key as `keys list` / `keys export` show it.
struct KeyInfo {
  KeyPtr key;
  std::string origin;      // pinned: config | cli
  int64_t fetched_at_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t expires_at_ms = 0;  // INT64_MAX = never
  bool trusted = false;       // not expired and not shadowed by a pin
};

class KeyStore : public KeyProvider {
 public:
  // cfg, db and clock must outlive the store.  db may be null (memory only: tests).
  KeyStore(const AuthConfig& cfg, KeyPersistence* db, const Clock& clock = SystemClock::instance());
  ~KeyStore() override;

  // Loads config pins and HMAC secrets (files), persists the pins, then loads every cached
  // key of the configured issuers.  No network.  Fails on an unreadable/invalid pin or
  // secret file (a configuration error); database errors are logged, not fatal.
  Status load();

  // ---- KeyProvider ----
  std::vector<KeyPtr> find(const std::string& issuer, const std::string& kid) const override;
  // Forwards to the refresher (set_unknown_kid_handler); counts the event.
  void unknown_kid(const std::string& issuer, const std::string& kid) const override;
  uint64_t generation() const override { return generation_.load(std::memory_order_acquire); }

  // ---- for auth/refresher.cpp ----
  using UnknownKidHandler = std::function<void(const std::string& issuer, const std::string& kid)>;
  void set_unknown_kid_handler(UnknownKidHandler h);
  const IssuerConfig* issuer_config(const std::string& issuer) const;
  const AuthConfig& config() const { return cfg_; }
  const Clock& clock() const { return clock_; }
  // A successful fetch: the keys the JWKS listed (symmetric ones must already be refused).
  void apply_fetch_success(const std::string& issuer, const std::string& jwks_uri, const std::vector<Key>& keys,
                           int64_t now_ms, int64_t next_refresh_ms);
  void apply_fetch_error(const std::string& issuer, const std::string& jwks_uri, const std::string& error,
                         int64_t now_ms, int64_t next_refresh_ms);
  // The jwks_uri last discovered for issuer ("" when never).
  std::string cached_jwks_uri(const std::string& issuer) const;
  int64_t next_refresh_ms(const std::string& issuer) const;
  bool has_discovered_keys(const std::string& issuer) const;
  // Re-evaluates expiry at now; publishes a new snapshot (and bumps generation) when the
  // trusted set changed.  Called periodically by the refresher.
  void tick();
  // Picks up pinned/imported keys added or removed by another process (`edgefhir keys
  // pin/unpin/import` while the server runs).  Called by the refresher's housekeeping
  // thread; a no-op when the database could not be used at load().
  void sync_pins_from_db();
  void count_unknown_kid_refresh(const std::string& issuer, bool started);

  // ---- CLI / persistence of pins and imports ----
  // source must be pinned (origin "cli") or imported; keys without an issuer get `issuer`.
  Status add_keys(const std::string& issuer, const std::vector<Key>& keys, KeySource source);
  // Removes pinned/imported keys of issuer whose kid or thumbprint is `kid` ("" = the
  // kid-less pins; a config pin comes back at the next start unless removed from the
  // config).  Returns how many.
  Result<int> remove_keys(const std::string& issuer, const std::string& kid);

  // ---- status ----
  std::vector<IssuerKeyStatus> status() const;
  std::vector<KeyInfo> keys(const std::string& issuer = {}) const;  // every held key (trusted or not)

 private:
  struct Held;
  struct IssuerData;
  struct Snapshot;
  void publish_locked(int64_t now);
  IssuerData* data(const std::string& issuer) const;
  int64_t expires_at(const IssuerData& d, const Held& h) const;

  const AuthConfig& cfg_;
  KeyPersistence* db_;  // null: keys live in memory only
  const Clock& clock_;
  mutable std::mutex mu_;  // guards the IssuerData contents (not the map, fixed at construction)
  std::map<std::string, std::unique_ptr<IssuerData>> issuers_;
  std::shared_ptr<const Snapshot> snap_;  // atomic_load / atomic_store only
  std::string snap_signature_;
  std::atomic<uint64_t> generation_{1};
  bool db_ok_ = false;  // load() read the database successfully
  std::shared_ptr<const UnknownKidHandler> handler_;  // atomic_load / atomic_store only
};

// "RSA 2048" / "EC P-256" / "HMAC 256" for listings.
std::string describe_key(const Key& k);

}  // namespace ef::auth
