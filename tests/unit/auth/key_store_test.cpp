// tests/unit/auth/key_store_test.cpp — KeyStore: persistence across restarts (reopened
// database, no network), pin precedence and permanence, key rollover grace, outage
// staleness, generation changes, HMAC secrets never persisted.
#include <catch2/catch.hpp>

#include "auth/key_store.h"
#include "keys_test_util.h"
#include "store/key_cache.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::keytest;

namespace {
const std::string kIss = "https://idp.example.org";
const std::string kIss2 = "https://other.example.org";
constexpr int64_t T0 = 1795860000000;  // 2026-11-28T10:00:00Z
constexpr int64_t H = 3600 * 1000;
constexpr int64_t D = 24 * H;

std::vector<std::string> kids(const std::vector<KeyPtr>& ks) {
  std::vector<std::string> out;
  for (const auto& k : ks) out.push_back(k->kid + ":" + key_source_name(k->source));
  return out;
}
}  // namespace

TEST_CASE("discovered keys persist: a restarted store trusts them before any network call", "[keys]") {
  std::string path = temp_db();
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  TestClock clock(T0);
  {
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    CHECK(ks.find(kIss, "k1").empty());
    ks.apply_fetch_success(kIss, "https://idp.example.org/jwks", {key(1, "k1"), key(2, "k2")}, T0, T0 + H);
    CHECK(ks.find(kIss, "k1").size() == 1);
  }
  clock.advance_s(3 * 86400);  // three days later, provider unreachable: nothing fetched
  auto db = open_db(path);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  auto k1 = ks.find(kIss, "k1");
  REQUIRE(k1.size() == 1);
  CHECK(k1[0]->source == KeySource::discovered);
  CHECK(k1[0]->issuer == kIss);
  CHECK(k1[0]->thumbprint == key(1, "k1").thumbprint);
  CHECK(k1[0]->pk != nullptr);  // usable for verification
  CHECK(ks.find(kIss, "k2").size() == 1);
  CHECK(ks.find(kIss, "nope").empty());
  CHECK(ks.find(kIss, "").size() == 2);  // a token without kid may try every key
  CHECK(ks.find(kIss2, "k1").empty());   // keys belong to their issuer only
  auto st = ks.status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].last_success_ms == T0);
  CHECK(st[0].jwks_uri == "https://idp.example.org/jwks");
  CHECK(st[0].key_count == 2);
  CHECK_FALSE(st[0].stale);
}

TEST_CASE("pins: config pins persist, never expire, win over a fetched key with the same kid", "[keys]") {
  std::string path = temp_db();
  json::Value pin_jwk = jwk(3, "k1");
  std::string jwk_file = write_file("pin.jwk", json::write(pin_jwk));
  std::string pem_file = write_file("pin.pem", pair(4).public_pem);
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.pinned_keys = {jwk_file, pem_file};
  ic.max_staleness_seconds = 3600;
  cfg.issuers = {ic};
  TestClock clock(T0);
  auto db = open_db(path);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());

  // The JWK pin keeps its kid; the PEM pin (no kid) matches any kid.
  CHECK(kids(ks.find(kIss, "k1")) == std::vector<std::string>{"k1:pinned", ":pinned"});
  CHECK(kids(ks.find(kIss, "anything")) == std::vector<std::string>{":pinned"});

  // A JWKS publishing a *different* key under kid k1 does not displace the pin.
  ks.apply_fetch_success(kIss, "https://idp.example.org/jwks", {key(5, "k1"), key(6, "k2")}, T0, T0 + H);
  auto k1 = ks.find(kIss, "k1");
  REQUIRE(k1.size() == 2);
  CHECK(k1[0]->thumbprint == key(3, "k1").thumbprint);
  CHECK(k1[1]->kid.empty());
  for (const auto& k : k1) CHECK(k->thumbprint != key(5, "k1").thumbprint);
  CHECK(kids(ks.find(kIss, "k2")) == std::vector<std::string>{"k2:discovered", ":pinned"});

  // Persisted as source pinned, origin config.
  auto rows = store::KeyCache(*db).keys(kIss);
  REQUIRE(rows.ok());
  int pinned = 0;
  for (const auto& r : *rows)
    if (r.source == "pinned") {
      ++pinned;
      CHECK(r.origin == "config");
      CHECK(r.jwk.find("\"d\"") == std::string::npos);  // public material only
    }
  CHECK(pinned == 2);

  // A year later with the provider gone: discovered keys are stale, pins still verify.
  clock.advance_s(365 * 86400);
  CHECK(kids(ks.find(kIss, "k2")) == std::vector<std::string>{":pinned"});
  CHECK(ks.find(kIss, "k1").size() == 2);
}

TEST_CASE("config pins are re-synchronised at start; CLI pins and imports stay", "[keys]") {
  std::string path = temp_db();
  std::string a = write_file("a.jwk", json::write(jwk(7, "ka")));
  std::string b = write_file("b.jwk", json::write(jwk(8, "kb")));
  TestClock clock(T0);
  {
    AuthConfig cfg;
    IssuerConfig ic = issuer(kIss);
    ic.pinned_keys = {a, b};
    cfg.issuers = {ic};
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    REQUIRE(ks.add_keys(kIss, {key(9, "kc")}, KeySource::pinned).ok());
    REQUIRE(ks.add_keys(kIss, {key(10, "kd")}, KeySource::imported).ok());
    CHECK(ks.find(kIss, "kb").size() == 1);
    CHECK(ks.find(kIss, "kc").size() == 1);
  }
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.pinned_keys = {a};  // b removed from the config
  cfg.issuers = {ic};
  auto db = open_db(path);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  CHECK(ks.find(kIss, "ka").size() == 1);
  CHECK(ks.find(kIss, "kb").empty());
  CHECK(kids(ks.find(kIss, "kc")) == std::vector<std::string>{"kc:pinned"});
  CHECK(kids(ks.find(kIss, "kd")) == std::vector<std::string>{"kd:imported"});

  // unpin by kid or by thumbprint
  auto n = ks.remove_keys(kIss, "kc");
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK(ks.find(kIss, "kc").empty());
  n = ks.remove_keys(kIss, key(10, "kd").thumbprint);
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK(ks.find(kIss, "kd").empty());
  n = ks.remove_keys(kIss, "nonexistent");
  REQUIRE(n.ok());
  CHECK(*n == 0);
}

TEST_CASE("a key dropped from the JWKS is trusted for key_grace_seconds, then removed", "[keys]") {
  std::string path = temp_db();
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.key_grace_seconds = 86400;
  cfg.issuers = {ic};
  TestClock clock(T0);
  auto db = open_db(path);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  const std::string uri = "https://idp.example.org/jwks";
  ks.apply_fetch_success(kIss, uri, {key(1, "old"), key(2, "new")}, T0, T0 + H);
  uint64_t g0 = ks.generation();

  clock.set_ms(T0 + H);  // rotation: "old" no longer published
  ks.apply_fetch_success(kIss, uri, {key(2, "new")}, T0 + H, T0 + 2 * H);
  CHECK(ks.generation() == g0);  // same trusted set for now
  CHECK(ks.find(kIss, "old").size() == 1);

  clock.set_ms(T0 + D - 1);  // grace counts from the last time the JWKS listed it
  CHECK(ks.find(kIss, "old").size() == 1);
  clock.set_ms(T0 + D + 1);
  CHECK(ks.find(kIss, "old").empty());  // expiry is checked on every find()
  CHECK(ks.find(kIss, "new").size() == 1);
  ks.tick();
  CHECK(ks.generation() != g0);  // verified-token caches must drop tokens of the old key
  auto st = ks.status();
  CHECK(st[0].key_count == 1);
  CHECK(st[0].expired_count == 1);

  // The next successful fetch deletes the expired row from the database.
  ks.apply_fetch_success(kIss, uri, {key(2, "new")}, T0 + D + 1, T0 + D + H);
  auto rows = store::KeyCache(*db).keys(kIss);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].kid == "new");
  CHECK((*rows)[0].fetched_at == T0);  // first fetch time kept
  CHECK((*rows)[0].last_seen_at == T0 + D + 1);
}

TEST_CASE("outage: cached keys stay trusted up to max_staleness_seconds since last seen", "[keys]") {
  std::string path = temp_db();
  TestClock clock(T0);
  const std::string uri = "https://idp.example.org/jwks";
  SECTION("default 7 days") {
    AuthConfig cfg;
    cfg.issuers = {issuer(kIss)};
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    ks.apply_fetch_success(kIss, uri, {key(1, "k1")}, T0, T0 + H);
    for (int h = 1; h <= 7 * 24; ++h) {
      clock.set_ms(T0 + h * H - 1);
      ks.apply_fetch_error(kIss, uri, "JWKS " + uri + ": HTTP 500", clock.now_ms(), clock.now_ms() + 30000);
    }
    CHECK(ks.find(kIss, "k1").size() == 1);
    auto st = ks.status();
    CHECK(st[0].stale);
    CHECK(st[0].last_error.find("HTTP 500") != std::string::npos);
    CHECK(st[0].last_success_ms == T0);
    CHECK(st[0].fetch_errors == 7 * 24);
    clock.set_ms(T0 + 7 * D + 1);
    CHECK(ks.find(kIss, "k1").empty());
    // Persisted state survives a restart.
    store::KeyCache again_rows(*db);
    KeyStore again(cfg, &again_rows, clock);
    REQUIRE(again.load().ok());
    auto st2 = again.status();
    CHECK(st2[0].last_success_ms == T0);
    CHECK(st2[0].last_error.find("HTTP 500") != std::string::npos);
    CHECK(st2[0].stale);
    CHECK(again.find(kIss, "k1").empty());
  }
  SECTION("0 = forever") {
    AuthConfig cfg;
    IssuerConfig ic = issuer(kIss);
    ic.max_staleness_seconds = 0;
    cfg.issuers = {ic};
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    ks.apply_fetch_success(kIss, uri, {key(1, "k1")}, T0, T0 + H);
    clock.set_ms(T0 + 3650 * D);
    CHECK(ks.find(kIss, "k1").size() == 1);
  }
  SECTION("grace is capped by staleness") {
    AuthConfig cfg;
    IssuerConfig ic = issuer(kIss);
    ic.max_staleness_seconds = 600;
    ic.key_grace_seconds = 86400;
    cfg.issuers = {ic};
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    ks.apply_fetch_success(kIss, uri, {key(1, "k1"), key(2, "k2")}, T0, T0 + H);
    ks.apply_fetch_success(kIss, uri, {key(2, "k2")}, T0 + 1000, T0 + H);
    clock.set_ms(T0 + 599 * 1000);
    CHECK(ks.find(kIss, "k1").size() == 1);
    clock.set_ms(T0 + 600 * 1000 + 500);
    CHECK(ks.find(kIss, "k1").empty());
    CHECK(ks.find(kIss, "k2").size() == 1);
  }
}

TEST_CASE("fetched key sets: duplicates collapse, symmetric keys are never taken", "[keys]") {
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  TestClock clock(T0);
  auto db = open_db(temp_db());
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  Key hmac = make_hmac_key(std::string(32, 'x'), "sym");
  ks.apply_fetch_success(kIss, "https://i/jwks", {key(1, "dup"), key(1, "dup"), key(2, "dup"), hmac}, T0, T0 + H);
  // Same kid, same key: one entry.  Same kid, different keys: both are the issuer's keys.
  CHECK(ks.find(kIss, "dup").size() == 2);
  CHECK(ks.find(kIss, "sym").empty());
  auto rows = store::KeyCache(*db).keys(kIss);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 2);
  // Symmetric keys cannot be pinned or imported either.
  CHECK_FALSE(ks.add_keys(kIss, {hmac}, KeySource::pinned).ok());
}

TEST_CASE("HMAC secrets come from the config file, match any kid and are never persisted", "[keys]") {
  std::string secret = std::string(40, 's');
  std::string file = write_file("secret", secret + "\n");
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.discovery = false;
  ic.algorithms = {"HS256"};
  ic.hmac_secret_file = file;
  cfg.issuers = {ic};
  TestClock clock(T0);
  auto db = open_db(temp_db());
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  auto found = ks.find(kIss, "whatever");
  REQUIRE(found.size() == 1);
  CHECK(found[0]->type == KeyType::hmac);
  CHECK(found[0]->secret == secret);
  CHECK(found[0]->source == KeySource::config_secret);
  auto rows = store::KeyCache(*db).keys();
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  auto st = ks.status();
  CHECK_FALSE(st[0].discovery);
  CHECK_FALSE(st[0].stale);  // an offline issuer is never "stale"
  CHECK(st[0].key_count == 1);
}

TEST_CASE("load fails clearly on an unusable pin file; a corrupt cached row is skipped", "[keys]") {
  TestClock clock(T0);
  {
    AuthConfig cfg;
    IssuerConfig ic = issuer(kIss);
    ic.pinned_keys = {"/nonexistent/edgefhir-pin.pem"};
    cfg.issuers = {ic};
    KeyStore ks(cfg, nullptr, clock);
    Status st = ks.load();
    REQUIRE_FALSE(st.ok());
    CHECK(st.message.find("/nonexistent/edgefhir-pin.pem") != std::string::npos);
  }
  std::string path = temp_db();
  auto db = open_db(path);
  store::KeyCache cache(*db);
  REQUIRE(cache.put(store::CachedKey{kIss, "bad", "tp", "imported", "", "", "{not json", T0, T0}).ok());
  REQUIRE(cache.put(store::CachedKey{kIss, "good", key(1, "good").thumbprint, "imported", "", "", key(1, "good").jwk_json, T0, T0}).ok());
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  CHECK(ks.find(kIss, "good").size() == 1);
  CHECK(ks.find(kIss, "bad").empty());
}

TEST_CASE("find() is safe while fetches swap the snapshot", "[keys]") {
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  TestClock clock(T0);
  KeyStore ks(cfg, nullptr, clock);
  REQUIRE(ks.load().ok());
  Key a = key(1, "a"), b = key(2, "b");
  ks.apply_fetch_success(kIss, "https://i/jwks", {a}, T0, T0 + H);
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0};
  std::thread reader([&] {
    while (!stop) {
      auto r = ks.find(kIss, "a");  // "a" is in every published set
      if (r.size() != 1 || r[0]->kid != "a") ++misses;
    }
  });
  for (int i = 0; i < 300; ++i)
    ks.apply_fetch_success(kIss, "https://i/jwks", i % 2 ? std::vector<Key>{a, b} : std::vector<Key>{a}, T0, T0 + H);
  stop = true;
  reader.join();
  CHECK(misses == 0);
}

TEST_CASE("a running store picks up pins and imports made by another process", "[keys]") {
  std::string path = temp_db();
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.discovery = false;
  cfg.issuers = {ic};
  TestClock clock(T0);
  auto db = open_db(path);
  store::KeyCache server_rows(*db);
    KeyStore server(cfg, &server_rows, clock);
  REQUIRE(server.load().ok());
  uint64_t g = server.generation();
  {
    auto db2 = open_db(path);  // e.g. `edgefhir keys pin` in another process
    store::KeyCache cli_rows(*db2);
    KeyStore cli(cfg, &cli_rows, clock);
    REQUIRE(cli.load().ok());
    REQUIRE(cli.add_keys(kIss, {key(11, "late")}, KeySource::pinned).ok());
    REQUIRE(cli.add_keys(kIss, {key(12, "imp")}, KeySource::imported).ok());
  }
  CHECK(server.find(kIss, "late").empty());
  server.sync_pins_from_db();
  CHECK(server.find(kIss, "late").size() == 1);
  CHECK(server.find(kIss, "imp").size() == 1);
  CHECK(server.generation() != g);
  g = server.generation();
  server.sync_pins_from_db();  // nothing changed: same generation
  CHECK(server.generation() == g);
  {
    auto db2 = open_db(path);
    store::KeyCache cli_rows(*db2);
    KeyStore cli(cfg, &cli_rows, clock);
    REQUIRE(cli.load().ok());
    REQUIRE(cli.remove_keys(kIss, "late").ok());
  }
  server.sync_pins_from_db();
  CHECK(server.find(kIss, "late").empty());
  CHECK(server.find(kIss, "imp").size() == 1);
}
