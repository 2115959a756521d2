// Tests for fhir/element_order: resources written in the order of the R4 definitions, nested
// types and resources included, numbers kept exactly, unknown members last.
#include <catch2/catch.hpp>

#include "fhir/element_order.h"

using namespace ef;

namespace {
std::string ordered(const std::string& text) {
  json::ParseOptions po;
  po.preserve_numbers = true;
  auto v = json::parse(text, po);
  REQUIRE(v);
  return fhir::write_in_definition_order(*v);
}
}  // namespace

TEST_CASE("element order: Patient in definition order", "[fhir][order]") {
  CHECK(ordered(R"({"name":[{"given":["A"],"family":"B","use":"official"}],"gender":"female","birthDate":"1970",
    "meta":{"versionId":"1","lastUpdated":"2020-01-01T00:00:00Z"},"id":"p","resourceType":"Patient","active":true})") ==
        R"({"resourceType":"Patient","id":"p","meta":{"versionId":"1","lastUpdated":"2020-01-01T00:00:00Z"},)"
        R"("active":true,"name":[{"use":"official","family":"B","given":["A"]}],"gender":"female","birthDate":"1970"})");
}

TEST_CASE("element order: choice, primitive extensions, contained, numbers, unknown members", "[fhir][order]") {
  CHECK(ordered(R"({"resourceType":"Observation","valueQuantity":{"unit":"g","value":1.50},"status":"final",
    "code":{"text":"x"},"_status":{"id":"s"},"zzz":1,"contained":[{"name":"o","resourceType":"Organization","id":"o"}]})") ==
        R"({"resourceType":"Observation","contained":[{"resourceType":"Organization","id":"o","name":"o"}],)"
        R"("status":"final","_status":{"id":"s"},"code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"g"},"zzz":1})");
}

TEST_CASE("element order: Bundle entries in their own types", "[fhir][order]") {
  CHECK(ordered(R"({"type":"collection","resourceType":"Bundle","entry":[{"resource":{"gender":"male","id":"x",
    "resourceType":"Patient"},"fullUrl":"urn:x"}]})") ==
        R"({"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:x","resource":)"
        R"({"resourceType":"Patient","id":"x","gender":"male"}}]})");
}
