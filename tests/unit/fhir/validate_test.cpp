// Tests for fhir/validate: the structural checks of $validate, one rule per section, each
// asserting the issue's expression so that a client can find the broken element.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fhir/validate.h"

using namespace ef;

namespace {

std::vector<fhir::Issue> check(const std::string& text, fhir::ValidateOptions opt = {}) {
  json::ParseOptions po;
  po.preserve_numbers = true;
  auto v = json::parse(text, po);
  REQUIRE(v);
  return fhir::validate_resource(*v, opt);
}

bool has(const std::vector<fhir::Issue>& issues, const std::string& expr) {
  return std::any_of(issues.begin(), issues.end(),
                     [&](const fhir::Issue& i) { return i.severity == "error" && i.expression == expr; });
}

std::string dump(const std::vector<fhir::Issue>& issues) {
  std::string s;
  for (const auto& i : issues) s += i.severity + " " + i.expression + ": " + i.diagnostics + "\n";
  return s;
}

}  // namespace

TEST_CASE("validate: a correct resource has no issues") {
  auto is = check(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
    "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-02-29T10:00:00+01:00",
    "valueQuantity":{"value":1.50,"unit":"mg"},"meta":{"lastUpdated":"2024-01-01T00:00:00Z"}})");
  INFO(dump(is));
  CHECK(is.empty());
}

TEST_CASE("validate: resourceType, id and the expected type") {
  CHECK(has(check(R"({"id":"x"})"), "resourceType"));
  CHECK(has(check(R"({"resourceType":"NoSuchThing"})"), "resourceType"));
  fhir::ValidateOptions o;
  o.expected_type = "Patient";
  CHECK(has(check(R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", o), "resourceType"));
  auto bad_id = check(R"({"resourceType":"Patient","id":"has space"})");
  CHECK(has(bad_id, "Patient.id"));
  o.expected_id = "p1";
  o.require_id = true;
  CHECK(has(check(R"({"resourceType":"Patient","id":"p2"})", o), "Patient.id"));
  CHECK(has(check(R"({"resourceType":"Patient"})", o), "Patient.id"));
  CHECK(check(R"({"resourceType":"Patient","id":"p1"})", o).empty());
}

TEST_CASE("validate: primitive formats by element") {
  auto is = check(R"({"resourceType":"Patient","birthDate":"1990-13-45","active":"yes",
    "gender":" female","deceasedDateTime":"yesterday"})");
  INFO(dump(is));
  CHECK(has(is, "Patient.birthDate"));
  CHECK(has(is, "Patient.active"));
  CHECK(has(is, "Patient.gender"));
  CHECK(has(is, "Patient.deceasedDateTime"));
  CHECK(check(R"({"resourceType":"Patient","birthDate":"1990","active":true,"gender":"female"})").empty());
}

TEST_CASE("validate: FHIR JSON rules (no null, empty string, empty array or object)") {
  auto is = check(R"({"resourceType":"Patient","name":[],"telecom":[{}],"language":"","photo":null})");
  INFO(dump(is));
  CHECK(is.size() >= 4);
  CHECK(std::all_of(is.begin(), is.end(), [](const fhir::Issue& i) { return i.severity == "error"; }));
}

TEST_CASE("validate: required elements and references") {
  auto is = check(R"({"resourceType":"Observation","subject":{"reference":"Nope/1"}})");
  INFO(dump(is));
  CHECK(has(is, "Observation.status"));
  CHECK(has(is, "Observation.code"));
  CHECK(std::any_of(is.begin(), is.end(), [](const fhir::Issue& i) {
    return i.severity == "error" && i.expression.find("subject") != std::string::npos;
  }));
  CHECK(check(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "subject":{"reference":"urn:uuid:8f7521f4-3f51-42c5-baa5-2fcebc83e4f5"}})").empty());
}
