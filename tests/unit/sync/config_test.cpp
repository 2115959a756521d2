// Sync configuration: defaults, and errors that name the key.
#include <catch2/catch.hpp>

#include "sync/sync_config.h"

using namespace ef;

namespace {
Result<sync::SyncConfig> parse(const std::string& text) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return sync::parse_sync_config(&*v, "config x.json");
}
std::string error_of(const std::string& text) {
  auto c = parse(text);
  REQUIRE_FALSE(c.ok());
  return c.status().message;
}
}  // namespace

TEST_CASE("sync config: absent section is disabled, defaults otherwise", "[sync]") {
  auto none = sync::parse_sync_config(nullptr, "config x.json");
  REQUIRE(none.ok());
  CHECK_FALSE(none->enabled);
  auto c = parse(R"({"upstream":"https://fhir.example.org/r4/"})");
  REQUIRE(c.ok());
  CHECK(c->enabled);
  CHECK(c->upstream == "https://fhir.example.org/r4");
  CHECK(c->interval_seconds == 10);
  CHECK(c->batch_size == 100);
  CHECK(c->conflict_policy == sync::ConflictPolicy::edge_wins);
  CHECK(c->bundle == sync::BundleMode::auto_detect);
  CHECK(c->types.empty());
  CHECK_FALSE(c->uses_token());
  auto off = parse(R"({"upstream":"https://fhir.example.org","enabled":false})");
  REQUIRE(off.ok());
  CHECK_FALSE(off->enabled);
}

TEST_CASE("sync config: the full example of the issue parses", "[sync]") {
  auto c = parse(R"({"upstream":"https://fhir.example.org","token_url":"https://login.example.org/t/oauth2/v2.0/token",
    "client_id":"edge-1","client_secret_file":"certs/sync-secret","scope":"https://fhir.example.org/.default",
    "resource":null,"interval_seconds":10,"batch_size":100,"types":["Patient","Observation","Patient"],
    "conflict_policy":"skip-and-report","max_queue":5000,"ca_file":null})");
  REQUIRE(c.ok());
  CHECK(c->uses_token());
  CHECK(c->client_auth == sync::ClientAuth::secret_basic);
  CHECK(c->types == std::vector<std::string>{"Patient", "Observation"});
  CHECK(c->conflict_policy == sync::ConflictPolicy::skip_and_report);
  CHECK(c->max_queue == 5000);
  CHECK(c->resource.empty());
}

TEST_CASE("sync config: errors name the key and the problem", "[sync]") {
  CHECK(error_of(R"({})").find("'sync.upstream': is required") != std::string::npos);
  CHECK(error_of(R"([])").find("'sync'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"http://fhir.example.org"})").find("plain http is allowed only to a loopback") !=
        std::string::npos);
  CHECK(parse(R"({"upstream":"http://127.0.0.1:9999"})").ok());
  CHECK(parse(R"({"upstream":"http://[::1]:9999/fhir"})").ok());
  CHECK(error_of(R"({"upstream":"ftp://x"})").find("'sync.upstream'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","batch_size":0})").find("'sync.batch_size': must be a whole number from 1") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","interval_seconds":1.5})").find("'sync.interval_seconds'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","conflict_policy":"cloud-wins"})")
            .find("'sync.conflict_policy': must be one of \"edge-wins\", \"upstream-wins\", \"skip-and-report\", "
                  "\"manual\"") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","types":["Patient","Pateint"]})")
            .find("'sync.types[1]': 'Pateint' is not a FHIR R4 resource type") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","types":[]})").find("'sync.types'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","upsteam":"x"})").find("'sync.upsteam': unknown key") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","token_url":"https://t"})").find("'sync.client_id': is required") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","token_url":"https://t","client_id":"c"})")
            .find("'sync.client_secret_file': is required") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","token_url":"https://t","client_id":"c","client_auth":"private_key_jwt"})")
            .find("'sync.client_key_file': is required") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","client_id":"c"})").find("'sync.client_id': is only meaningful with token_url") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","token_url":"http://login.example.org/token","client_id":"c","client_secret_file":"f"})")
            .find("'sync.token_url'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","backoff_initial_seconds":10,"backoff_max_seconds":5})")
            .find("'sync.backoff_max_seconds'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://a","enabled":"yes"})").find("'sync.enabled': must be true or false") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://user:pw@a"})").find("user information") != std::string::npos);
}
