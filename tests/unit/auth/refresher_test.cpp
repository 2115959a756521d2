// tests/unit/auth/refresher_test.cpp — Refresher with a scripted fetch (discovery rules,
// hostile/broken JWKS documents, schedule and back-off, single-flight unknown-kid refresh
// with cooldown, offline issuers) and the real http_get against a loopback server (size
// limit, timeout, redirects refused, Cache-Control, URL policy, cancellation on stop).
#include <catch2/catch.hpp>

#include <httplib.h>

#include <chrono>

#include "store/key_cache.h"
#include "auth/key_store.h"
#include "auth/refresher.h"
#include "keys_test_util.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::keytest;

namespace {
const std::string kIss = "https://idp.example.org";
const std::string kDisco = "https://idp.example.org/.well-known/openid-configuration";
const std::string kJwks = "https://idp.example.org/keys";
constexpr int64_t T0 = 1795860000000;

std::string disco_doc(const std::string& iss, const std::string& jwks_uri) {
  json::Object o;
  o["issuer"] = json::Value(iss);
  o["jwks_uri"] = json::Value(jwks_uri);
  o["token_endpoint"] = json::Value(iss + "/token");
  return json::write(json::Value(o));
}

struct Rig {
  AuthConfig cfg;
  TestClock clock{T0};
  FakeHttp http;
  std::unique_ptr<store::Database> db = open_db(temp_db());
  std::unique_ptr<ef::store::KeyCache> rows;  // before `store`: outlives it
  std::unique_ptr<KeyStore> store;
  std::unique_ptr<Refresher> ref;

  explicit Rig(IssuerConfig ic = issuer(kIss), Refresher::Options opt = {}) {
    cfg.issuers = {ic};
    rows = std::make_unique<ef::store::KeyCache>(*db);
    store = std::make_unique<KeyStore>(cfg, rows.get(), clock);
    REQUIRE(store->load().ok());
    ref = std::make_unique<Refresher>(*store, http.fn(), opt);
    http.set(kDisco, 200, disco_doc(kIss, kJwks));
  }
};
}  // namespace

TEST_CASE("discovery: jwks_uri from the document whose issuer must match exactly", "[keys]") {
  Rig r;
  r.http.set(kJwks, 200, jwks({jwk(1, "k1"), jwk(2, "k2")}));
  RefreshResult res = r.ref->refresh_now(kIss);
  REQUIRE(res.ok);
  CHECK(res.keys == 2);
  CHECK(res.jwks_uri == kJwks);
  CHECK(r.store->find(kIss, "k1").size() == 1);
  CHECK(r.http.count(kDisco) == 1);
  CHECK(r.http.count(kJwks) == 1);

  SECTION("mismatching issuer is refused, keys kept") {
    r.http.set(kDisco, 200, disco_doc("https://evil.example.org", kJwks));
    r.clock.advance_s(60);
    res = r.ref->refresh_now(kIss);
    CHECK_FALSE(res.ok);
    CHECK(res.error.find("does not equal the configured issuer") != std::string::npos);
    CHECK(r.store->find(kIss, "k1").size() == 1);
  }
  SECTION("trailing slash is a different issuer") {
    r.http.set(kDisco, 200, disco_doc(kIss + "/", kJwks));
    CHECK_FALSE(r.ref->refresh_now(kIss).ok);
  }
  SECTION("discovery down: the jwks_uri discovered before is used") {
    r.http.set(kDisco, 503, "down");
    r.http.set(kJwks, 200, jwks({jwk(3, "k3")}));
    res = r.ref->refresh_now(kIss);
    CHECK(res.ok);
    CHECK(r.store->find(kIss, "k3").size() == 1);
  }
  SECTION("a plain-http jwks_uri on a public host is refused") {
    r.http.set(kDisco, 200, disco_doc(kIss, "http://idp.example.org/keys"));
    r.store->apply_fetch_error(kIss, "http://idp.example.org/keys", "x", T0, T0);  // even if "cached"
    res = r.ref->refresh_now(kIss);
    CHECK_FALSE(res.ok);
    CHECK(res.error.find("plain http") != std::string::npos);
    CHECK(r.http.count("http://idp.example.org/keys") == 0);
  }
}

TEST_CASE("explicit jwks_uri skips discovery; templated issuers discover at 'common'", "[keys]") {
  IssuerConfig ic = issuer(kIss);
  ic.jwks_uri = "https://keys.example.net/jwks";
  Rig r(ic);
  r.http.set(ic.jwks_uri, 200, jwks({jwk(1, "k1")}));
  REQUIRE(r.ref->refresh_now(kIss).ok);
  CHECK(r.http.count(kDisco) == 0);
  CHECK(r.store->status()[0].jwks_uri == ic.jwks_uri);

  CHECK(discovery_url("https://login.microsoftonline.com/{tenantid}/v2.0") ==
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration");
  CHECK(discovery_url("https://idp.example.org/") == kDisco);

  std::string tmpl = "https://login.microsoftonline.com/{tenantid}/v2.0";
  Rig t(issuer(tmpl));
  std::string d = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration";
  std::string k = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
  t.http.set(d, 200, disco_doc(tmpl, k));  // Entra's common document names the template
  t.http.set(k, 200, jwks({jwk(1, "ms1")}));
  REQUIRE(t.ref->refresh_now(tmpl).ok);
  CHECK(t.store->find(tmpl, "ms1").size() == 1);
}

TEST_CASE("hostile or broken JWKS documents never remove cached keys", "[keys]") {
  Rig r;
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  REQUIRE(r.ref->refresh_now(kIss).ok);
  uint64_t gen = r.store->generation();

  auto expect_error = [&](const std::string& what) {
    RefreshResult res = r.ref->refresh_now(kIss);
    CHECK_FALSE(res.ok);
    CHECK(res.error.find(what) != std::string::npos);
    CHECK(r.store->find(kIss, "k1").size() == 1);
    CHECK(r.store->generation() == gen);
    auto st = r.store->status()[0];
    CHECK(st.stale);
    CHECK(st.last_error == res.error);
  };
  SECTION("garbage") {
    r.http.set(kJwks, 200, "<html>oops</html>");
    expect_error("not valid JSON");
  }
  SECTION("not a key set") {
    r.http.set(kJwks, 200, "{\"keys\": 5}");
    expect_error("no 'keys' array");
  }
  SECTION("duplicate JSON members") {
    r.http.set(kJwks, 200, "{\"keys\": [], \"keys\": []}");
    expect_error("JWKS");
  }
  SECTION("HTTP 500") {
    r.http.set(kJwks, 500, "{}");
    expect_error("HTTP 500");
  }
  SECTION("redirect") {
    r.http.set(kJwks, 302, "");
    expect_error("redirect");
  }
  SECTION("transport error (e.g. body over the limit)") {
    r.http.fail(kJwks, "response exceeds the limit of 1048576 bytes (max_jwks_bytes)");
    expect_error("exceeds the limit");
  }
  SECTION("only unusable keys: symmetric, bad x5c, weak") {
    json::Object oct;
    oct["kty"] = json::Value("oct");
    oct["kid"] = json::Value("sym");
    oct["k"] = json::Value("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0");
    json::Value bad = jwk(2, "badx5c");
    (*json::as_object_mut(bad))["x5c"] = json::Value(json::Array{json::Value("!!notbase64")});
    r.http.set(kJwks, 200, jwks({json::Value(oct), bad}));
    expect_error("no usable key (2 refused)");
  }
  SECTION("empty key set") {
    r.http.set(kJwks, 200, "{\"keys\": []}");
    expect_error("no usable key");
  }
}

TEST_CASE("a bad key in a JWKS is skipped, the rest load; symmetric keys never load", "[keys]") {
  Rig r;
  json::Object oct;
  oct["kty"] = json::Value("oct");
  oct["kid"] = json::Value("sym");
  oct["k"] = json::Value("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0");
  json::Value bad = jwk(2, "badx5c");
  (*json::as_object_mut(bad))["x5c"] = json::Value(json::Array{json::Value("!!notbase64")});
  r.http.set(kJwks, 200, jwks({json::Value(oct), bad, jwk(1, "good"), jwk(1, "good"), jwk(3, "good")}));
  RefreshResult res = r.ref->refresh_now(kIss);
  REQUIRE(res.ok);
  CHECK(res.skipped.size() == 2);
  CHECK(r.store->find(kIss, "sym").empty());
  CHECK(r.store->find(kIss, "badx5c").empty());
  CHECK(r.store->find(kIss, "good").size() == 2);  // duplicate kid: two distinct keys, identical one collapsed
}

TEST_CASE("schedule: Cache-Control max-age within [5 min, 24 h] can only shorten refresh_seconds; back-off", "[keys]") {
  IssuerConfig ic = issuer(kIss);
  ic.refresh_seconds = 3600;
  ic.refresh_cooldown_seconds = 30;
  Rig r(ic);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}), 60);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 300 * 1000);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}), 900);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 900 * 1000);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}), 86400 * 30);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 3600 * 1000);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 3600 * 1000);
  r.http.set(kJwks, 500, "");
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 30 * 1000);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 60 * 1000);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 120 * 1000);
  for (int i = 0; i < 10; ++i) r.ref->refresh_now(kIss);
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 300 * 1000);  // capped at 5 min
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  REQUIRE(r.ref->refresh_now(kIss).ok);
  r.http.set(kJwks, 500, "");
  CHECK(r.ref->refresh_now(kIss).next_refresh_ms == T0 + 30 * 1000);  // reset after a success
}

TEST_CASE("unknown kid: single-flight, at most one fetch per cooldown window, waiters see the new key", "[keys]") {
  IssuerConfig ic = issuer(kIss);
  ic.refresh_cooldown_seconds = 30;
  Refresher::Options opt;
  opt.unknown_kid_wait_ms = 3000;
  opt.max_waiters = 64;
  Rig r(ic, opt);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  r.http.delay_ms = 150;
  r.ref->start();
  REQUIRE(r.ref->wait_completed(kIss, 1, 5000));  // the initial background fetch
  CHECK(r.store->find(kIss, "k1").size() == 1);
  int base = r.http.count(kJwks);
  CHECK(base == 1);

  auto flood = [&](int n) {
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i)
      ts.emplace_back([&, i] { r.store->unknown_kid(kIss, "random-" + std::to_string(i)); });
    for (auto& t : ts) t.join();
  };
  // Within the cooldown of the initial fetch: nothing is fetched.
  flood(50);
  CHECK(r.http.count(kJwks) == base);
  CHECK(r.store->status()[0].rate_limited == 50);

  // After the cooldown: 50 concurrent unknown kids → exactly one fetch.
  r.clock.advance_s(31);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1"), jwk(2, "rotated")}));
  flood(50);
  CHECK(r.http.count(kJwks) == base + 1);
  auto st = r.store->status()[0];
  CHECK(st.unknown_kid == 100);
  CHECK(st.unknown_kid_refreshes == 1);
  // The callers waited for that fetch: the rotated key is there when they return.
  CHECK(r.store->find(kIss, "rotated").size() == 1);

  // The window holds again.
  r.clock.advance_s(29);
  flood(10);
  CHECK(r.http.count(kJwks) == base + 1);
  r.clock.advance_s(2);
  r.store->unknown_kid(kIss, "x");
  CHECK(r.http.count(kJwks) == base + 2);
  r.ref->stop();
}

TEST_CASE("a rotation is picked up by the first token with the new kid", "[keys]") {
  IssuerConfig ic = issuer(kIss);
  ic.refresh_cooldown_seconds = 1;
  Rig r(ic);
  r.http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  r.ref->start();
  REQUIRE(r.ref->wait_completed(kIss, 1, 5000));
  r.clock.advance_s(2);
  r.http.set(kJwks, 200, jwks({jwk(2, "k2")}));
  uint64_t g = r.store->generation();
  CHECK(r.store->find(kIss, "k2").empty());
  r.store->unknown_kid(kIss, "k2");  // what the validator does, then re-finds when generation moved
  CHECK(r.store->generation() != g);
  CHECK(r.store->find(kIss, "k2").size() == 1);
  CHECK(r.store->find(kIss, "k1").size() == 1);  // in grace
}

TEST_CASE("an offline issuer (discovery false) never touches the network", "[keys]") {
  IssuerConfig ic = issuer(kIss);
  ic.discovery = false;
  ic.pinned_keys = {write_file("off.pem", pair(1).public_pem)};
  Rig r(ic);
  r.ref->start();
  r.store->unknown_kid(kIss, "whatever");
  RefreshResult res = r.ref->refresh_now(kIss);
  CHECK_FALSE(res.ok);
  CHECK(res.error.find("discovery") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(r.http.total() == 0);
  CHECK(r.store->find(kIss, "any").size() == 1);
  r.ref->stop();
}

TEST_CASE("start-up keeps the persisted schedule when cached keys are fresh", "[keys]") {
  std::string path = temp_db();
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  TestClock clock(T0);
  FakeHttp http;
  http.set(kDisco, 200, disco_doc(kIss, kJwks));
  http.set(kJwks, 200, jwks({jwk(1, "k1")}));
  {
    auto db = open_db(path);
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
    REQUIRE(ks.load().ok());
    Refresher ref(ks, http.fn());
    ref.start();
    REQUIRE(ref.wait_completed(kIss, 1, 5000));
  }
  CHECK(http.count(kJwks) == 1);
  clock.advance_s(60);  // restart a minute later: next refresh is due in ~59 minutes
  auto db = open_db(path);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows, clock);
  REQUIRE(ks.load().ok());
  Refresher ref(ks, http.fn());
  ref.start();
  CHECK_FALSE(ref.wait_completed(kIss, 1, 300));
  CHECK(http.count(kJwks) == 1);
  CHECK(ks.find(kIss, "k1").size() == 1);
}

// ---- the real fetch ----

namespace {
struct LocalServer {
  httplib::Server svr;
  int port = 0;
  std::thread th;
  std::atomic<bool> release{false};
  LocalServer() {
    svr.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "public, max-age=600");
      res.set_content("{\"keys\":[]}", "application/json");
    });
    svr.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3 << 20, 'x'), "application/json");
    });
    svr.Get("/chunked-big", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [](size_t offset, httplib::DataSink& sink) {
        std::string chunk(64 * 1024, 'y');
        if (offset > (8u << 20)) return false;
        sink.write(chunk.data(), chunk.size());
        return true;
      });
    });
    svr.Get("/hang", [this](const httplib::Request&, httplib::Response& res) {
      for (int i = 0; i < 200 && !release; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
      res.set_content("{}", "application/json");
    });
    svr.Get("/redirect", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("https://elsewhere.example/keys"); });
    port = svr.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    release = true;
    svr.stop();
    th.join();
  }
  std::string url(const std::string& p) const { return "http://127.0.0.1:" + std::to_string(port) + p; }
};
}  // namespace

TEST_CASE("http_get: limits, timeouts, redirects, Cache-Control", "[keys]") {
  LocalServer s;
  HttpRequest req;
  req.timeout_seconds = 1;
  req.max_bytes = 1 << 20;

  req.url = s.url("/ok");
  HttpResponse r = http_get(req);
  CHECK(r.error.empty());
  CHECK(r.status == 200);
  CHECK(r.body == "{\"keys\":[]}");
  CHECK(r.max_age == 600);

  req.url = s.url("/big");
  r = http_get(req);
  CHECK(r.error.find("exceeds the limit") != std::string::npos);

  req.url = s.url("/chunked-big");  // no Content-Length: aborted while streaming
  r = http_get(req);
  CHECK(r.error.find("exceeds the limit") != std::string::npos);

  req.url = s.url("/redirect");
  r = http_get(req);
  CHECK(r.error.empty());
  CHECK(r.status == 302);  // not followed

  req.url = s.url("/hang");
  auto t0 = std::chrono::steady_clock::now();
  r = http_get(req);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK_FALSE(r.error.empty());
  CHECK(took < std::chrono::seconds(4));

  req.url = "http://127.0.0.1:1/nothing";
  r = http_get(req);
  CHECK(r.error.find("connection") != std::string::npos);

  req.url = "http://example.com/keys";
  r = http_get(req);
  CHECK(r.error.find("loopback") != std::string::npos);
}

TEST_CASE("stop() aborts a fetch that hangs", "[keys]") {
  LocalServer s;
  IssuerConfig ic = issuer(kIss);
  ic.jwks_uri = s.url("/hang");
  ic.fetch_timeout_seconds = 30;
  AuthConfig cfg;
  cfg.issuers = {ic};
  TestClock clock(T0);
  KeyStore ks(cfg, nullptr, clock);
  REQUIRE(ks.load().ok());
  Refresher ref(ks);
  ref.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // fetch in flight
  auto t0 = std::chrono::steady_clock::now();
  ref.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("fetch URL policy: https anywhere, plain http only to loopback", "[keys]") {
  CHECK(check_fetch_url("https://login.example.org/keys").ok());
  CHECK(check_fetch_url("https://[2001:db8::1]:8443/keys").ok());
  CHECK(check_fetch_url("http://127.0.0.1:8080/jwks").ok());
  CHECK(check_fetch_url("http://127.12.0.3/jwks").ok());
  CHECK(check_fetch_url("http://localhost:9000/jwks").ok());
  CHECK(check_fetch_url("http://[::1]:9000/jwks").ok());
  CHECK(check_fetch_url("HTTP://LOCALHOST/jwks").ok());
  CHECK_FALSE(check_fetch_url("http://login.example.org/keys").ok());
  CHECK_FALSE(check_fetch_url("http://127.0.0.1.evil.example/keys").ok());
  CHECK_FALSE(check_fetch_url("http://128.0.0.1/keys").ok());
  CHECK_FALSE(check_fetch_url("http://127.0.0.1@evil.example/keys").ok());
  CHECK_FALSE(check_fetch_url("http://10.0.0.1/keys").ok());
  CHECK_FALSE(check_fetch_url("http://[::2]/keys").ok());
  CHECK_FALSE(check_fetch_url("ftp://127.0.0.1/keys").ok());
  CHECK_FALSE(check_fetch_url("/relative").ok());
  CHECK_FALSE(check_fetch_url("https://host:99999/").ok());
  CHECK_FALSE(check_fetch_url("https://host/a b").ok());
}
