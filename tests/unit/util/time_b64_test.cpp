#include <catch2/catch.hpp>

#include "util/base64url.h"
#include "util/time.h"

using namespace ef;

TEST_CASE("FHIR times parse into the range their precision covers", "[util]") {
  auto y = timefmt::parse_fhir_time("2026");
  REQUIRE(y);
  CHECK(timefmt::format_instant(y->lo_ms) == "2026-01-01T00:00:00.000Z");
  CHECK(timefmt::format_instant(y->hi_ms) == "2027-01-01T00:00:00.000Z");
  auto m = timefmt::parse_fhir_time("2024-02");
  REQUIRE(m);
  CHECK(timefmt::format_instant(m->hi_ms) == "2024-03-01T00:00:00.000Z");
  auto d = timefmt::parse_fhir_time("2024-02-29");
  REQUIRE(d);
  CHECK(d->hi_ms - d->lo_ms == 86400000);
  auto tz = timefmt::parse_fhir_time("2026-11-28T10:00:00+02:00");
  REQUIRE(tz);
  CHECK(timefmt::format_instant(tz->lo_ms) == "2026-11-28T08:00:00.000Z");
  CHECK(tz->hi_ms - tz->lo_ms == 1000);
  auto f = timefmt::parse_fhir_time("2026-11-28T10:00:00.123456Z");
  REQUIRE(f);
  CHECK(timefmt::format_instant(f->lo_ms) == "2026-11-28T10:00:00.123Z");
  for (const char* bad : {"", "20", "2026-13", "2023-02-29", "2026-11-28T25:00:00Z", "2026-11-28T10:00:00.Z",
                          "2026-11-28 10:00", "2026-11-28T10:00:00+2:00", "yesterday"}) {
    INFO(bad);
    CHECK_FALSE(timefmt::parse_fhir_time(bad));
  }
}

TEST_CASE("HTTP dates round-trip", "[util]") {
  int64_t ms = 1795860000000;  // 2026-11-28T10:00:00Z
  std::string s = timefmt::format_http_date(ms);
  CHECK(s == "Sat, 28 Nov 2026 10:00:00 GMT");
  CHECK(timefmt::parse_http_date(s) == ms);
  CHECK_FALSE(timefmt::parse_http_date("28 Nov 2026"));
  CHECK(timefmt::human_duration(180) == "3 minutes");
  CHECK(timefmt::human_duration(1) == "1 second");
}

TEST_CASE("base64url is strict", "[util]") {
  CHECK(b64::url_encode("\xfb\xff") == "-_8");
  CHECK(b64::url_decode("-_8") == std::string("\xfb\xff"));
  CHECK_FALSE(b64::url_decode("-_8="));     // padding not allowed
  CHECK_FALSE(b64::url_decode("+/8"));      // standard alphabet not allowed
  CHECK_FALSE(b64::url_decode("-_9"));      // non-zero unused bits
  CHECK_FALSE(b64::url_decode("a"));        // impossible length
  CHECK_FALSE(b64::url_decode("ab c"));     // whitespace
  CHECK(b64::std_decode("+/8=") == std::string("\xfb\xff"));
  CHECK_FALSE(b64::std_decode("+/8"));
  for (int n = 0; n < 40; ++n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(char(i * 37 + n));
    CHECK(b64::url_decode(b64::url_encode(s)) == s);
    CHECK(b64::std_decode(b64::std_encode(s)) == s);
  }
}
