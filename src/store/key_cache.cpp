// store/key_cache.cpp — see key_cache.h.  Plain SQL over the writer connection for writes
// and the calling thread's reader for reads; nothing here is on the request hot path.
#include "store/key_cache.h"

namespace ef::store {

namespace {

const char* kKeyCols = "issuer, kid, thumbprint, source, origin, COALESCE(alg,''), jwk, fetched_at, last_seen_at";

CachedKey row_key(const Stmt& q) {
  CachedKey k;
  k.issuer = std::string(q.text(0));
  k.kid = std::string(q.text(1));
  k.thumbprint = std::string(q.text(2));
  k.source = std::string(q.text(3));
  k.origin = std::string(q.text(4));
  k.alg = std::string(q.text(5));
  k.jwk = std::string(q.text(6));
  k.fetched_at = q.int64(7);
  k.last_seen_at = q.int64(8);
  return k;
}

IssuerState row_state(const Stmt& q) {
  IssuerState s;
  s.issuer = std::string(q.text(0));
  s.jwks_uri = std::string(q.text(1));
  s.last_attempt_at = q.int64(2);
  s.last_success_at = q.int64(3);
  s.last_error = std::string(q.text(4));
  s.last_error_at = q.int64(5);
  s.next_refresh_at = q.int64(6);
  return s;
}

const char* kStateCols =
    "issuer, COALESCE(jwks_uri,''), COALESCE(last_attempt_at,0), COALESCE(last_success_at,0), "
    "COALESCE(last_error,''), COALESCE(last_error_at,0), COALESCE(next_refresh_at,0)";

Status insert_or_replace(Conn& c, const CachedKey& k) {
  Stmt& q = c.prepare(
      "INSERT OR REPLACE INTO auth_key(issuer, kid, thumbprint, source, origin, alg, jwk, fetched_at, last_seen_at) "
      "VALUES(?,?,?,?,?,?,?,?,?)");
  q.bind(1, k.issuer).bind(2, k.kid).bind(3, k.thumbprint).bind(4, k.source).bind(5, k.origin);
  if (k.alg.empty()) q.bind_null(6);
  else q.bind(6, k.alg);
  q.bind(7, k.jwk).bind(8, k.fetched_at).bind(9, k.last_seen_at);
  Status st = q.run();
  q.reset();
  return st;
}

}  // namespace

Result<std::vector<CachedKey>> KeyCache::keys(const std::string& issuer) {
  std::vector<CachedKey> out;
  Status st = db_.read([&](Conn& c) {
    std::string sql = std::string("SELECT ") + kKeyCols + " FROM auth_key" + (issuer.empty() ? "" : " WHERE issuer = ?") +
                      " ORDER BY issuer, source, kid, thumbprint";
    Stmt& q = c.prepare(sql);
    if (!issuer.empty()) q.bind(1, issuer);
    while (q.step()) out.push_back(row_key(q));
    Status s = q.status();
    q.reset();
    return s;
  });
  if (!st) return st;
  return out;
}

Result<std::vector<IssuerState>> KeyCache::states() {
  std::vector<IssuerState> out;
  Status st = db_.read([&](Conn& c) {
    Stmt& q = c.prepare(std::string("SELECT ") + kStateCols + " FROM auth_issuer_state ORDER BY issuer");
    while (q.step()) out.push_back(row_state(q));
    Status s = q.status();
    q.reset();
    return s;
  });
  if (!st) return st;
  return out;
}

Result<IssuerState> KeyCache::state(const std::string& issuer) {
  IssuerState out;
  out.issuer = issuer;
  Status st = db_.read([&](Conn& c) {
    Stmt& q = c.prepare(std::string("SELECT ") + kStateCols + " FROM auth_issuer_state WHERE issuer = ?");
    q.bind(1, issuer);
    if (q.step()) out = row_state(q);
    Status s = q.status();
    q.reset();
    return s;
  });
  if (!st) return st;
  return out;
}

Status KeyCache::record_success(const std::string& issuer, const std::string& jwks_uri,
                                const std::vector<CachedKey>& discovered, int64_t now, int64_t prune_before,
                                int64_t next_refresh_at) {
  return db_.write([&](Conn& c) -> Status {
    for (const CachedKey& k : discovered) {
      // A pinned/imported row with the same identity stays as it is (pins are never replaced).
      Stmt& q = c.prepare(
          "INSERT INTO auth_key(issuer, kid, thumbprint, source, origin, alg, jwk, fetched_at, last_seen_at) "
          "VALUES(?,?,?,'discovered','',?,?,?,?) "
          "ON CONFLICT(issuer, kid, thumbprint) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
          "alg = excluded.alg, jwk = excluded.jwk WHERE auth_key.source = 'discovered'");
      q.bind(1, issuer).bind(2, k.kid).bind(3, k.thumbprint);
      if (k.alg.empty()) q.bind_null(4);
      else q.bind(4, k.alg);
      q.bind(5, k.jwk).bind(6, now).bind(7, now);
      Status st = q.run();
      q.reset();
      if (!st) return st;
    }
    {
      Stmt& q = c.prepare("DELETE FROM auth_key WHERE issuer = ? AND source = 'discovered' AND last_seen_at < ?");
      q.bind(1, issuer).bind(2, prune_before);
      Status st = q.run();
      q.reset();
      if (!st) return st;
    }
    Stmt& q = c.prepare(
        "INSERT INTO auth_issuer_state(issuer, jwks_uri, last_attempt_at, last_success_at, last_error, last_error_at, "
        "next_refresh_at) VALUES(?,?,?,?,NULL,NULL,?) "
        "ON CONFLICT(issuer) DO UPDATE SET jwks_uri = excluded.jwks_uri, last_attempt_at = excluded.last_attempt_at, "
        "last_success_at = excluded.last_success_at, last_error = NULL, "
        "next_refresh_at = excluded.next_refresh_at");
    q.bind(1, issuer).bind(2, jwks_uri).bind(3, now).bind(4, now).bind(5, next_refresh_at);
    Status st = q.run();
    q.reset();
    return st;
  });
}

Status KeyCache::record_error(const std::string& issuer, const std::string& jwks_uri, const std::string& error,
                              int64_t now, int64_t next_refresh_at) {
  return db_.write([&](Conn& c) -> Status {
    Stmt& q = c.prepare(
        "INSERT INTO auth_issuer_state(issuer, jwks_uri, last_attempt_at, last_success_at, last_error, last_error_at, "
        "next_refresh_at) VALUES(?,?,?,NULL,?,?,?) "
        "ON CONFLICT(issuer) DO UPDATE SET jwks_uri = COALESCE(excluded.jwks_uri, auth_issuer_state.jwks_uri), "
        "last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error, "
        "last_error_at = excluded.last_error_at, next_refresh_at = excluded.next_refresh_at");
    q.bind(1, issuer);
    if (jwks_uri.empty()) q.bind_null(2);
    else q.bind(2, jwks_uri);
    q.bind(3, now).bind(4, error).bind(5, now).bind(6, next_refresh_at);
    Status st = q.run();
    q.reset();
    return st;
  });
}

Status KeyCache::put(const CachedKey& k) {
  return db_.write([&](Conn& c) { return insert_or_replace(c, k); });
}

Status KeyCache::sync_pins(const std::string& issuer, const std::string& origin, const std::vector<CachedKey>& pins) {
  return db_.write([&](Conn& c) -> Status {
    // Keep fetched_at of pins that were already there (so `keys list` shows their real age).
    std::vector<CachedKey> rows = pins;
    for (CachedKey& k : rows) {
      Stmt& q = c.prepare(
          "SELECT fetched_at FROM auth_key WHERE issuer = ? AND kid = ? AND thumbprint = ? AND source = 'pinned' "
          "AND origin = ?");
      q.bind(1, issuer).bind(2, k.kid).bind(3, k.thumbprint).bind(4, origin);
      if (q.step()) k.fetched_at = q.int64(0);
      q.reset();
    }
    Stmt& d = c.prepare("DELETE FROM auth_key WHERE issuer = ? AND source = 'pinned' AND origin = ?");
    d.bind(1, issuer).bind(2, origin);
    Status st = d.run();
    d.reset();
    if (!st) return st;
    for (CachedKey k : rows) {
      k.issuer = issuer;
      k.source = "pinned";
      k.origin = origin;
      st = insert_or_replace(c, k);
      if (!st) return st;
    }
    return Status();
  });
}

Result<int> KeyCache::remove_pinned(const std::string& issuer, const std::string& kid_or_thumbprint) {
  int n = 0;
  Status st = db_.write([&](Conn& c) -> Status {
    Stmt& q = c.prepare(
        "DELETE FROM auth_key WHERE issuer = ? AND source IN ('pinned','imported') AND (kid = ? OR thumbprint = ?)");
    q.bind(1, issuer).bind(2, kid_or_thumbprint).bind(3, kid_or_thumbprint);
    Status s = q.run();
    q.reset();
    n = c.changes();
    return s;
  });
  if (!st) return st;
  return n;
}

Result<int> KeyCache::prune_discovered(const std::string& issuer, int64_t before) {
  int n = 0;
  Status st = db_.write([&](Conn& c) -> Status {
    Stmt& q = c.prepare("DELETE FROM auth_key WHERE issuer = ? AND source = 'discovered' AND last_seen_at < ?");
    q.bind(1, issuer).bind(2, before);
    Status s = q.run();
    q.reset();
    n = c.changes();
    return s;
  });
  if (!st) return st;
  return n;
}

}  // namespace ef::store
