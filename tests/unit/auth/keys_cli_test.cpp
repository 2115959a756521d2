// tests/unit/auth/keys_cli_test.cpp — `edgefhir keys`: list, pin/unpin, export → import
// onto a second (disconnected) database, help and usage errors.  No network: issuers here
// are offline or never refreshed.
#include <catch2/catch.hpp>

#include <sstream>

#include "auth/key_store.h"
#include "cli/keys.h"
#include "keys_test_util.h"
#include "store/key_cache.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::keytest;

namespace {
const std::string kIss = "https://idp.example.org";

struct Out {
  std::ostringstream out, err;
  int rc = -1;
};

Out run(const std::vector<std::string>& args, const AuthConfig& cfg, store::Database& db) {
  Out o;
  o.rc = cli::keys_on(args, cfg, db, o.out, o.err);
  return o;
}

bool has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }
}  // namespace

TEST_CASE("keys list shows keys, sources, thumbprints and fetch state", "[keys]") {
  AuthConfig cfg;
  IssuerConfig ic = issuer(kIss);
  ic.pinned_keys = {write_file("list.pem", pair(1).public_pem)};
  cfg.issuers = {ic};
  auto db = open_db(temp_db());
  {
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows);
    REQUIRE(ks.load().ok());
    int64_t now = SystemClock::instance().now_ms();
    ks.apply_fetch_success(kIss, "https://idp.example.org/keys", {key(2, "disc-1")}, now - 3600 * 1000, now);
    ks.apply_fetch_error(kIss, "", "JWKS https://idp.example.org/keys: HTTP 503", now - 1000, now + 30000);
  }
  Out o = run({"list"}, cfg, *db);
  REQUIRE(o.rc == 0);
  std::string s = o.out.str();
  CHECK(has(s, "issuer " + kIss));
  CHECK(has(s, "disc-1"));
  CHECK(has(s, "discovered"));
  CHECK(has(s, "pinned/config"));
  CHECK(has(s, "(any)"));
  CHECK(has(s, key(2, "disc-1").thumbprint));
  CHECK(has(s, "HTTP 503"));
  CHECK(has(s, "stale:        yes"));
  CHECK(has(s, "last success: 60 minutes ago"));

  Out j = run({"list", "--json"}, cfg, *db);
  REQUIRE(j.rc == 0);
  auto v = json::parse(j.out.str());
  REQUIRE(v.ok());
  const json::Array* iss = json::get_array(*v, "issuers");
  REQUIRE(iss);
  REQUIRE(iss->size() == 1);
  CHECK(json::string_or((*iss)[0], "issuer") == kIss);
  CHECK(json::get((*iss)[0], "stale")->get<bool>());
  CHECK(json::get_array((*iss)[0], "keys")->size() == 2);
}

TEST_CASE("keys pin / unpin", "[keys]") {
  AuthConfig cfg;
  cfg.issuers = {issuer(kIss)};
  auto db = open_db(temp_db());
  std::string pem = write_file("cli.pem", pair(3).public_pem);

  Out o = run({"pin", kIss, pem, "--kid", "ops-1"}, cfg, *db);
  REQUIRE(o.rc == 0);
  CHECK(has(o.out.str(), "ops-1"));
  {
    store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows);
    REQUIRE(ks.load().ok());
    auto f = ks.find(kIss, "ops-1");
    REQUIRE(f.size() == 1);
    CHECK(f[0]->source == KeySource::pinned);
    CHECK(ks.find(kIss, "other").empty());  // it has a kid now
  }
  o = run({"pin", kIss, "/nonexistent.pem"}, cfg, *db);
  CHECK(o.rc == 1);
  CHECK(has(o.err.str(), "/nonexistent.pem"));

  o = run({"pin", "https://unknown.example", pem}, cfg, *db);
  CHECK(o.rc == 0);
  CHECK(has(o.out.str(), "not configured"));

  o = run({"unpin", kIss, "ops-1"}, cfg, *db);
  CHECK(o.rc == 0);
  CHECK(has(o.out.str(), "removed 1"));
  o = run({"unpin", kIss, "ops-1"}, cfg, *db);
  CHECK(o.rc == 1);
  store::KeyCache ks_rows(*db);
    KeyStore ks(cfg, &ks_rows);
  REQUIRE(ks.load().ok());
  CHECK(ks.find(kIss, "ops-1").empty());
}

TEST_CASE("keys export on a connected device, import on a disconnected one", "[keys]") {
  AuthConfig online;
  online.issuers = {issuer(kIss)};
  auto db1 = open_db(temp_db());
  {
    store::KeyCache ks_rows(*db1);
    KeyStore ks(online, &ks_rows);
    REQUIRE(ks.load().ok());
    int64_t now = SystemClock::instance().now_ms();
    ks.apply_fetch_success(kIss, "https://idp.example.org/keys", {key(4, "a"), key(5, "b")}, now, now + 3600000);
  }
  std::string bundle = temp_path("bundle.json");
  Out o = run({"export", bundle}, online, *db1);
  REQUIRE(o.rc == 0);
  CHECK(has(o.out.str(), "exported 2 key(s) of 1 issuer(s)"));
  std::string text = testutil::read_text(bundle);
  CHECK(has(text, "edgefhir_key_bundle"));
  CHECK_FALSE(has(text, "\"d\""));

  AuthConfig offline;
  IssuerConfig ic = issuer(kIss);
  ic.discovery = false;
  offline.issuers = {ic};
  auto db2 = open_db(temp_db());
  o = run({"import", bundle}, offline, *db2);
  REQUIRE(o.rc == 0);
  CHECK(has(o.out.str(), "imported 2 key(s)"));
  store::KeyCache ks_rows(*db2);
    KeyStore ks(offline, &ks_rows);
  REQUIRE(ks.load().ok());
  auto a = ks.find(kIss, "a");
  REQUIRE(a.size() == 1);
  CHECK(a[0]->source == KeySource::imported);
  CHECK(a[0]->thumbprint == key(4, "a").thumbprint);
  CHECK(ks.find(kIss, "b").size() == 1);

  // Broken bundles are refused with a reason.
  o = run({"import", write_file("notbundle.json", "{\"keys\": []}")}, offline, *db2);
  CHECK(o.rc == 1);
  CHECK(has(o.err.str(), "not an edgefhir key bundle"));
  json::Object bad;
  bad["kty"] = json::Value("oct");
  bad["k"] = json::Value("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0");
  std::string mixed = "{\"edgefhir_key_bundle\":1,\"issuers\":[{\"issuer\":\"" + kIss + "\",\"keys\":[" +
                      json::write(json::Value(bad)) + "," + json::write(jwk(6, "c")) + "]}]}";
  o = run({"import", write_file("mixed.json", mixed)}, offline, *db2);
  CHECK(o.rc == 0);
  CHECK(has(o.err.str(), "symmetric"));
  CHECK(has(o.out.str(), "imported 1 key(s)"));
}

TEST_CASE("keys help and usage errors", "[keys]") {
  AuthConfig cfg;
  auto db = open_db(temp_db());
  for (const char* c : {"list", "refresh", "pin", "unpin", "export", "import"}) {
    Out o = run({c, "--help"}, cfg, *db);
    CHECK(o.rc == 0);
    CHECK(has(o.out.str(), std::string("usage: edgefhir keys ") + c));
  }
  Out o = run({"--help"}, cfg, *db);
  CHECK(o.rc == 0);
  CHECK(has(o.out.str(), "export FILE"));
  o = run({"frobnicate"}, cfg, *db);
  CHECK(o.rc == 2);
  o = run({}, cfg, *db);
  CHECK(o.rc == 2);
  o = run({"pin", kIss}, cfg, *db);
  CHECK(o.rc == 2);
  o = run({"refresh", "https://nope.example"}, cfg, *db);
  CHECK(o.rc == 1);
  o = run({"refresh"}, cfg, *db);
  CHECK(o.rc == 0);
  CHECK(has(o.out.str(), "nothing to fetch"));
}
