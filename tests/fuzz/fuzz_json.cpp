// tests/fuzz/fuzz_json.cpp — util/json.h strict parser and writer.
// Invariants: no crash/UB/exception on any input; every accepted document (with and
// without preserve_numbers) writes to text that parses again to the identical text
// (write is a fixed point after one round), pretty output parses to the same value,
// and the checked accessors never throw on any value.
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;

static void walk(const json::Value& v, int depth) {
  (void)json::is_string(v);
  (void)json::is_number(v);
  (void)json::as_string(v);
  (void)json::as_array(v);
  (void)json::as_object(v);
  double d;
  int64_t i;
  if (json::is_number(v)) {
    std::string t = json::number_text(v);
    FUZZ_CHECK(!t.empty(), "number without text");
    (void)json::number_value(v, &d);
    (void)json::int_value(v, &i);
  }
  (void)json::get(v, "resourceType");
  (void)json::get_string(v, "id");
  (void)json::get_array(v, "entry");
  (void)json::string_or(v, "x", "d");
  if (const json::Array* a = json::as_array(v))
    for (auto& e : *a) walk(e, depth + 1);
  if (const json::Object* o = json::as_object(v))
    for (auto& kv : *o) {
      FUZZ_CHECK(json::valid_utf8(kv.first), "member name not UTF-8");
      walk(kv.second, depth + 1);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int mode = 0; mode < 3; ++mode) {
    json::ParseOptions o;
    o.preserve_numbers = mode != 1;
    o.reject_duplicates = mode != 2;
    o.max_depth = 64;
    auto v = json::parse(text, o);
    if (!v) {
      FUZZ_CHECK(!v.status().message.empty(), "error without message");
      FUZZ_CHECK(json::valid_utf8(v.status().message), "error message is not UTF-8");
      continue;
    }
    walk(*v, 0);
    std::string a = json::write(*v);
    FUZZ_CHECK(json::valid_utf8(a), "written JSON is not UTF-8");
    auto v2 = json::parse(a, o);
    FUZZ_CHECK(v2.ok(), "own output does not parse: " + (v2.ok() ? std::string() : v2.status().message) + " in " + a.substr(0, 200));
    std::string b = json::write(*v2);
    FUZZ_CHECK(a == b, "write(parse(write(v))) != write(v): " + a.substr(0, 200) + " vs " + b.substr(0, 200));
    std::string p = json::write(*v, true);
    auto v3 = json::parse(p, o);
    FUZZ_CHECK(v3.ok(), "pretty output does not parse");
    FUZZ_CHECK(json::write(*v3) == a, "pretty output parses to a different value");
  }
  return 0;
}
