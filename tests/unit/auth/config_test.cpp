// tests/unit/auth/config_test.cpp — the "auth" configuration: defaults, errors naming the
// key and the problem, path resolution; StaticKeyProvider::from_config.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "auth/config.h"
#include "auth/static_keys.h"
#include "test_util.h"
#include "../testing.h"

using namespace ef;
using namespace ef::auth;
using namespace ef::auth::testutil;

namespace {

Result<AuthConfig> parse(const std::string& text, const std::string& base = {}) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return parse_auth_config(*v, base);
}

std::string error_of(const std::string& text) {
  auto r = parse(text);
  return r.ok() ? "OK" : r.status().message;
}

}  // namespace

TEST_CASE("auth config defaults", "[auth][config]") {
  // A key nobody reads (a typo, or a made-up section) stops start-up instead of being ignored.
  auto typo = parse(R"({"audiences":["https://fhir.example.org"],"issuers":[{"issuer":"https://idp.example.org"}],"policy":{"x":1}})");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.status().message.find("auth.policy") != std::string::npos);
  auto c = parse(R"({"audiences":["https://fhir.example.org"],"issuers":[{"issuer":"https://idp.example.org"}],
                     "role_permissions":null,"smart":null,"$comment":"x"})");
  REQUIRE(c.ok());
  CHECK(c->required);
  CHECK(c->clock_skew_seconds == 60);
  CHECK(c->roles_claim == "roles");
  REQUIRE(c->issuers.size() == 1);
  const IssuerConfig& i = c->issuers[0];
  CHECK(i.discovery);
  CHECK(i.algorithms.size() == 9);
  CHECK(i.token_types == std::vector<std::string>{"JWT", "at+jwt"});
  CHECK_FALSE(i.token_types_explicit);
  CHECK(i.refresh_seconds == 3600);
  CHECK(i.refresh_cooldown_seconds == 30);
  CHECK(i.max_staleness_seconds == 604800);
  CHECK(i.key_grace_seconds == 86400);
  CHECK(i.fetch_timeout_seconds == 10);
  CHECK(i.max_jwks_bytes == 1048576);
  CHECK(json::get(c->raw, "smart") != nullptr);  // the raw section is kept for the modules that read it
}

TEST_CASE("auth config full shape and paths", "[auth][config]") {
  auto c = parse(R"({"required":false,"audiences":["a"],"clock_skew_seconds":5,"roles_claim":"groups",
    "issuers":[{"issuer":"https://login.example.com/{tenantid}/v2.0","discovery":false,"jwks_uri":null,
      "algorithms":["PS256","HS512"],"pinned_keys":["certs/x.pem","/abs/y.pem"],"token_types":["at+jwt"],
      "hmac_secret_file":"secret.txt","refresh_seconds":600,"refresh_cooldown_seconds":10,
      "max_staleness_seconds":0,"key_grace_seconds":0,"ca_file":"ca.pem","fetch_timeout_seconds":3,
      "max_jwks_bytes":2048}]})",
                 "/etc/edgefhir");
  REQUIRE(c.ok());
  CHECK_FALSE(c->required);
  CHECK(c->roles_claim == "groups");
  const IssuerConfig& i = c->issuers[0];
  CHECK(i.has_tenant_template());
  CHECK(i.pinned_keys == std::vector<std::string>{"/etc/edgefhir/certs/x.pem", "/abs/y.pem"});
  CHECK(i.hmac_secret_file == "/etc/edgefhir/secret.txt");
  CHECK(i.ca_file == "/etc/edgefhir/ca.pem");
  CHECK(i.token_types_explicit);
  CHECK(i.max_jwks_bytes == 2048);
}

TEST_CASE("auth config errors name the key and the problem", "[auth][config]") {
  const std::string iss = R"("issuer":"https://idp")";
  auto one = [&](const std::string& extra) {
    return error_of(R"({"audiences":["a"],"issuers":[{)" + iss + extra + "}]}");
  };
  CHECK(one(R"(,"algorithms":["RS256","XY256"])") == "auth.issuers[0].algorithms: 'XY256' is not a supported algorithm");
  CHECK(one(R"(,"algorithms":["none"])") == "auth.issuers[0].algorithms: 'none' is not a supported algorithm");
  CHECK(one(R"(,"algorithms":[])") == "auth.issuers[0].algorithms: must list at least one algorithm");
  CHECK(one(R"(,"algorithms":["HS256"])") == "auth.issuers[0].algorithms: HS* algorithms need 'hmac_secret_file'");
  CHECK(one(R"(,"hmac_secret_file":"s")") == "OK");  // implies ["HS256"]
  CHECK(one(R"(,"algorithms":["RS256"],"hmac_secret_file":"s")") ==
        "auth.issuers[0].hmac_secret_file: is set but no HS* algorithm is listed in 'algorithms'");
  CHECK(one(R"(,"refresh_seconds":"1h")") == "auth.issuers[0].refresh_seconds: must be an integer");
  CHECK(one(R"(,"refresh_seconds":5)") == "auth.issuers[0].refresh_seconds: must be between 60 and 2592000");
  CHECK(one(R"(,"discovery":"yes")") == "auth.issuers[0].discovery: must be true or false");
  CHECK(one(R"(,"pinned_keys":"x.pem")") == "auth.issuers[0].pinned_keys: must be an array of strings");
  CHECK(one(R"(,"token_types":[])") ==
        "auth.issuers[0].token_types: must not be empty (omit it for the default [\"JWT\", \"at+jwt\"])");
  CHECK(one(R"(,"jwks_uri":"ftp://x")") == "auth.issuers[0].jwks_uri: must be an http(s) URL");
  CHECK(one(R"(,"algoritms":["RS256"])") == "auth.issuers[0].algoritms: is not a known setting");
  CHECK(error_of(R"({"audiences":["a"],"issuers":[{"discovery":true}]})") == "auth.issuers[0].issuer: is required");
  CHECK(error_of(R"({"audiences":["a"],"issuers":[{"issuer":"x"},{"issuer":"x"}]})") ==
        "auth.issuers[1].issuer: 'x' is listed twice");
  CHECK(error_of(R"({"issuers":[{"issuer":"x"}]})") ==
        "auth.audiences: must list at least one audience when issuers are configured");
  CHECK(error_of(R"({"audiences":["a"]})") ==
        "auth.issuers: must list at least one trusted issuer when auth.required is true");
  CHECK(error_of(R"({"required":false})") == "OK");
  CHECK(error_of(R"({"required":false,"clock_skew_seconds":-1})") == "auth.clock_skew_seconds: must be between 0 and 3600");
  CHECK(error_of(R"({"required":false,"audiences":[""]})") == "auth.audiences[0]: must be a non-empty string");
  CHECK(error_of(R"({"required":false,"issuers":{}})") == "auth.issuers: must be an array");
  CHECK(error_of("[]") == "auth: must be an object");
}

TEST_CASE("StaticKeyProvider from config and kid matching", "[auth][config]") {
  std::string dir = testing::temp_path("auth-cfg");
  std::string pem = dir + "-pub.pem", sec = dir + "-secret.txt";
  std::ofstream(pem) << ec_pair().public_pem;
  std::ofstream(sec) << std::string(40, 'z') << "\n";
  auto c = parse(R"({"audiences":["a"],"issuers":[{"issuer":"https://idp","pinned_keys":[")" + pem +
                 R"("]},{"issuer":"https://local","hmac_secret_file":")" + sec + R"("}]})");
  REQUIRE(c.ok());
  auto p = StaticKeyProvider::from_config(*c);
  REQUIRE(p.ok());
  CHECK((*p)->size() == 2);
  auto ks = (*p)->find("https://idp", "any-kid");  // pins without kid match every kid
  REQUIRE(ks.size() == 1);
  CHECK(ks[0]->source == KeySource::pinned);
  CHECK(ks[0]->issuer == "https://idp");
  auto hs = (*p)->find("https://local", "");
  REQUIRE(hs.size() == 1);
  CHECK(hs[0]->type == KeyType::hmac);
  CHECK(hs[0]->secret == std::string(40, 'z'));  // trailing newline stripped
  CHECK((*p)->find("https://other", "").empty());
  uint64_t g = (*p)->generation();
  Key k = *ks[0];
  k.kid = "only-me";
  (*p)->add("https://idp", k);
  CHECK((*p)->generation() == g + 1);
  CHECK((*p)->find("https://idp", "only-me").size() == 2);
  CHECK((*p)->find("https://idp", "someone-else").size() == 1);
  // Short secret refused.
  std::ofstream(sec) << "short";
  auto bad = StaticKeyProvider::from_config(*c);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message.find("at least 32 are required") != std::string::npos);
  std::remove(pem.c_str());
  std::remove(sec.c_str());
  auto missing = StaticKeyProvider::from_config(*c);
  CHECK(missing.status().message.find("cannot open") != std::string::npos);
}
