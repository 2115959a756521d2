// util/time.h — FHIR and HTTP time formats.  Pure functions, no clock reads.
//
// FHIR date/dateTime/instant values have a precision (year, month, day, minute,
// second, fraction); parse_fhir_time() turns one into the half-open interval of
// milliseconds it covers, which is what search (eq, sa, eb, ap ...) compares.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ef::timefmt {

struct Range {
  int64_t lo_ms = 0;  // inclusive
  int64_t hi_ms = 0;  // exclusive
  int precision = 0;  // 1=year 2=month 3=day 4=minute 5=second 6=fraction
  bool has_tz = false;
};

// Accepts YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff...]](Z|+hh:mm|-hh:mm).
// Values without a zone are taken as UTC.  Returns nullopt on anything malformed.
std::optional<Range> parse_fhir_time(std::string_view s);
// FHIR instant: "2026-11-28T10:00:00.123Z" (milliseconds always written).
std::string format_instant(int64_t ms);
// RFC 7231 IMF-fixdate: "Sat, 28 Nov 2026 10:00:00 GMT".
std::string format_http_date(int64_t ms);
std::optional<int64_t> parse_http_date(std::string_view s);
// "3 minutes", "2 hours", "5 days" — for operator-facing messages.
std::string human_duration(int64_t seconds);
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace ef::timefmt
