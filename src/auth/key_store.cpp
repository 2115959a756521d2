// auth/key_store.cpp — see key_store.h.  The mutable model (IssuerData: held keys with
// their times, fetch state, counters) is guarded by mu_; every change publishes a fresh
// immutable Snapshot that find() reads without locking.
#include "auth/key_store.h"

#include <algorithm>
#include <climits>
#include <set>

#include "auth/static_keys.h"
#include "util/log.h"

namespace ef::auth {

namespace {
constexpr int64_t kNever = INT64_MAX;

bool is_pin(KeySource s) { return s != KeySource::discovered; }

KeySource source_from(const std::string& s) {
  if (s == "pinned") return KeySource::pinned;
  if (s == "imported") return KeySource::imported;
  return KeySource::discovered;
}
}  // namespace

struct KeyStore::Held {
  KeyPtr key;
  std::string origin;
  int64_t fetched_at = 0;
  int64_t last_seen_at = 0;
};

struct KeyStore::IssuerData {
  const IssuerConfig* cfg = nullptr;
  std::vector<Held> keys;
  IssuerState state;
  std::atomic<uint64_t> fetches{0}, fetch_errors{0}, unknown_kid{0}, unknown_kid_refreshes{0}, rate_limited{0};
};

struct KeyStore::Snapshot {
  struct Entry {
    KeyPtr key;
    int64_t expires_at = kNever;
    bool any_kid = false;
  };
  std::map<std::string, std::vector<Entry>> by_issuer;  // pins first
};

std::string describe_key(const Key& k) {
  switch (k.type) {
    case KeyType::rsa: return "RSA " + std::to_string(k.bits);
    case KeyType::hmac: return "HMAC " + std::to_string(k.bits);
    default: return key_type_name(k.type);
  }
}

KeyStore::KeyStore(const AuthConfig& cfg, KeyPersistence* db, const Clock& clock)
    : cfg_(cfg), db_(db), clock_(clock) {
  for (const IssuerConfig& ic : cfg_.issuers) {
    auto d = std::make_unique<IssuerData>();
    d->cfg = &ic;
    d->state.issuer = ic.issuer;
    d->state.jwks_uri = ic.jwks_uri;
    issuers_[ic.issuer] = std::move(d);
  }
  std::atomic_store(&snap_, std::shared_ptr<const Snapshot>(std::make_shared<Snapshot>()));
}

KeyStore::~KeyStore() = default;

KeyStore::IssuerData* KeyStore::data(const std::string& issuer) const {
  auto it = issuers_.find(issuer);
  return it == issuers_.end() ? nullptr : it->second.get();
}

const IssuerConfig* KeyStore::issuer_config(const std::string& issuer) const {
  IssuerData* d = data(issuer);
  return d ? d->cfg : nullptr;
}

static KeyPtr finish(Key k, const std::string& issuer, KeySource source) {
  k.issuer = issuer;
  k.source = source;
  return std::make_shared<const Key>(std::move(k));
}

Status KeyStore::load() {
  int64_t now = clock_.now_ms();
  std::map<std::string, std::vector<Held>> config_pins;
  std::map<std::string, std::vector<Held>> secrets;
  for (const IssuerConfig& ic : cfg_.issuers) {
    auto& pins = config_pins[ic.issuer];
    for (const std::string& path : ic.pinned_keys) {
      auto ks = load_key_file(path);
      if (!ks.ok()) return Status(Err::invalid, "issuer '" + ic.issuer + "': pinned key: " + ks.status().message);
      for (const std::string& s : ks->skipped)
        log::warn("auth.pin_key_skipped", {{"issuer", ic.issuer}, {"file", path}, {"reason", s}});
      for (Key& k : ks->keys) pins.push_back(Held{finish(std::move(k), ic.issuer, KeySource::pinned), "config", now, now});
    }
    if (!ic.hmac_secret_file.empty()) {
      auto s = read_secret_file(ic.hmac_secret_file);
      if (!s.ok()) return Status(Err::invalid, "issuer '" + ic.issuer + "': hmac_secret_file: " + s.status().message);
      secrets[ic.issuer].push_back(Held{finish(make_hmac_key(std::move(*s)), ic.issuer, KeySource::config_secret), "config", now, now});
    }
  }

  bool from_db = false;
  std::vector<CachedKey> rows;
  std::vector<IssuerState> states;
  if (db_) {
    KeyPersistence& cache = *db_;
    bool synced = true;
    for (auto& [issuer, pins] : config_pins) {
      std::vector<CachedKey> pr;
      for (const Held& h : pins)
        pr.push_back(CachedKey{issuer, h.key->kid, h.key->thumbprint, "pinned", "config", h.key->alg,
                                      h.key->jwk_json, now, now});
      Status st = cache.sync_pins(issuer, "config", pr);
      if (!st) {
        log::error("auth.key_cache_error", {{"issuer", issuer}, {"operation", "persist pins"}, {"error", st.message}});
        synced = false;
      }
    }
    auto r = cache.keys();
    auto s = cache.states();
    if (r.ok() && s.ok() && synced) {
      rows = std::move(*r);
      states = std::move(*s);
      from_db = true;
    } else {
      log::error("auth.key_cache_error", {{"operation", "load"},
                                          {"error", !r.ok() ? r.status().message : !s.ok() ? s.status().message : "pins not persisted"}});
    }
  }

  std::lock_guard<std::mutex> lk(mu_);
  db_ok_ = from_db;
  for (auto& [issuer, d] : issuers_) d->keys.clear();
  if (from_db) {
    for (const CachedKey& row : rows) {
      IssuerData* d = data(row.issuer);
      if (!d) continue;  // an issuer no longer configured: kept in the database, trusted for nothing
      auto k = key_from_jwk_text(row.jwk);
      if (!k.ok()) {
        log::warn("auth.cached_key_unusable", {{"issuer", row.issuer}, {"kid", row.kid}, {"reason", k.status().message}});
        continue;
      }
      k->kid = row.kid;
      k->alg = row.alg;
      d->keys.push_back(Held{finish(std::move(*k), row.issuer, source_from(row.source)), row.origin, row.fetched_at,
                             row.last_seen_at});
    }
    for (const IssuerState& s : states) {
      IssuerData* d = data(s.issuer);
      if (!d) continue;
      d->state = s;
      if (!d->cfg->jwks_uri.empty()) d->state.jwks_uri = d->cfg->jwks_uri;
    }
  } else {
    for (auto& [issuer, pins] : config_pins)
      for (Held& h : pins) data(issuer)->keys.push_back(std::move(h));
  }
  for (auto& [issuer, hs] : secrets)
    for (Held& h : hs) data(issuer)->keys.push_back(std::move(h));
  publish_locked(now);
  for (const auto& [issuer, d] : issuers_) {
    size_t n = 0;
    for (const Held& h : d->keys) n += expires_at(*d, h) > now;
    log::info("auth.keys_loaded", {{"issuer", issuer}, {"trusted", n}, {"held", d->keys.size()}});
  }
  return Status();
}

int64_t KeyStore::expires_at(const IssuerData& d, const Held& h) const {
  if (is_pin(h.key->source)) return kNever;
  int64_t staleness = d.cfg->max_staleness_seconds;
  bool removed = d.state.last_success_at > h.last_seen_at;
  if (removed) {
    int64_t limit = d.cfg->key_grace_seconds;
    if (staleness > 0) limit = std::min(limit, staleness);
    return h.last_seen_at + limit * 1000;
  }
  if (staleness <= 0) return kNever;
  return h.last_seen_at + staleness * 1000;
}

void KeyStore::publish_locked(int64_t now) {
  auto snap = std::make_shared<Snapshot>();
  std::string sig;
  for (const auto& [issuer, d] : issuers_) {
    auto& entries = snap->by_issuer[issuer];
    std::set<std::string> pinned_kids;
    for (const Held& h : d->keys)
      if (is_pin(h.key->source) && !h.key->kid.empty()) pinned_kids.insert(h.key->kid);
    for (int pass = 0; pass < 2; ++pass) {
      for (const Held& h : d->keys) {
        bool pin = is_pin(h.key->source);
        if ((pass == 0) != pin) continue;
        if (!pin && pinned_kids.count(h.key->kid)) continue;  // shadowed by a pin with the same kid
        int64_t exp = expires_at(*d, h);
        if (exp <= now) continue;
        entries.push_back(Snapshot::Entry{h.key, exp, pin && h.key->kid.empty()});
        sig += issuer + '\x1f' + h.key->kid + '\x1f' + h.key->thumbprint + '\x1f' + key_source_name(h.key->source) + '\x1e';
      }
    }
  }
  std::atomic_store(&snap_, std::shared_ptr<const Snapshot>(std::move(snap)));
  if (sig != snap_signature_) {
    snap_signature_ = std::move(sig);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
}

std::vector<KeyPtr> KeyStore::find(const std::string& issuer, const std::string& kid) const {
  std::shared_ptr<const Snapshot> snap = std::atomic_load(&snap_);
  std::vector<KeyPtr> out;
  auto it = snap->by_issuer.find(issuer);
  if (it == snap->by_issuer.end()) return out;
  int64_t now = clock_.now_ms();
  // Keys naming this kid first (pins before discovered), then the kid-less pins.
  for (const auto& e : it->second)
    if (e.expires_at > now && !e.any_kid && (kid.empty() || e.key->kid == kid)) out.push_back(e.key);
  for (const auto& e : it->second)
    if (e.expires_at > now && e.any_kid) out.push_back(e.key);
  return out;
}

void KeyStore::set_unknown_kid_handler(UnknownKidHandler h) {
  std::shared_ptr<const UnknownKidHandler> p;
  if (h) p = std::make_shared<const UnknownKidHandler>(std::move(h));
  std::atomic_store(&handler_, p);
}

void KeyStore::unknown_kid(const std::string& issuer, const std::string& kid) const {
  IssuerData* d = data(issuer);
  if (!d) return;
  d->unknown_kid.fetch_add(1, std::memory_order_relaxed);
  auto h = std::atomic_load(&handler_);
  if (h) (*h)(issuer, kid);
}

void KeyStore::count_unknown_kid_refresh(const std::string& issuer, bool started) {
  if (IssuerData* d = data(issuer)) (started ? d->unknown_kid_refreshes : d->rate_limited).fetch_add(1);
}

void KeyStore::apply_fetch_success(const std::string& issuer, const std::string& jwks_uri, const std::vector<Key>& keys,
                                   int64_t now, int64_t next_refresh) {
  IssuerData* d = data(issuer);
  if (!d) return;
  d->fetches.fetch_add(1);
  // Identical (kid, thumbprint) duplicates collapse; symmetric keys never come from a JWKS.
  std::vector<const Key*> uniq;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Key& k : keys) {
    if (k.type == KeyType::hmac || k.jwk_json.empty()) continue;
    if (seen.insert({k.kid, k.thumbprint}).second) uniq.push_back(&k);
  }
  int64_t limit = d->cfg->key_grace_seconds;
  if (d->cfg->max_staleness_seconds > 0) limit = std::min(limit, d->cfg->max_staleness_seconds);
  int64_t prune_before = now - limit * 1000;
  if (db_) {
    std::vector<CachedKey> rows;
    for (const Key* k : uniq)
      rows.push_back(CachedKey{issuer, k->kid, k->thumbprint, "discovered", "", k->alg, k->jwk_json, now, now});
    Status st = db_->record_success(issuer, jwks_uri, rows, now, prune_before, next_refresh);
    if (!st) log::error("auth.key_cache_error", {{"issuer", issuer}, {"operation", "save keys"}, {"error", st.message}});
  }
  std::lock_guard<std::mutex> lk(mu_);
  size_t added = 0, removed = 0;
  for (const Key* k : uniq) {
    auto it = std::find_if(d->keys.begin(), d->keys.end(), [&](const Held& h) {
      return h.key->kid == k->kid && h.key->thumbprint == k->thumbprint;
    });
    if (it != d->keys.end()) {
      if (it->key->source == KeySource::discovered) {
        it->last_seen_at = now;
        it->key = finish(*k, issuer, KeySource::discovered);
      }
      continue;
    }
    d->keys.push_back(Held{finish(*k, issuer, KeySource::discovered), "", now, now});
    ++added;
  }
  auto gone = std::remove_if(d->keys.begin(), d->keys.end(), [&](const Held& h) {
    return h.key->source == KeySource::discovered && h.last_seen_at < prune_before;
  });
  removed = size_t(d->keys.end() - gone);
  d->keys.erase(gone, d->keys.end());
  size_t not_listed = 0;
  for (const Held& h : d->keys) not_listed += h.key->source == KeySource::discovered && h.last_seen_at < now;
  d->state.jwks_uri = jwks_uri;
  d->state.last_attempt_at = now;
  d->state.last_success_at = now;
  d->state.last_error.clear();
  d->state.next_refresh_at = next_refresh;
  publish_locked(now);
  log::write(added || removed ? log::Level::info : log::Level::debug, "auth.keys_refreshed", {{"issuer", issuer},
                                    {"keys", uniq.size()},
                                    {"added", added},
                                    {"in_grace", not_listed},
                                    {"dropped", std::to_string(removed)}});
}

void KeyStore::apply_fetch_error(const std::string& issuer, const std::string& jwks_uri, const std::string& error,
                                 int64_t now, int64_t next_refresh) {
  IssuerData* d = data(issuer);
  if (!d) return;
  d->fetches.fetch_add(1);
  d->fetch_errors.fetch_add(1);
  if (db_) {
    Status st = db_->record_error(issuer, jwks_uri, error, now, next_refresh);
    if (!st) log::error("auth.key_cache_error", {{"issuer", issuer}, {"operation", "save state"}, {"error", st.message}});
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (!jwks_uri.empty()) d->state.jwks_uri = jwks_uri;
  d->state.last_attempt_at = now;
  d->state.last_error = error;
  d->state.last_error_at = now;
  d->state.next_refresh_at = next_refresh;
  publish_locked(now);
  size_t trusted = 0;
  for (const Held& h : d->keys) trusted += expires_at(*d, h) > now;
  log::warn("auth.keys_fetch_failed", {{"issuer", issuer},
                                       {"error", error},
                                       {"serving_cached_keys", trusted},
                                       {"last_success", d->state.last_success_at ? std::to_string(d->state.last_success_at) : "never"}});
}

std::string KeyStore::cached_jwks_uri(const std::string& issuer) const {
  IssuerData* d = data(issuer);
  if (!d) return {};
  std::lock_guard<std::mutex> lk(mu_);
  return d->state.jwks_uri;
}

int64_t KeyStore::next_refresh_ms(const std::string& issuer) const {
  IssuerData* d = data(issuer);
  if (!d) return 0;
  std::lock_guard<std::mutex> lk(mu_);
  return d->state.next_refresh_at;
}

bool KeyStore::has_discovered_keys(const std::string& issuer) const {
  IssuerData* d = data(issuer);
  if (!d) return false;
  std::lock_guard<std::mutex> lk(mu_);
  int64_t now = clock_.now_ms();
  for (const Held& h : d->keys)
    if (h.key->source == KeySource::discovered && expires_at(*d, h) > now) return true;
  return false;
}

void KeyStore::tick() {
  std::lock_guard<std::mutex> lk(mu_);
  publish_locked(clock_.now_ms());
}

void KeyStore::sync_pins_from_db() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!db_ || !db_ok_) return;
  }
  auto rows = db_->keys();
  if (!rows.ok()) return;
  std::map<std::string, std::vector<const CachedKey*>> pins;
  for (const auto& r : *rows)
    if (r.source != "discovered" && data(r.issuer)) pins[r.issuer].push_back(&r);
  std::lock_guard<std::mutex> lk(mu_);
  bool changed = false;
  for (auto& [issuer, d] : issuers_) {
    const auto& want = pins[issuer];
    std::set<std::string> want_ids, have_ids;
    for (const auto* r : want) want_ids.insert(r->source + '\x1f' + r->kid + '\x1f' + r->thumbprint);
    for (const Held& h : d->keys)
      if (h.key->source == KeySource::pinned || h.key->source == KeySource::imported)
        have_ids.insert(std::string(key_source_name(h.key->source)) + '\x1f' + h.key->kid + '\x1f' + h.key->thumbprint);
    if (want_ids == have_ids) continue;
    changed = true;
    d->keys.erase(std::remove_if(d->keys.begin(), d->keys.end(),
                                 [](const Held& h) {
                                   return h.key->source == KeySource::pinned || h.key->source == KeySource::imported;
                                 }),
                  d->keys.end());
    for (const auto* r : want) {
      auto k = key_from_jwk_text(r->jwk);
      if (!k.ok()) continue;
      k->kid = r->kid;
      k->alg = r->alg;
      // A pin replaces a discovered key of the same identity.
      d->keys.erase(std::remove_if(d->keys.begin(), d->keys.end(),
                                   [&](const Held& h) { return h.key->kid == r->kid && h.key->thumbprint == r->thumbprint; }),
                    d->keys.end());
      d->keys.push_back(Held{finish(std::move(*k), issuer, source_from(r->source)), r->origin, r->fetched_at, r->last_seen_at});
    }
    log::info("auth.pins_reloaded", {{"issuer", issuer}, {"pinned_or_imported", want.size()}});
  }
  if (changed) publish_locked(clock_.now_ms());
}

Status KeyStore::add_keys(const std::string& issuer, const std::vector<Key>& keys, KeySource source) {
  if (source != KeySource::pinned && source != KeySource::imported)
    return Status(Err::invalid, "only pinned or imported keys can be added");
  int64_t now = clock_.now_ms();
  std::string origin = source == KeySource::pinned ? "cli" : "";
  std::vector<KeyPtr> built;
  for (const Key& k : keys) {
    if (k.type == KeyType::hmac || k.jwk_json.empty())
      return Status(Err::invalid, "symmetric keys cannot be pinned or imported (use hmac_secret_file)");
    built.push_back(finish(k, issuer, source));
  }
  if (db_) {
    KeyPersistence& cache = *db_;
    for (const KeyPtr& k : built) {
      Status st = cache.put(CachedKey{issuer, k->kid, k->thumbprint, key_source_name(source), origin, k->alg,
                                             k->jwk_json, now, now});
      if (!st) return st;
    }
  }
  IssuerData* d = data(issuer);
  if (!d) return Status();
  std::lock_guard<std::mutex> lk(mu_);
  for (const KeyPtr& k : built) {
    d->keys.erase(std::remove_if(d->keys.begin(), d->keys.end(),
                                 [&](const Held& h) { return h.key->kid == k->kid && h.key->thumbprint == k->thumbprint; }),
                  d->keys.end());
    d->keys.push_back(Held{k, origin, now, now});
  }
  publish_locked(now);
  return Status();
}

Result<int> KeyStore::remove_keys(const std::string& issuer, const std::string& kid) {
  int n = 0;
  if (db_) {
    auto r = db_->remove_pinned(issuer, kid);
    if (!r.ok()) return r.status();
    n = *r;
  }
  IssuerData* d = data(issuer);
  if (!d) return n;
  std::lock_guard<std::mutex> lk(mu_);
  auto gone = std::remove_if(d->keys.begin(), d->keys.end(), [&](const Held& h) {
    return (h.key->source == KeySource::pinned || h.key->source == KeySource::imported) &&
           (h.key->kid == kid || h.key->thumbprint == kid);
  });
  int mem = int(d->keys.end() - gone);
  d->keys.erase(gone, d->keys.end());
  publish_locked(clock_.now_ms());
  return db_ ? n : mem;
}

std::vector<IssuerKeyStatus> KeyStore::status() const {
  std::vector<IssuerKeyStatus> out;
  std::shared_ptr<const Snapshot> snap = std::atomic_load(&snap_);
  int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lk(mu_);
  for (const IssuerConfig& ic : cfg_.issuers) {
    const IssuerData& d = *data(ic.issuer);
    IssuerKeyStatus s;
    s.issuer = ic.issuer;
    s.discovery = ic.discovery;
    s.jwks_uri = d.state.jwks_uri;
    auto it = snap->by_issuer.find(ic.issuer);
    if (it != snap->by_issuer.end())
      for (const auto& e : it->second) {
        if (e.expires_at <= now) continue;
        ++s.key_count;
        if (is_pin(e.key->source)) ++s.pinned_count;
      }
    for (const Held& h : d.keys) s.expired_count += !is_pin(h.key->source) && expires_at(d, h) <= now;
    s.last_attempt_ms = d.state.last_attempt_at;
    s.last_success_ms = d.state.last_success_at;
    s.last_error = d.state.last_error;
    s.last_error_ms = d.state.last_error_at;
    s.next_refresh_ms = d.state.next_refresh_at;
    s.stale = ic.discovery && (s.last_success_ms == 0 || !s.last_error.empty());
    s.fetches = d.fetches.load();
    s.fetch_errors = d.fetch_errors.load();
    s.unknown_kid = d.unknown_kid.load();
    s.unknown_kid_refreshes = d.unknown_kid_refreshes.load();
    s.rate_limited = d.rate_limited.load();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<KeyInfo> KeyStore::keys(const std::string& issuer) const {
  std::vector<KeyInfo> out;
  int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lk(mu_);
  for (const IssuerConfig& ic : cfg_.issuers) {
    if (!issuer.empty() && ic.issuer != issuer) continue;
    const IssuerData& d = *data(ic.issuer);
    std::set<std::string> pinned_kids;
    for (const Held& h : d.keys)
      if (is_pin(h.key->source) && !h.key->kid.empty()) pinned_kids.insert(h.key->kid);
    for (int pass = 0; pass < 2; ++pass)
      for (const Held& h : d.keys) {
        bool pin = is_pin(h.key->source);
        if ((pass == 0) != pin) continue;
        KeyInfo ki;
        ki.key = h.key;
        ki.origin = h.origin;
        ki.fetched_at_ms = h.fetched_at;
        ki.last_seen_ms = h.last_seen_at;
        ki.expires_at_ms = expires_at(d, h);
        ki.trusted = ki.expires_at_ms > now && (pin || !pinned_kids.count(h.key->kid));
        out.push_back(std::move(ki));
      }
  }
  return out;
}

}  // namespace ef::auth
