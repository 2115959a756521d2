// tests/fuzz/fuzz_search.cpp — search-query parsing (fhir/search_query.h): query-string
// splitting and decoding, parameter/modifier/prefix/chain/_has parsing, result parameters,
// and _summary/_elements subsetting.
// Input: byte 0 = flags (bit 0 strict, bit 1 form body, bit 2 system search), then
// TYPE NUL QUERY-STRING.
// Invariants: no crash/UB/exception; errors have messages; _count within the configured
// bounds; the canonical parameters (what the self link is built from) re-encoded as a query
// string parse again to the same canonical parameters (the self link is stable).
#include "fhir/search_query.h"
#include "fuzz_util.h"
#include "http/url.h"
#include "util/json.h"

using namespace ef;

static std::string encode(const fhir::QueryParams& ps) {
  std::string q;
  for (auto& [k, v] : ps) {
    if (!q.empty()) q += '&';
    q += http::url_encode(k) + "=" + http::url_encode(v);
  }
  return q;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t flags = data[0];
  auto parts = fuzz::split(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 2);
  if (parts.size() < 2) return 0;
  std::string type = (flags & 4) ? std::string() : std::string(parts[0]);
  auto params = fhir::parse_query_string(parts[1], flags & 2);
  if (!params) {
    FUZZ_CHECK(!params.status().message.empty(), "query-string error without message");
    return 0;
  }
  fhir::SearchParseOptions opt;
  opt.strict = flags & 1;
  opt.base_url = "http://localhost:8080";
  opt.default_count = 50;
  opt.max_count = 1000;
  auto q = fhir::parse_search(type, *params, opt);
  if (!q) {
    FUZZ_CHECK(!q.status().message.empty(), "search error without message");
    return 0;
  }
  FUZZ_CHECK(q->count >= 0 && q->count <= opt.max_count, "_count outside its bounds");
  // the self link: canonical parameters, re-encoded, parse to the same canonical parameters
  std::string self = encode(q->canonical);
  auto again_params = fhir::parse_query_string(self, false);
  FUZZ_CHECK(again_params.ok(), "self link does not split: " + self);
  auto again = fhir::parse_search(type, *again_params, opt);
  FUZZ_CHECK(again.ok(), "self link does not parse: " + self + " — " + (again.ok() ? "" : again.status().message));
  FUZZ_CHECK(again->canonical == q->canonical, "self link is not stable: " + self + " -> " + encode(again->canonical));
  FUZZ_CHECK(again->criteria.size() == q->criteria.size(), "self link changed the criteria");
  static const std::string body =
      R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"active":true,"name":[{"family":"F"}],"extension":[{"url":"u","valueString":"v"}]})";
  std::string sub = fhir::subset_resource(body, q->summary, q->elements);
  json::ParseOptions po;
  po.preserve_numbers = true;
  FUZZ_CHECK(json::parse(sub, po).ok(), "subset resource is not JSON");
  return 0;
}
