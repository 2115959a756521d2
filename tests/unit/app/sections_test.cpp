// tests/unit/app/sections_test.cpp — app::check_sections: every raw config section is parsed
// at start-up, and a bad value stops start-up with a message naming the file and the key.
#include <catch2/catch.hpp>

#include "app/sections.h"

using namespace ef;

namespace {
std::string error_of(const std::string& text) {
  auto cfg = parse_config(text, "t.json");
  REQUIRE(cfg.ok());
  auto s = app::check_sections(*cfg);
  REQUIRE_FALSE(s.ok());
  return s.status().message;
}
}  // namespace

TEST_CASE("check_sections: defaults and good values", "[app][config]") {
  auto cfg = parse_config(R"({"auth": {"required": false}})", "t.json");
  REQUIRE(cfg.ok());
  auto s = app::check_sections(*cfg);
  REQUIRE(s.ok());
  CHECK(s->exports.max_active_jobs == 8);
  CHECK(s->console_enabled);
  CHECK_FALSE(s->metrics_public);
  CHECK_FALSE(s->sync.enabled);

  cfg = parse_config(R"({"auth": {"required": false}, "export": {"max_active_jobs": 3, "retention_seconds": 60},
      "metrics": {"public": true}, "console": {"enabled": false}, "audit": {"retention_days": 7}})", "t.json");
  REQUIRE(cfg.ok());
  s = app::check_sections(*cfg);
  REQUIRE(s.ok());
  CHECK(s->exports.max_active_jobs == 3);
  CHECK(s->exports.retention_seconds == 60);
  CHECK(s->metrics_public);
  CHECK_FALSE(s->console_enabled);
  CHECK(s->audit.retention_days == 7);
}

TEST_CASE("check_sections: a bad value in any section names the file and the key", "[app][config]") {
  const std::string off = R"("auth": {"required": false}, )";
  struct Row {
    std::string section;
    std::string key;  // expected in the message
  };
  const std::vector<Row> rows = {
      {R"("export": {"max_active_jobs": 0})", "export.max_active_jobs"},
      {R"("export": {"retention_seconds": "1d"})", "export.retention_seconds"},
      {R"("export": {"directroy": "/tmp/x"})", "export.directroy"},
      {R"("export": 5)", "export"},
      {R"("metrics": {"public": "yes"})", "metrics.public"},
      {R"("metrics": {"pubic": true})", "pubic"},
      {R"("console": {"enabled": 1})", "console.enabled"},
      {R"("cors": {"allowed_origins": [5]})", "cors.allowed_origins"},
      {R"("sync": {"upstream": "http://fhir.example.org"})", "plain http is allowed only to a loopback"},
  };
  for (const Row& r : rows) {
    INFO(r.section);
    std::string msg = error_of("{" + off + r.section + "}");
    CHECK(msg.find("t.json") != std::string::npos);
    CHECK(msg.find(r.key) != std::string::npos);
  }
  // auth is checked too (before anything touches the database).
  std::string msg = error_of(R"({"auth": {"required": true, "issuers": []}})");
  INFO(msg);
  CHECK(msg.find("issuers") != std::string::npos);
  CHECK(msg.find("t.json") != std::string::npos);
}

TEST_CASE("config: the terminology budgets (limits.*) keep their defaults and refuse bad values", "[app][config]") {
  auto cfg = parse_config(R"({"auth": {"required": false}})", "t.json");
  REQUIRE(cfg.ok());
  CHECK(cfg->limits.max_expansion_concepts == 10000);
  CHECK(cfg->limits.terminology_cache_entries == 256);
  CHECK(cfg->limits.terminology_cache_bytes == 64u * 1024 * 1024);
  cfg = parse_config(R"({"limits": {"max_expansion_concepts": 50, "terminology_cache_entries": 0,
                         "terminology_cache_bytes": 1048576}})", "t.json");
  REQUIRE(cfg.ok());
  CHECK(cfg->limits.max_expansion_concepts == 50);
  CHECK(cfg->limits.terminology_cache_entries == 0);
  CHECK(cfg->limits.terminology_cache_bytes == 1048576);
  for (const char* bad : {R"({"limits": {"max_expansion_concepts": 0}})", R"({"limits": {"max_expansion_concepts": 2000000}})",
                          R"({"limits": {"max_expansion_concepts": "10000"}})", R"({"limits": {"max_expansion_concepts": 1.5}})",
                          R"({"limits": {"terminology_cache_entries": -1}})", R"({"limits": {"terminology_cache_bytes": 1e11}})",
                          R"({"limits": {"terminology_cache_bytes": true}})"}) {
    INFO(bad);
    auto r = parse_config(bad, "t.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message.find("limits.") != std::string::npos);
  }
}
