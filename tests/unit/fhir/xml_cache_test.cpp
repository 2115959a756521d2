// Tests for fhir/xml_cache: a hit is byte-identical to write_text, the key is the whole text
// and the pretty flag, the budget bounds the bytes kept (least recently used evicted first),
// oversized texts are not kept, budget 0 keeps nothing.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fhir/xml.h"
#include "fhir/xml_cache.h"

using namespace ef::fhir::xml;

namespace {
std::string patient(int i, size_t pad = 0) {
  std::string id = std::to_string(i);
  id = std::string(3 - std::min<size_t>(3, id.size()), '0') + id;  // p000: one size for every i < 1000
  return R"({"resourceType":"Patient","id":"p)" + id + R"(","name":[{"family":")" +
         std::string(pad, 'x') + R"("}],"gender":"female"})";
}
}  // namespace

TEST_CASE("xml render cache: same bytes as write_text, keyed by content and pretty", "[xml][xml_cache]") {
  RenderCache cache(1 << 20);
  std::string a = patient(1), want, want_pretty, got;
  REQUIRE(write_text(a, false, &want));
  REQUIRE(write_text(a, true, &want_pretty));
  REQUIRE(cache.render(a, false, &got));
  CHECK(got == want);
  REQUIRE(cache.render(a, false, &got));
  CHECK(got == want);
  REQUIRE(cache.render(a, true, &got));
  CHECK(got == want_pretty);
  auto s = cache.stats();
  CHECK(s.hits == 1);
  CHECK(s.misses == 2);
  CHECK(s.entries == 2);
  CHECK(s.bytes == 2 * (a.size() + RenderCache::kEntryOverhead) + want.size() + want_pretty.size());
  // a different text of the same length is another entry, rendered from its own content
  std::string b = patient(2);
  REQUIRE(b.size() == a.size());
  REQUIRE(cache.render(b, false, &got));
  CHECK(got.find("<id value=\"p002\"/>") != std::string::npos);
  // not a JSON object: false, nothing kept
  CHECK_FALSE(cache.render("[1,2]", false, &got));
  CHECK(cache.stats().entries == 3);
}

TEST_CASE("xml render cache: budget, eviction order, oversized texts, off", "[xml][xml_cache]") {
  std::string probe;
  REQUIRE(write_text(patient(0, 100), false, &probe));
  size_t cost = patient(0, 100).size() + probe.size() + RenderCache::kEntryOverhead;
  RenderCache cache(cost * 10);  // ten entries of this size
  std::string out;
  for (int i = 0; i < 10; ++i) REQUIRE(cache.render(patient(i, 100), false, &out));
  CHECK(cache.stats().entries == 10);
  REQUIRE(cache.render(patient(0, 100), false, &out));  // p0 becomes the most recent
  REQUIRE(cache.render(patient(10, 100), false, &out));  // evicts p1, the least recent
  auto s = cache.stats();
  CHECK(s.entries == 10);
  CHECK(s.bytes <= s.budget);
  uint64_t hits = s.hits;
  REQUIRE(cache.render(patient(0, 100), false, &out));
  CHECK(cache.stats().hits == hits + 1);
  REQUIRE(cache.render(patient(1, 100), false, &out));
  CHECK(cache.stats().hits == hits + 1);  // p1 was evicted: a miss
  // larger than budget/8: rendered, not kept
  size_t before = cache.stats().entries;
  std::string big = patient(99, cost * 2);
  std::string want;
  REQUIRE(write_text(big, false, &want));
  REQUIRE(cache.render(big, false, &out));
  CHECK(out == want);
  CHECK(cache.stats().entries == before);
  // off
  cache.set_budget(0);
  CHECK(cache.stats().entries == 0);
  CHECK(cache.stats().bytes == 0);
  REQUIRE(cache.render(patient(3, 100), false, &out));
  CHECK(cache.stats().entries == 0);
}
