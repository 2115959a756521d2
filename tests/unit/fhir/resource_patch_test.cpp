#include <catch2/catch.hpp>

#include "fhir/json_patch.h"
#include "fhir/resource.h"

using namespace ef;

TEST_CASE("resource parsing enforces FHIR JSON rules", "[fhir]") {
  CHECK(fhir::parse_resource(R"({"resourceType":"Patient","id":"a"})").ok());
  CHECK(fhir::parse_resource(R"({"resourceType":"Patient","name":[]})").status().message.find("empty arrays") != std::string::npos);
  CHECK(fhir::parse_resource(R"({"resourceType":"Patient","gender":null})").status().message.find("null") != std::string::npos);
  CHECK(fhir::parse_resource(R"({"resourceType":"Nope"})").status().message.find("not a FHIR R4 resource type") != std::string::npos);
  CHECK_FALSE(fhir::parse_resource(R"({"resourceType":1})").ok());
  CHECK_FALSE(fhir::parse_resource(R"([])").ok());
}

TEST_CASE("the FHIR id rule", "[fhir]") {
  CHECK(fhir::valid_id("abc-DEF.123"));
  CHECK(fhir::valid_id(std::string(64, 'a')));
  CHECK_FALSE(fhir::valid_id(std::string(65, 'a')));
  CHECK_FALSE(fhir::valid_id(""));
  CHECK_FALSE(fhir::valid_id("a b"));
  CHECK_FALSE(fhir::valid_id("a_b"));
  CHECK_FALSE(fhir::valid_id("a/b"));
}

TEST_CASE("stamp sets id and meta, keeps other meta", "[fhir]") {
  auto r = fhir::parse_resource(R"({"resourceType":"Patient","meta":{"profile":["http://x"]}})");
  REQUIRE(r.ok());
  fhir::stamp(*r, "p1", 3, 0);
  CHECK(json::write(*r) ==
        R"({"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"1970-01-01T00:00:00.000Z","profile":["http://x"],"versionId":"3"}})");
}

static std::string patched(const char* doc, const char* patch, Status* st = nullptr) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto d = json::parse(doc, o);
  auto p = json::parse(patch, o);
  REQUIRE(d.ok());
  REQUIRE(p.ok());
  Status s = fhir::apply_json_patch(*d, *p);
  if (st) *st = s;
  return s.ok() ? json::write(*d) : std::string();
}

TEST_CASE("JSON Patch operations (RFC 6902)", "[fhir]") {
  CHECK(patched(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/1","value":9}])") == R"({"a":[1,9,2]})");
  CHECK(patched(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-","value":3.50}])") == R"({"a":[1,2,3.50]})");
  CHECK(patched(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])") == R"({"b":2})");
  CHECK(patched(R"({"a":1})", R"([{"op":"replace","path":"/a","value":"x"}])") == R"({"a":"x"})");
  CHECK(patched(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a/b","path":"/c"}])") == R"({"a":{},"c":1})");
  CHECK(patched(R"({"a":[1]})", R"([{"op":"copy","from":"/a/0","path":"/b"}])") == R"({"a":[1],"b":1})");
  CHECK(patched(R"({"a/b":1,"m~n":2})", R"([{"op":"remove","path":"/a~1b"},{"op":"test","path":"/m~0n","value":2}])") == R"({"m~n":2})");
  Status st;
  patched(R"({"a":1})", R"([{"op":"test","path":"/a","value":2}])", &st);
  CHECK(st.code == Err::unprocessable);
  patched(R"({"a":1})", R"([{"op":"remove","path":"/b"}])", &st);
  CHECK(st.code == Err::unprocessable);
  patched(R"({"a":1})", R"([{"op":"jump","path":"/a"}])", &st);
  CHECK(st.code == Err::invalid);
  patched(R"({"a":1})", R"({"op":"add"})", &st);
  CHECK(st.code == Err::invalid);
  patched(R"({"a":[1]})", R"([{"op":"add","path":"/a/01","value":1}])", &st);
  CHECK(st.code == Err::unprocessable);
  patched(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])", &st);
  CHECK(st.code == Err::invalid);
}
