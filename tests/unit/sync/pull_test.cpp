// The pure logic of sync pull (sync/pull_logic.h) and its configuration (sync.pull): next-link
// origin checks, cursor/overlap paths, de-duplication by version, page parsing (fail closed).
#include <catch2/catch.hpp>

#include "sync/pull_logic.h"
#include "sync/sync_config.h"
#include "util/time.h"

using namespace ef;
using namespace ef::sync;

namespace {
Endpoint ep(const std::string& url) {
  auto e = parse_endpoint(url);
  REQUIRE(e.ok());
  return *e;
}
Result<SyncConfig> parse(const std::string& text) {
  auto v = json::parse(text);
  REQUIRE(v.ok());
  return parse_sync_config(&*v, "config x.json");
}
std::string error_of(const std::string& text) {
  auto c = parse(text);
  REQUIRE_FALSE(c.ok());
  return c.status().message;
}
}  // namespace

TEST_CASE("sync pull: next links are followed only on the upstream's origin and base path", "[sync][pull]") {
  Endpoint e = ep("https://fhir.example.org/r4");
  auto ok = next_link_path("https://fhir.example.org/r4/Patient?_cursor=abc&_count=50", e);
  REQUIRE(ok.ok());
  CHECK(*ok == "/Patient?_cursor=abc&_count=50");
  auto ok2 = next_link_path("https://FHIR.example.org:443/r4?_cursor=x", e);
  REQUIRE(ok2.ok());
  CHECK(*ok2 == "?_cursor=x");
  // Another host, scheme, port, base path, or userinfo tricks: refused, and the message says why.
  for (const char* bad : {"https://evil.example.org/r4/Patient?_cursor=1", "http://fhir.example.org/r4/Patient",
                          "https://fhir.example.org:8443/r4/Patient", "https://fhir.example.org/r5/Patient",
                          "https://fhir.example.org/r4x/Patient", "https://fhir.example.org/Patient",
                          "https://fhir.example.org.evil.org/r4/Patient", "/r4/Patient?_cursor=1",
                          "https://fhir.example.org/r4/../admin", "javascript:alert(1)"}) {
    auto r = next_link_path(bad, e);
    INFO(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().message.find("not followed") != std::string::npos);
  }
  auto root = next_link_path("http://127.0.0.1:8080/Patient?_cursor=2", ep("http://127.0.0.1:8080"));
  REQUIRE(root.ok());
  CHECK(*root == "/Patient?_cursor=2");
}

TEST_CASE("sync pull: search and history paths carry the cursor minus the overlap", "[sync][pull]") {
  PullQuery q;
  q.search = "Patient?organization=Organization/clinic-1";
  REQUIRE(parse_pull_search(q).ok());
  CHECK(q.type == "Patient");
  CHECK(q.query == "organization=Organization%2Fclinic-1");
  CHECK(search_path(q, 0, 10, 500) == "/Patient?organization=Organization%2Fclinic-1&_sort=_lastUpdated&_count=500");
  int64_t cur = 1764763200000;  // 2025-12-03T12:00:00Z
  std::string p = search_path(q, cur, 10, 500);
  CHECK(p == "/Patient?organization=Organization%2Fclinic-1&_sort=_lastUpdated&_count=500&_lastUpdated=ge" +
                 query_encode(timefmt::format_instant(cur - 10000)));
  CHECK(p.find("2025-12-03T11%3A59%3A50.000Z") == std::string::npos);  // ':' kept readable
  CHECK(p.find("ge2025-12-03T11:59:50.000Z") != std::string::npos);
  CHECK(history_path("Patient", cur, 0, 100) == "/Patient/_history?_since=2025-12-03T12:00:00.000Z&_count=100");
  PullQuery all;
  all.search = "Practitioner";
  REQUIRE(parse_pull_search(all).ok());
  CHECK(search_path(all, 0, 10, 20) == "/Practitioner?_sort=_lastUpdated&_count=20");
}

TEST_CASE("sync pull: de-duplication by version", "[sync][pull]") {
  CHECK_FALSE(already_have(std::nullopt, "1"));
  CHECK(already_have(std::string("3"), "3"));
  CHECK(already_have(std::string("3"), "2"));  // older than held (overlap re-read)
  CHECK_FALSE(already_have(std::string("3"), "4"));
  CHECK_FALSE(already_have(std::string("10"), "11"));
  CHECK(already_have(std::string("10"), "9"));  // numeric, not text, comparison
  CHECK(already_have(std::string("abc"), "abc"));
  CHECK_FALSE(already_have(std::string("abc"), "abd"));  // opaque versions: equality only
  CHECK_FALSE(already_have(std::string("3"), ""));       // no version given: never assumed held
}

TEST_CASE("sync pull: search pages are parsed and checked (fail closed)", "[sync][pull]") {
  std::string page = R"({"resourceType":"Bundle","type":"searchset",
    "link":[{"relation":"self","url":"x"},{"relation":"next","url":"https://u/Patient?_cursor=2"}],
    "entry":[{"resource":{"resourceType":"Patient","id":"a","meta":{"versionId":"2","lastUpdated":"2026-01-01T00:00:01.500Z"},
               "extension":[{"url":"u","valueDecimal":1.50}]},"search":{"mode":"match"}},
             {"resource":{"resourceType":"Organization","id":"o"},"search":{"mode":"include"}},
             {"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}}]})";
  auto p = parse_search_page(page, "Patient");
  REQUIRE(p.ok());
  REQUIRE(p->entries.size() == 1);
  CHECK(p->entries[0].id == "a");
  CHECK(p->entries[0].version == "2");
  CHECK(p->entries[0].last_updated == timefmt::parse_fhir_time("2026-01-01T00:00:01.500Z")->lo_ms);
  CHECK(json::write(p->entries[0].resource).find("1.50") != std::string::npos);  // decimals keep their precision
  CHECK(p->next == "https://u/Patient?_cursor=2");
  // A match of another type, a bad id, a missing lastUpdated, not a searchset: refused.
  CHECK_FALSE(parse_search_page(R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":
    {"resourceType":"Observation","id":"x","meta":{"lastUpdated":"2026-01-01T00:00:00Z"}}}]})", "Patient").ok());
  CHECK_FALSE(parse_search_page(R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":
    {"resourceType":"Patient","id":"a/../b","meta":{"lastUpdated":"2026-01-01T00:00:00Z"}}}]})", "Patient").ok());
  CHECK_FALSE(parse_search_page(R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":
    {"resourceType":"Patient","id":"a"}}]})", "Patient").ok());
  CHECK_FALSE(parse_search_page(R"({"resourceType":"Bundle","type":"history"})", "Patient").ok());
  CHECK_FALSE(parse_search_page(R"({"resourceType":"Patient"})", "Patient").ok());
  CHECK_FALSE(parse_search_page("not json", "Patient").ok());
}

TEST_CASE("sync pull: history pages give deletions with their version and time", "[sync][pull]") {
  std::string page = R"({"resourceType":"Bundle","type":"history","entry":[
    {"fullUrl":"https://u/Patient/a","request":{"method":"DELETE","url":"Patient/a"},
     "response":{"status":"204 No Content","etag":"W/\"3\"","lastModified":"2026-01-01T00:00:05.000Z"}},
    {"resource":{"resourceType":"Patient","id":"b","meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:04.000Z"}},
     "request":{"method":"PUT","url":"Patient/b"},"response":{"status":"201 Created","etag":"W/\"1\""}}]})";
  auto p = parse_history_page(page, "Patient");
  REQUIRE(p.ok());
  REQUIRE(p->entries.size() == 2);
  CHECK(p->entries[0].deleted);
  CHECK(p->entries[0].id == "a");
  CHECK(p->entries[0].version == "3");
  CHECK(p->entries[0].last_updated == timefmt::parse_fhir_time("2026-01-01T00:00:05.000Z")->lo_ms);
  CHECK_FALSE(p->entries[1].deleted);
  CHECK(p->entries[1].last_updated == timefmt::parse_fhir_time("2026-01-01T00:00:04.000Z")->lo_ms);
  // A deletion of another type in a type history: refused.
  CHECK_FALSE(parse_history_page(R"({"resourceType":"Bundle","type":"history","entry":[
    {"request":{"method":"DELETE","url":"Observation/a"},"response":{"etag":"W/\"2\""}}]})", "Patient").ok());
}

TEST_CASE("sync pull: configuration is checked at start, errors name the key", "[sync][pull]") {
  auto c = parse(R"({"upstream":"https://u.example","conflict_policy":"manual",
    "pull":[{"search":"Patient?organization=Organization/clinic-1","interval_seconds":60},{"search":"Location"}]})");
  REQUIRE(c.ok());
  REQUIRE(c->pull.size() == 2);
  CHECK(c->pull[0].interval_seconds == 60);
  CHECK(c->pull[1].type == "Location");
  CHECK(c->pull[1].interval_seconds == 60);
  CHECK(c->conflict_policy == ConflictPolicy::manual);
  CHECK(c->pull_page_size == 500);
  CHECK(c->pull_overlap_seconds == 10);
  CHECK(parse(R"({"upstream":"https://u.example","conflict_policy":"upstream-wins"})")->conflict_policy ==
        ConflictPolicy::upstream_wins);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patent"}]})").find("'sync.pull[0].search'") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patient?nosuchparam=1"}]})")
            .find("sync.pull[0].search") != std::string::npos);
  for (const char* managed : {"_count=5", "_sort=name", "_include=Patient:organization", "_elements=name",
                              "_summary=true", "_lastUpdated=ge2020", "_cursor=x", "_revinclude=Observation:subject"}) {
    INFO(managed);
    std::string e = error_of(std::string(R"({"upstream":"https://u.example","pull":[{"search":"Patient?)") + managed +
                             "\"}]}");
    CHECK(e.find("not allowed in a pull search") != std::string::npos);
  }
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patient?name=%zz"}]})").find("sync.pull[0]") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patient","interval_seconds":0}]})")
            .find("sync.pull[0].interval_seconds") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patient","every":5}]})")
            .find("sync.pull[0].every") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":[{"search":"Patient"},{"search":"Patient"}]})")
            .find("repeats") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull":"Patient"})").find("'sync.pull'") != std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","pull_page_size":5000})").find("sync.pull_page_size") !=
        std::string::npos);
  CHECK(error_of(R"({"upstream":"https://u.example","conflict_policy":"cloud-wins"})").find("manual") !=
        std::string::npos);
}
