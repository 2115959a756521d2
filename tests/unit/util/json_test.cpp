#include <catch2/catch.hpp>

#include "util/json.h"

using namespace ef;

TEST_CASE("json keeps FHIR decimals and big integers exactly when preserving numbers") {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto r = json::parse(R"({"resourceType":"Observation","valueQuantity":{"value":1.50},"big":12345678901234567890,"e":-0.0e+10})", o);
  REQUIRE(r.ok());
  std::string out = json::write(*r);
  CHECK(out == R"({"resourceType":"Observation","big":12345678901234567890,"e":-0.0e+10,"valueQuantity":{"value":1.50}})");
  const json::Value* vq = json::get(*r, "valueQuantity");
  REQUIRE(vq);
  CHECK(json::is_number(*json::get(*vq, "value")));
  CHECK(json::number_text(*json::get(*vq, "value")) == "1.50");
  CHECK_FALSE(json::is_string(*json::get(*vq, "value")));
}

TEST_CASE("json rejects malformed and hostile input") {
  const char* bad[] = {"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":1,\"a\":2}",
                       "{\"a\":1} x", "[1,]", "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}", "", "{\"a\":\"x\x01\"}",
                       "{\"a\":NaN}", "{'a':1}"};
  for (const char* b : bad) {
    INFO(b);
    CHECK_FALSE(json::parse(b).ok());
  }
  std::string deep(200, '[');
  deep += std::string(200, ']');
  auto r = json::parse(deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message.find("nesting") != std::string::npos);
}

TEST_CASE("json writer escapes and pretty prints") {
  json::Object o;
  o["s"] = json::Value(std::string("a\"b\\c\n\x01"));
  o["n"] = json::Value(3.0);
  o["f"] = json::Value(0.25);
  CHECK(json::write(json::Value(o)) == "{\"f\":0.25,\"n\":3,\"s\":\"a\\\"b\\\\c\\n\\u0001\"}");
  CHECK(json::write(json::Value(o), true).find("\n  \"n\": 3") != std::string::npos);
}

TEST_CASE("json budgets: number magnitude and length, U+0000, value count") {
  json::ParseOptions po;
  po.preserve_numbers = true;
  CHECK_FALSE(json::parse("{\"a\":1e400}", po).ok());
  CHECK_FALSE(json::parse("{\"a\":-1e400}").ok());
  CHECK_FALSE(json::parse("{\"a\":" + std::string(100000, '1') + "}", po).ok());
  CHECK(json::parse("{\"a\":1.50000000000000001}", po).ok());
  CHECK(json::write(*json::parse("[1.50000000000000001]", po)) == "[1.50000000000000001]");
  auto nul = json::parse("{\"a\":\"x\\u0000y\"}", po);
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.status().message.find("U+0000") != std::string::npos);
  CHECK_FALSE(json::parse("{\"a\\u0000\":1}", po).ok());
  CHECK(json::parse("{\"a\":\"x\\u0001y\"}", po).ok());
  po.max_values = 10;
  CHECK(json::parse("[1,2,3,4,5,6,7,8,9]", po).ok());  // 10 values with the array
  auto many = json::parse("[1,2,3,4,5,6,7,8,9,10]", po);
  REQUIRE_FALSE(many.ok());
  CHECK(many.status().message.find("max_json_values") != std::string::npos);
}

TEST_CASE("to_valid_utf8 replaces invalid bytes only") {
  CHECK(json::to_valid_utf8("plain é ✓") == "plain é ✓");
  CHECK(json::to_valid_utf8("a\xff" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(json::to_valid_utf8("\xc3(") == "\xEF\xBF\xBD(");
  CHECK(json::valid_utf8(json::to_valid_utf8("\xe2\x82\xff\xf0\x9f\x98\x80")));
}
