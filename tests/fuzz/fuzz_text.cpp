// tests/fuzz/fuzz_text.cpp — the small parsers that see attacker-chosen text: FHIR dates
// (search values, _since), HTTP dates (If-Modified-Since), ETags (If-Match), strict
// base64url/base64, FHIR decimal ranges, string normalisation, and FHIRPath compilation
// and evaluation.  Input: first byte selects the parser, the rest is its text.
// Invariants: no crash/UB/exception; accepted values round-trip through their formatter;
// base64 decoders accept only canonical text; normalisation is idempotent; ranges ordered.
#include "fhir/fhirpath.h"
#include "fhir/indexer.h"
#include "fuzz_util.h"
#include "http/context.h"
#include "util/base64url.h"
#include "util/json.h"
#include "util/time.h"

using namespace ef;

static const json::Value& sample_resource() {
  static json::Value v = [] {
    json::ParseOptions o;
    o.preserve_numbers = true;
    auto r = json::parse(R"({"resourceType":"Observation","id":"o1","status":"final",
      "code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"HbA1c"},
      "subject":{"reference":"Patient/p1"},"effectivePeriod":{"start":"2024-01-01"},
      "valueQuantity":{"value":6.40,"unit":"%"},"component":[{"valueString":"x"},{"valueBoolean":true}],
      "contained":[{"resourceType":"Patient","id":"c","name":[{"family":"F"}]}]})", o);
    return r.ok() ? *r : json::Value();
  }();
  return v;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string s(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: {
      auto r = timefmt::parse_fhir_time(s);
      if (r) {
        FUZZ_CHECK(r->lo_ms < r->hi_ms, "empty or inverted range for " + s);
        FUZZ_CHECK(r->precision >= 1 && r->precision <= 6, "bad precision");
        std::string inst = timefmt::format_instant(r->lo_ms);
        auto back = timefmt::parse_fhir_time(inst);
        FUZZ_CHECK(back && back->lo_ms == r->lo_ms, "format_instant(lo) does not parse back: " + s + " -> " + inst);
      }
      break;
    }
    case 1: {
      auto t = timefmt::parse_http_date(s);
      if (t) {
        std::string f = timefmt::format_http_date(*t);
        auto back = timefmt::parse_http_date(f);
        FUZZ_CHECK(back && *back == *t, "HTTP date does not round-trip: " + s + " -> " + f);
      }
      break;
    }
    case 2: {
      auto d = b64::url_decode(s);
      if (d) FUZZ_CHECK(b64::url_encode(*d) == s, "base64url decoder accepted non-canonical text");
      break;
    }
    case 3: {
      auto d = b64::std_decode(s);
      if (d) FUZZ_CHECK(b64::std_encode(*d) == s, "base64 decoder accepted non-canonical text");
      break;
    }
    case 4: {
      auto e = http::parse_etag(s);
      if (e && e->has_value()) FUZZ_CHECK(**e >= 0, "negative version from ETag");
      break;
    }
    case 5: {
      double v, lo, hi;
      if (fhir::number_range(s, &v, &lo, &hi)) FUZZ_CHECK(lo <= v && v <= hi, "value outside its range: " + s);
      break;
    }
    case 6: {
      // Only valid UTF-8 is specified (resources are validated by the JSON parser; search
      // values must be validated before normalising): bytes CC CC 81 A0 normalise to CC A0,
      // which a second pass drops, so invalid input is not a fixed point.
      std::string n = fhir::normalize_string(s);
      if (json::valid_utf8(s)) {
        FUZZ_CHECK(json::valid_utf8(n), "normalize_string broke UTF-8");
        FUZZ_CHECK(fhir::normalize_string(n) == n, "normalize_string is not idempotent");
      }
      break;
    }
    case 7: {
      auto p = fhir::FhirPath::compile(s);
      if (p) {
        fhir::PathNodes out;
        p->evaluate(sample_resource(), &out);
      } else {
        FUZZ_CHECK(!p.status().message.empty(), "compile error without message");
      }
      break;
    }
  }
  return 0;
}
