// util/time.cpp — see time.h.
#include "util/time.h"

#include <cctype>
#include <cstdio>
#include <cstring>

namespace ef::timefmt {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

static void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = int64_t(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yy + (*m <= 2);
}

static bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

static unsigned days_in_month(int y, int m) {
  static const unsigned k[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : k[m - 1];
}

std::optional<Range> parse_fhir_time(std::string_view s) {
  int y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0;
  int64_t frac_ms = 0;
  Range r;
  if (!digits(s, 0, 4, &y)) return std::nullopt;
  size_t p = 4;
  r.precision = 1;
  int64_t span_kind = 1;
  if (p < s.size()) {
    if (s[p] != '-' || !digits(s, p + 1, 2, &mo) || mo < 1 || mo > 12) return std::nullopt;
    p += 3;
    r.precision = 2;
    if (p < s.size()) {
      if (s[p] != '-' || !digits(s, p + 1, 2, &d) || d < 1 || unsigned(d) > days_in_month(y, mo)) return std::nullopt;
      p += 3;
      r.precision = 3;
      if (p < s.size()) {
        if (s[p] != 'T' || !digits(s, p + 1, 2, &h) || s.size() < p + 6 || s[p + 3] != ':' ||
            !digits(s, p + 4, 2, &mi) || h > 23 || mi > 59)
          return std::nullopt;
        p += 6;
        r.precision = 4;
        if (p < s.size() && s[p] == ':') {
          if (!digits(s, p + 1, 2, &sec) || sec > 60) return std::nullopt;
          if (sec == 60) sec = 59;
          p += 3;
          r.precision = 5;
          if (p < s.size() && s[p] == '.') {
            ++p;
            size_t start = p;
            int64_t scale = 100;
            while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
              if (scale > 0) frac_ms += (s[p] - '0') * scale;
              scale /= 10;
              ++p;
            }
            if (p == start) return std::nullopt;
            r.precision = 6;
          }
        }
        // zone
        int64_t off_min = 0;
        if (p < s.size() && s[p] == 'Z') {
          ++p;
          r.has_tz = true;
        } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
          int oh, om;
          if (!digits(s, p + 1, 2, &oh) || s.size() < p + 6 || s[p + 3] != ':' || !digits(s, p + 4, 2, &om) || oh > 14 ||
              om > 59)
            return std::nullopt;
          off_min = (oh * 60 + om) * (s[p] == '+' ? 1 : -1);
          p += 6;
          r.has_tz = true;
        }
        if (p != s.size()) return std::nullopt;
        int64_t base = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400000LL + h * 3600000LL + mi * 60000LL +
                       sec * 1000LL + frac_ms - off_min * 60000LL;
        r.lo_ms = base;
        r.hi_ms = base + (r.precision == 4 ? 60000 : r.precision == 5 ? 1000 : 1);
        return r;
      }
    }
  }
  if (p != s.size()) return std::nullopt;
  (void)span_kind;
  r.lo_ms = days_from_civil(y, unsigned(mo), unsigned(d)) * 86400000LL;
  if (r.precision == 1) r.hi_ms = days_from_civil(y + 1, 1, 1) * 86400000LL;
  else if (r.precision == 2) r.hi_ms = (mo == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, unsigned(mo + 1), 1)) * 86400000LL;
  else r.hi_ms = r.lo_ms + 86400000LL;
  return r;
}

std::string format_instant(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m, d,
                (long long)(rem / 3600000), (long long)(rem / 60000 % 60), (long long)(rem / 1000 % 60),
                (long long)(rem % 1000));
  return buf;
}

static const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string format_http_date(int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT", kDays[((days % 7) + 7) % 7], d,
                kMonths[m - 1], (long long)y, (long long)(rem / 3600), (long long)(rem / 60 % 60), (long long)(rem % 60));
  return buf;
}

std::optional<int64_t> parse_http_date(std::string_view s) {
  // IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(25) != " GMT") return std::nullopt;
  int d, y, h, mi, sec;
  if (!digits(s, 5, 2, &d) || !digits(s, 12, 4, &y) || !digits(s, 17, 2, &h) || !digits(s, 20, 2, &mi) ||
      !digits(s, 23, 2, &sec))
    return std::nullopt;
  int mo = 0;
  for (int i = 0; i < 12; ++i)
    if (s.substr(8, 3) == kMonths[i]) mo = i + 1;
  if (!mo) return std::nullopt;
  return (days_from_civil(y, unsigned(mo), unsigned(d)) * 86400LL + h * 3600 + mi * 60 + sec) * 1000LL;
}

std::string human_duration(int64_t s) {
  if (s < 0) s = -s;
  auto unit = [](int64_t n, const char* u) { return std::to_string(n) + " " + u + (n == 1 ? "" : "s"); };
  if (s < 120) return unit(s, "second");
  if (s < 7200) return unit(s / 60, "minute");
  if (s < 172800) return unit(s / 3600, "hour");
  return unit(s / 86400, "day");
}

}  // namespace ef::timefmt
