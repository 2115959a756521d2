// Outbox: coalescing keeps the newest change per resource in commit order; the progress
// mark never passes an unacknowledged change; Bundles and their responses; backoff.
#include <catch2/catch.hpp>

#include "sync/http.h"
#include "sync/outbox.h"
#include "sync/pusher.h"
#include "sync/token_client.h"

using namespace ef;

namespace {
store::SyncChange ch(int64_t seq, const std::string& type, const std::string& id, int64_t version, bool del = false) {
  store::SyncChange c;
  c.seq = seq;
  c.type = type;
  c.id = id;
  c.version = version;
  c.is_delete = del;
  if (!del)
    c.body = "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" +
             std::to_string(version) + "\",\"lastUpdated\":\"2026-01-01T00:00:00.000Z\"},\"active\":true}";
  return c;
}
}  // namespace

TEST_CASE("coalesce keeps only the newest change of each resource, ordered by that change", "[sync]") {
  std::vector<store::SyncChange> in = {ch(11, "Patient", "a", 1), ch(12, "Patient", "b", 1),
                                       ch(13, "Patient", "a", 2), ch(14, "Observation", "o", 1),
                                       ch(15, "Patient", "b", 2, true), ch(16, "Patient", "c", 1)};
  auto out = sync::coalesce(in);
  REQUIRE(out.size() == 4);
  CHECK(out[0].type + "/" + out[0].id == "Patient/a");
  CHECK(out[0].seq == 13);
  CHECK(out[0].first_seq == 11);
  CHECK(out[0].local_version == 2);
  CHECK(out[0].coalesced == 2);
  CHECK(out[1].id == "o");
  CHECK(out[2].id == "b");
  CHECK(out[2].is_delete);
  CHECK(out[2].body.empty());
  CHECK(out[2].first_seq == 12);
  CHECK(out[3].id == "c");
  // The edge's own version stamps are not sent.
  CHECK(out[0].body == "{\"resourceType\":\"Patient\",\"active\":true,\"id\":\"a\"}");
}

TEST_CASE("progress mark stops just before the oldest change of any unacknowledged entry", "[sync]") {
  auto e = sync::coalesce({ch(11, "Patient", "a", 1), ch(12, "Patient", "b", 1), ch(13, "Patient", "a", 2),
                           ch(14, "Patient", "c", 1)});
  // entries: b(12), a(11..13), c(14)
  REQUIRE(e.size() == 3);
  CHECK(sync::progress_mark(20, e, {true, true, true}) == 20);
  CHECK(sync::progress_mark(20, e, {true, false, true}) == 10);  // a's first change is seq 11
  CHECK(sync::progress_mark(20, e, {true, true, false}) == 13);
  CHECK(sync::progress_mark(20, e, {false, true, true}) == 11);
  CHECK(sync::progress_mark(20, e, {}) == 10);
}

TEST_CASE("transaction Bundle: PUT with ifMatch, DELETE, fullUrl; response parsing", "[sync]") {
  auto e = sync::coalesce({ch(1, "Patient", "a", 3), ch(2, "Patient", "b", 2, true)});
  e[0].if_match = "7";
  std::string b = sync::make_bundle(e, true, "https://up.example/fhir");
  auto v = json::parse(b);
  REQUIRE(v.ok());
  CHECK(json::string_or(*v, "type") == "transaction");
  const json::Array* entries = json::get_array(*v, "entry");
  REQUIRE(entries->size() == 2);
  const json::Value* r0 = json::get((*entries)[0], "request");
  CHECK(json::string_or(*r0, "method") == "PUT");
  CHECK(json::string_or(*r0, "url") == "Patient/a");
  CHECK(json::string_or(*r0, "ifMatch") == "W/\"7\"");
  CHECK(json::string_or((*entries)[0], "fullUrl") == "https://up.example/fhir/Patient/a");
  CHECK(json::get((*entries)[0], "resource") != nullptr);
  const json::Value* r1 = json::get((*entries)[1], "request");
  CHECK(json::string_or(*r1, "method") == "DELETE");
  CHECK(json::get(*r1, "ifMatch") == nullptr);
  CHECK(json::get((*entries)[1], "resource") == nullptr);

  auto ok = sync::parse_bundle_response(
      R"({"resourceType":"Bundle","type":"transaction-response","entry":[
        {"response":{"status":"201 Created","etag":"W/\"1\""}},
        {"response":{"status":"200 OK","location":"Patient/b/_history/4"}},
        {"response":{"status":"412 Precondition Failed","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"version mismatch"}]}}}]})",
      3);
  REQUIRE(ok.ok());
  CHECK((*ok)[0].status == 201);
  CHECK((*ok)[0].version == "1");
  CHECK((*ok)[1].version == "4");
  CHECK((*ok)[2].status == 412);
  CHECK((*ok)[2].diagnostics == "version mismatch");
  CHECK_FALSE(sync::parse_bundle_response(R"({"resourceType":"Bundle","entry":[]})", 1).ok());
  CHECK_FALSE(sync::parse_bundle_response(R"({"resourceType":"OperationOutcome"})", 0).ok());
}

TEST_CASE("same_content ignores version stamps only", "[sync]") {
  CHECK(sync::same_content(R"({"resourceType":"Patient","id":"a","meta":{"versionId":"1"},"active":true})",
                           R"({"resourceType":"Patient","active":true,"id":"a","meta":{"versionId":"9","lastUpdated":"2020-01-01T00:00:00Z"}})"));
  CHECK_FALSE(sync::same_content(R"({"resourceType":"Patient","id":"a","active":true})",
                                 R"({"resourceType":"Patient","id":"a","active":false})"));
  CHECK_FALSE(sync::same_content(R"({"resourceType":"Patient","id":"a","meta":{"source":"x"}})",
                                 R"({"resourceType":"Patient","id":"a"})"));
  // Numbers compare by their exact text.
  CHECK_FALSE(sync::same_content(R"({"resourceType":"Observation","id":"o","valueQuantity":{"value":1.50}})",
                                 R"({"resourceType":"Observation","id":"o","valueQuantity":{"value":1.5}})"));
}

TEST_CASE("etags, locations, endpoints", "[sync]") {
  CHECK(sync::etag_version("W/\"12\"") == "12");
  CHECK(sync::etag_version("\"a1\"") == "a1");
  CHECK(sync::etag_version("12").empty());
  CHECK(sync::location_version("https://x/fhir/Patient/1/_history/5") == "5");
  CHECK(sync::location_version("Patient/1").empty());
  auto e = sync::parse_endpoint("https://Fhir.Example.org/r4/");
  REQUIRE(e.ok());
  CHECK(e->host == "fhir.example.org");
  CHECK(e->port == 443);
  CHECK(e->base_path == "/r4");
  CHECK_FALSE(sync::parse_endpoint("http://10.0.0.1/fhir").ok());
  CHECK_FALSE(sync::parse_endpoint("https://h/fhir?x=1").ok());
  CHECK(sync::parse_endpoint("http://localhost:8080").ok());
  CHECK(sync::is_loopback_host("127.9.9.9"));
  CHECK_FALSE(sync::is_loopback_host("127.0.0.1.evil.org"));
}

TEST_CASE("backoff doubles up to the cap, with jitter in [d/2, d]", "[sync]") {
  CHECK(sync::backoff_ms(1, 1, 300, 0.0) == 500);
  CHECK(sync::backoff_ms(1, 1, 300, 0.999999) <= 1000);
  CHECK(sync::backoff_ms(2, 1, 300, 0.0) == 1000);
  CHECK(sync::backoff_ms(4, 1, 300, 0.0) == 4000);
  CHECK(sync::backoff_ms(40, 1, 300, 0.0) == 150000);
  CHECK(sync::backoff_ms(40, 1, 300, 0.9999999) <= 300000);
  CHECK(sync::backoff_ms(40, 1, 300, 0.9999999) > 299000);
  int64_t prev = 0;
  for (int n = 1; n <= 12; ++n) {
    int64_t lo = sync::backoff_ms(n, 2, 60, 0.0), hi = sync::backoff_ms(n, 2, 60, 0.99999);
    CHECK(lo >= prev);
    CHECK(hi >= lo);
    CHECK(hi <= 2 * lo + 1);
    prev = lo;
  }
}

TEST_CASE("token renewal happens before expiry; form encoding", "[sync]") {
  CHECK(sync::renew_at(0, 3600) == (3600 - 60) * 1000);
  CHECK(sync::renew_at(1000, 100) == 1000 + 90 * 1000);
  CHECK(sync::form_encode("a b&c=d/é") == "a+b%26c%3Dd%2F%C3%A9");
}
