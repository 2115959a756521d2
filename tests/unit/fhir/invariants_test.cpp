// The FHIRPath invariants of the type model in the validator (fhir/invariants.h, validate.cpp):
// every one compiles, failures are issues with the key and the definition's severity, and the
// step budget bounds a hostile resource (a warning, never a refusal).
#include <catch2/catch.hpp>

#include "fhir/invariants.h"
#include "fhir/validate.h"
#include "util/json.h"

using namespace ef;
using namespace ef::fhir;

namespace {
std::vector<Issue> check(const std::string& text) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  o.max_values = 10'000'000;
  auto r = json::parse(text, o);
  REQUIRE(r.ok());
  return validate_resource(*r);
}
}  // namespace

TEST_CASE("invariants: every one of the model compiles or is checked natively", "[invariants]") {
  auto s = invariants::stats();
  INFO((s.not_compiled.empty() ? std::string() : s.not_compiled[0]));
  CHECK(s.total == model::model().invariants().size());
  CHECK(s.total >= 200);
  CHECK(s.not_compiled.empty());
  CHECK(s.native + s.compiled == s.total);
}

TEST_CASE("invariants: failures are issues with key, severity and path", "[invariants]") {
  auto is = check(R"({"resourceType":"Patient","identifier":[{"value":"1","period":{"start":"2020-02-01","end":"2019-01-01"}}]})");
  REQUIRE(is.size() == 1);
  CHECK(is[0].code == "invariant");
  CHECK(is[0].severity == "error");
  CHECK(is[0].expression == "Patient.identifier[0].period");
  CHECK(is[0].diagnostics.find("per-1") != std::string::npos);
  CHECK(check(R"({"resourceType":"Patient","identifier":[{"value":"1","period":{"start":"2019-02-01","end":"2020-01-01"}}]})").empty());
  // different precisions: unknown, which passes
  CHECK(check(R"({"resourceType":"Patient","identifier":[{"value":"1","period":{"start":"2019","end":"2019-01-01"}}]})").empty());
  // a warning-severity invariant (nor-1)
  is = check(R"({"resourceType":"NutritionOrder","status":"active","intent":"order","patient":{"reference":"Patient/x"},"dateTime":"2020-01-01"})");
  REQUIRE(is.size() == 1);
  CHECK(is[0].severity == "warning");
  CHECK(is[0].diagnostics.find("nor-1") != std::string::npos);
}

TEST_CASE("invariants: the step budget bounds a hostile resource", "[invariants]") {
  std::string q = R"({"resourceType":"Questionnaire","status":"active","item":[)";
  for (int i = 0; i < 20000; i++) q += std::string(i ? "," : "") + R"({"linkId":"l)" + std::to_string(i) + R"(","type":"string"})";
  q += "]}";
  auto is = check(q);
  bool costly = false;
  for (const auto& i : is) {
    CHECK(i.severity == "warning");  // never an error: invariants not evaluated count as passed
    costly = costly || i.code == "too-costly";
  }
  CHECK(costly);
  // a small one is evaluated in full: que-2 (linkIds unique) on two items
  is = check(R"({"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"string"},{"linkId":"a","type":"string"}]})");
  REQUIRE(is.size() == 1);
  CHECK(is[0].diagnostics.find("que-2") != std::string::npos);
}
