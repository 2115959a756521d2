// fhir/fhirpath_values.cpp — the value operations of the general FHIRPath engine (see
// fhirpath_eval.h): a node's System value by its FHIR type, equality (=) and equivalence (~),
// ordering, arithmetic (numbers, strings, quantities, and calendar durations added to
// dates), date/time parsing with precision (comparisons of different precisions are empty
// unless an earlier component differs; time zones are normalised to UTC, a value without a
// zone is taken as UTC), the conversions of toInteger() / toDecimal() / toBoolean() /
// toQuantity() / toString() / toDate...(), and a small table of UCUM units for comparing
// quantities of the same dimension (mass, length, time, volume).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "fhir/fhirpath_internal.h"

namespace ef::fhir::fp {

namespace {

struct DT {
  int f[7] = {0, 1, 1, 0, 0, 0, 0};  // year month day hour minute second millisecond
  int n = 0;                          // components present (1..6; seconds include ms)
  bool ms = false;                    // fraction present
  bool tz = false;
  int tzm = 0;                        // offset in minutes
  std::string tztext;
};

bool digits(const std::string& s, size_t& i, int n, int* out) {
  if (i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; k++) {
    char c = s[i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  i += n;
  *out = v;
  return true;
}

bool parse_tz(const std::string& s, size_t& i, DT* d) {
  if (i >= s.size()) return true;
  if (s[i] == 'Z') { d->tz = true; d->tztext = "Z"; i++; return i == s.size(); }
  if (s[i] != '+' && s[i] != '-') return false;
  size_t b = i;
  int sign = s[i] == '-' ? -1 : 1, h, m;
  i++;
  if (!digits(s, i, 2, &h) || i >= s.size() || s[i] != ':') return false;
  i++;
  if (!digits(s, i, 2, &m)) return false;
  d->tz = true;
  d->tzm = sign * (h * 60 + m);
  d->tztext = s.substr(b, i - b);
  return i == s.size();
}

bool parse_time_part(const std::string& s, size_t& i, DT* d, int base) {
  if (!digits(s, i, 2, &d->f[3])) return false;
  d->n = base + 1;
  if (i < s.size() && s[i] == ':') {
    i++;
    if (!digits(s, i, 2, &d->f[4])) return false;
    d->n = base + 2;
    if (i < s.size() && s[i] == ':') {
      i++;
      if (!digits(s, i, 2, &d->f[5])) return false;
      d->n = base + 3;
      if (i < s.size() && s[i] == '.') {
        i++;
        size_t b = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
        if (i == b) return false;
        std::string frac = s.substr(b, std::min<size_t>(3, i - b));
        while (frac.size() < 3) frac += '0';
        d->f[6] = std::atoi(frac.c_str());
        d->ms = true;
      }
    }
  }
  return d->f[3] < 24 && d->f[4] < 60 && d->f[5] < 60;
}

// kind: date, datetime or time; s without '@' (and without 'T' for times).
bool parse_dt(const std::string& s, T kind, DT* d) {
  size_t i = 0;
  if (kind == T::time) {
    if (!parse_time_part(s, i, d, 0)) return false;
    d->n -= 0;
    return i == s.size();
  }
  if (!digits(s, i, 4, &d->f[0])) return false;
  d->n = 1;
  if (i < s.size() && s[i] == '-') {
    i++;
    if (!digits(s, i, 2, &d->f[1]) || d->f[1] < 1 || d->f[1] > 12) return false;
    d->n = 2;
    if (i < s.size() && s[i] == '-') {
      i++;
      if (!digits(s, i, 2, &d->f[2]) || d->f[2] < 1 || d->f[2] > 31) return false;
      d->n = 3;
    }
  }
  if (i < s.size() && s[i] == 'T') {
    if (kind == T::date) return false;
    i++;
    if (i == s.size()) return true;
    if (d->n != 3) return false;
    if (!parse_time_part(s, i, d, 3)) return false;
    return parse_tz(s, i, d);
  }
  if (i < s.size() && kind == T::datetime) return parse_tz(s, i, d);
  return i == s.size();
}

// Time parts are stored at f[3..6] for both; a time's n counts from the hour (1..3).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
void civil_from_days(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

// Milliseconds since the epoch of the given fields (all of them).
int64_t to_ms(const DT& d) {
  int64_t days = days_from_civil(d.f[0], static_cast<unsigned>(d.f[1]), static_cast<unsigned>(d.f[2]));
  return (((days * 24 + d.f[3]) * 60 + d.f[4]) * 60 + d.f[5]) * 1000 + d.f[6];
}
void from_ms(int64_t ms, DT* d) {
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) { rem += 86400000; days--; }
  civil_from_days(days, &d->f[0], &d->f[1], &d->f[2]);
  d->f[3] = static_cast<int>(rem / 3600000);
  d->f[4] = static_cast<int>(rem / 60000 % 60);
  d->f[5] = static_cast<int>(rem / 1000 % 60);
  d->f[6] = static_cast<int>(rem % 1000);
}

void to_utc(DT* d) {
  if (!d->tz || d->n < 4 || d->tzm == 0) return;
  from_ms(to_ms(*d) - static_cast<int64_t>(d->tzm) * 60000, d);
  d->tzm = 0;
}

std::string format_dt(const DT& d, T kind) {
  char buf[64];
  std::string out;
  if (kind != T::time) {
    std::snprintf(buf, sizeof buf, "%04d", d.f[0]);
    out = buf;
    if (d.n >= 2) { std::snprintf(buf, sizeof buf, "-%02d", d.f[1]); out += buf; }
    if (d.n >= 3) { std::snprintf(buf, sizeof buf, "-%02d", d.f[2]); out += buf; }
    if (d.n >= 4) out += 'T';
  }
  int base = kind == T::time ? 0 : 3;
  if (d.n >= base + 1) { std::snprintf(buf, sizeof buf, "%02d", d.f[3]); out += buf; }
  if (d.n >= base + 2) { std::snprintf(buf, sizeof buf, ":%02d", d.f[4]); out += buf; }
  if (d.n >= base + 3) { std::snprintf(buf, sizeof buf, ":%02d", d.f[5]); out += buf; }
  if (d.n >= base + 3 && d.ms) { std::snprintf(buf, sizeof buf, ".%03d", d.f[6]); out += buf; }
  if (kind == T::datetime && d.n >= 4) out += d.tztext;
  return out;
}

std::optional<int> compare_dt(const Item& a, const Item& b) {
  T ka = a.t == T::time ? T::time : (a.t == T::date ? T::date : T::datetime);
  T kb = b.t == T::time ? T::time : (b.t == T::date ? T::date : T::datetime);
  DT x, y;
  if (!parse_dt(a.s, ka, &x) || !parse_dt(b.s, kb, &y)) return std::nullopt;
  if (ka != T::time) {
    if (x.n >= 4 && y.n >= 4 && x.tz != y.tz) return std::nullopt;  // one local, one zoned: unknown
    to_utc(&x);
    to_utc(&y);
  }
  int n = std::min(x.n, y.n);
  int first = ka == T::time ? 3 : 0;
  for (int k = 0; k < n; k++) {
    int idx = first + k;
    int64_t u = x.f[idx], v = y.f[idx];
    if (idx == 5) { u = u * 1000 + x.f[6]; v = v * 1000 + y.f[6]; }
    if (u != v) return u < v ? -1 : 1;
  }
  if (x.n != y.n) return std::nullopt;
  return 0;
}

bool is_num(const Item& i) { return i.t == T::integer || i.t == T::decimal; }
double num(const Item& i) { return i.t == T::integer ? static_cast<double>(i.i) : i.d; }
bool is_temporal(T t) { return t == T::date || t == T::datetime || t == T::time; }

struct Unit { const char* name; const char* dim; double factor; };
const Unit kUnits[] = {
    {"g", "M", 1}, {"mg", "M", 1e-3}, {"ug", "M", 1e-6}, {"kg", "M", 1e3}, {"[lb_av]", "M", 453.59237},
    {"m", "L", 1}, {"cm", "L", 1e-2}, {"mm", "L", 1e-3}, {"km", "L", 1e3}, {"[in_i]", "L", 0.0254},
    {"s", "T", 1}, {"ms", "T", 1e-3}, {"min", "T", 60}, {"h", "T", 3600}, {"d", "T", 86400},
    {"wk", "T", 604800}, {"mo", "T", 2629800}, {"a", "T", 31557600},
    {"second", "T", 1}, {"millisecond", "T", 1e-3}, {"minute", "T", 60}, {"hour", "T", 3600},
    {"day", "T", 86400}, {"week", "T", 604800},
    {"L", "V", 1}, {"l", "V", 1}, {"mL", "V", 1e-3}, {"dL", "V", 1e-1}, {"cL", "V", 1e-2},
};
const Unit* unit_of(const std::string& u) {
  for (const Unit& x : kUnits) if (u == x.name) return &x;
  return nullptr;
}
// b's value in a's unit, or nullopt when the units are not comparable.
std::optional<double> in_unit_of(const Item& a, const Item& b) {
  if (a.s == b.s) return b.d;
  if ((a.s == "1" && b.s.empty()) || (a.s.empty() && b.s == "1")) return b.d;
  const Unit* ua = unit_of(a.s);
  const Unit* ub = unit_of(b.s);
  if (!ua || !ub || std::strcmp(ua->dim, ub->dim) != 0) return std::nullopt;
  return b.d * ub->factor / ua->factor;
}

int decimals_of(const Item& i) {
  if (i.t == T::integer) return 0;
  if (i.s.empty()) return 8;
  size_t p = i.s.find('.');
  return p == std::string::npos ? 0 : static_cast<int>(i.s.size() - p - 1);
}

std::string lower_ws(const std::string& s) {
  std::string out;
  bool sp = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) { sp = true; continue; }
    if (sp && !out.empty()) out += ' ';
    sp = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool is_quantity_type(std::string_view n) {
  return n == "Quantity" || n == "Age" || n == "Duration" || n == "Distance" || n == "Count" ||
         n == "SimpleQuantity" || n == "MoneyQuantity";
}

std::optional<Item> add_duration(const Item& date, const Item& q, int sign) {
  std::string u = q.s;
  static const std::pair<const char*, const char*> alias[] = {
      {"wk", "week"}, {"d", "day"}, {"h", "hour"}, {"min", "minute"},
      {"s", "second"}, {"ms", "millisecond"}};
  for (auto& p : alias) if (u == p.first) u = p.second;
  DT d;
  if (!parse_dt(date.s, date.t, &d)) return std::nullopt;
  double v = q.d * sign;
  if (date.t == T::time) {
    d.f[0] = 2000; d.f[1] = 1; d.f[2] = 1;
  }
  auto tr = static_cast<int64_t>(v);
  if (u == "year" || u == "month") {
    int64_t months = u == "year" ? tr * 12 : tr;
    int64_t total = static_cast<int64_t>(d.f[0]) * 12 + (d.f[1] - 1) + months;
    d.f[0] = static_cast<int>(total / 12);
    d.f[1] = static_cast<int>(total % 12) + 1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int md = mdays[d.f[1] - 1];
    if (d.f[1] == 2 && ((d.f[0] % 4 == 0 && d.f[0] % 100 != 0) || d.f[0] % 400 == 0)) md = 29;
    if (d.f[2] > md) d.f[2] = md;
  } else {
    double ms_per;
    if (u == "week") ms_per = 604800000.0;
    else if (u == "day") ms_per = 86400000.0;
    else if (u == "hour") ms_per = 3600000.0;
    else if (u == "minute") ms_per = 60000.0;
    else if (u == "second") ms_per = 1000.0;
    else if (u == "millisecond") ms_per = 1.0;
    else fail("cannot add a quantity in '" + q.s + "' to a date/time");
    // Below the date's precision the duration is truncated to whole units of that precision.
    int64_t delta = static_cast<int64_t>(tr * ms_per);
    int prec = date.t == T::time ? d.n + 3 : d.n;
    static const int64_t unit_ms[] = {0, 0, 0, 86400000, 3600000, 60000, 1000};
    if (prec <= 2) fail("cannot add days or less to a date of year or month precision");
    if (prec < 6) delta = delta / unit_ms[prec] * unit_ms[prec];
    if (prec == 6 && !d.ms) delta = delta / 1000 * 1000;
    DT keep = d;
    from_ms(to_ms(d) + delta, &d);
    d.n = keep.n; d.ms = keep.ms || (delta % 1000 != 0); d.tz = keep.tz; d.tzm = keep.tzm; d.tztext = keep.tztext;
  }
  return Item::temporal(date.t, format_dt(d, date.t));
}

}  // namespace

std::string calendar_unit(const std::string& w) {
  static const char* words[] = {"year", "month", "week", "day", "hour", "minute", "second", "millisecond"};
  for (const char* x : words) {
    if (w == x || w == std::string(x) + "s") return x;
  }
  return {};
}

bool valid_date_text(const std::string& s, T* kind) {
  DT d;
  if (!s.empty() && s[0] == 'T') {
    *kind = T::time;
    return parse_dt(s.substr(1), T::time, &d);
  }
  *kind = s.find('T') != std::string::npos ? T::datetime : T::date;
  return parse_dt(s, *kind, &d);
}

std::string format_decimal(double d) {
  if (d == 0) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  std::string s = buf;
  if (s.find('e') != std::string::npos) {
    std::snprintf(buf, sizeof buf, "%.15f", d);
    s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::optional<Item> to_system(const Item& it) {
  if (it.t != T::node) return it;
  if (is_quantity_type(it.tname) && it.v && it.v->is<json::Object>()) {
    const json::Value* val = json::get(*it.v, "value");
    double d;
    if (!val || !json::number_value(*val, &d)) return std::nullopt;
    std::string unit = json::string_or(*it.v, "code");
    std::string sys = json::string_or(*it.v, "system");
    if (unit.empty() || (!sys.empty() && sys != "http://unitsofmeasure.org")) unit = json::string_or(*it.v, "unit", unit);
    return Item::quantity(d, unit);
  }
  if (!it.v || it.v->is<json::Object>() || it.v->is<json::Array>()) return std::nullopt;
  const json::Value& v = *it.v;
  model::Prim p = it.type ? it.type->prim : model::Prim::none;
  if (v.is<bool>()) return Item::boolean(v.get<bool>());
  if (json::is_number(v)) {
    int64_t n;
    std::string text = json::number_text(v);
    if (p != model::Prim::decimal && text.find_first_of(".eE") == std::string::npos && json::int_value(v, &n)) return Item::integer(n);
    double d = 0;
    json::number_value(v, &d);
    return Item::decimal(d, text.find_first_of("eE") == std::string::npos ? text : std::string());
  }
  const std::string* s = json::as_string(v);
  if (!s) return std::nullopt;
  switch (p) {
    case model::Prim::date: return Item::temporal(s->find('T') != std::string::npos ? T::datetime : T::date, *s);
    case model::Prim::date_time:
    case model::Prim::instant: {
      DT d;
      if (parse_dt(*s, T::datetime, &d) && d.n <= 3) return Item::temporal(T::datetime, *s);
      return Item::temporal(T::datetime, *s);
    }
    case model::Prim::time: return Item::temporal(T::time, *s);
    default: return Item::string(*s);
  }
}

std::optional<bool> equal(const Item& a0, const Item& b0) {
  bool ca = a0.t == T::node && !to_system(a0), cb = b0.t == T::node && !to_system(b0);
  if (ca || cb) {
    if (ca && cb && a0.v && b0.v) return *a0.v == *b0.v;
    if (ca && cb) return false;
    return false;
  }
  Item a = *to_system(a0), b = *to_system(b0);
  if (is_num(a) && is_num(b)) {
    if (a.t == T::integer && b.t == T::integer) return a.i == b.i;
    // decimals are doubles here: 1.8 - 1.2 must equal 0.6
    return std::fabs(num(a) - num(b)) <= 1e-12 * std::max({1.0, std::fabs(num(a)), std::fabs(num(b))});
  }
  if (a.t == T::string && b.t == T::string) return a.s == b.s;
  if (a.t == T::boolean && b.t == T::boolean) return a.b == b.b;
  if (is_temporal(a.t) && is_temporal(b.t)) {
    if ((a.t == T::time) != (b.t == T::time)) return false;
    auto c = compare_dt(a, b);
    if (!c) return std::nullopt;
    return *c == 0;
  }
  if (a.t == T::quantity && b.t == T::quantity) {
    if (calendar_unit(a.s).size() && (a.s == "year" || a.s == "month") && a.s != b.s) return std::nullopt;
    auto v = in_unit_of(a, b);
    if (!v) return std::nullopt;
    return std::fabs(a.d - *v) < 1e-9 * std::max(1.0, std::fabs(a.d));
  }
  return false;
}

bool equivalent(const Item& a0, const Item& b0) {
  auto sa = to_system(a0), sb = to_system(b0);
  if (!sa || !sb) {
    if (!sa && !sb && a0.v && b0.v) return *a0.v == *b0.v;
    return false;
  }
  const Item &a = *sa, &b = *sb;
  if (is_num(a) && is_num(b)) {
    int p = std::min(decimals_of(a), decimals_of(b));
    double scale = std::pow(10.0, p);
    return std::llround(num(a) * scale) == std::llround(num(b) * scale);
  }
  if (a.t == T::string && b.t == T::string) return lower_ws(a.s) == lower_ws(b.s);
  if (is_temporal(a.t) && is_temporal(b.t)) {
    if ((a.t == T::time) != (b.t == T::time)) return false;
    auto c = compare_dt(a, b);
    return c && *c == 0;
  }
  if (a.t == T::quantity && b.t == T::quantity) {
    Item a2 = a, b2 = b;
    static const std::pair<const char*, const char*> alias[] = {{"a", "year"}, {"mo", "month"}};
    for (auto& p : alias) { if (a2.s == p.first) a2.s = p.second; if (b2.s == p.first) b2.s = p.second; }
    auto v = in_unit_of(a2, b2);
    return v && std::fabs(a2.d - *v) < 1e-6 * std::max(1.0, std::fabs(a2.d));
  }
  auto e = equal(a, b);
  return e && *e;
}

std::optional<int> compare(const Item& a0, const Item& b0) {
  auto sa = to_system(a0), sb = to_system(b0);
  if (!sa || !sb) fail("cannot compare complex values");
  const Item &a = *sa, &b = *sb;
  if (is_num(a) && is_num(b)) {
    if (a.t == T::integer && b.t == T::integer) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    double x = num(a), y = num(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.t == T::string && b.t == T::string) return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
  if (is_temporal(a.t) && is_temporal(b.t)) {
    if ((a.t == T::time) != (b.t == T::time)) fail("cannot compare a time with a date");
    return compare_dt(a, b);
  }
  if (a.t == T::quantity && b.t == T::quantity) {
    auto v = in_unit_of(a, b);
    if (!v) return std::nullopt;
    return a.d < *v ? -1 : (a.d > *v ? 1 : 0);
  }
  fail("cannot compare " + type_name(a) + " with " + type_name(b));
}

std::optional<Item> arith(char op, const Item& a0, const Item& b0) {
  auto sa = to_system(a0), sb = to_system(b0);
  if (!sa || !sb) fail("arithmetic on complex values");
  const Item &a = *sa, &b = *sb;
  if (op == '+' && a.t == T::string && b.t == T::string) return Item::string(a.s + b.s);
  if ((op == '+' || op == '-') && is_temporal(a.t) && b.t == T::quantity) return add_duration(a, b, op == '+' ? 1 : -1);
  if (is_num(a) && is_num(b)) {
    bool ints = a.t == T::integer && b.t == T::integer;
    switch (op) {
      case '+':
      case '-':
      case '*': {
        if (ints) {
          int64_t r;
          bool ovf = op == '+' ? __builtin_add_overflow(a.i, b.i, &r)
                   : op == '-' ? __builtin_sub_overflow(a.i, b.i, &r)
                               : __builtin_mul_overflow(a.i, b.i, &r);
          if (ovf || r > std::numeric_limits<int32_t>::max() || r < std::numeric_limits<int32_t>::min()) return std::nullopt;
          return Item::integer(r);
        }
        double x = num(a), y = num(b);
        return Item::decimal(op == '+' ? x + y : op == '-' ? x - y : x * y);
      }
      case '/':
        if (num(b) == 0) return std::nullopt;
        return Item::decimal(num(a) / num(b));
      case 'd':
        if (num(b) == 0) return std::nullopt;
        return Item::integer(static_cast<int64_t>(std::trunc(num(a) / num(b))));
      case 'm':
        if (num(b) == 0) return std::nullopt;
        if (ints) return Item::integer(a.i % b.i);
        return Item::decimal(std::fmod(num(a), num(b)));
    }
  }
  if (a.t == T::quantity && b.t == T::quantity && (op == '+' || op == '-')) {
    auto v = in_unit_of(a, b);
    if (!v) return std::nullopt;
    return Item::quantity(op == '+' ? a.d + *v : a.d - *v, a.s);
  }
  if (a.t == T::quantity && is_num(b) && (op == '*' || op == '/')) {
    if (op == '/' && num(b) == 0) return std::nullopt;
    return Item::quantity(op == '*' ? a.d * num(b) : a.d / num(b), a.s);
  }
  if (is_num(a) && b.t == T::quantity && op == '*') return Item::quantity(num(a) * b.d, b.s);
  if (a.t == T::quantity && b.t == T::quantity && (op == '*' || op == '/')) {
    if (op == '/' && b.d == 0) return std::nullopt;
    std::string u = op == '*' ? (a.s == "1" ? b.s : b.s == "1" ? a.s : a.s + "." + b.s)
                              : (a.s == b.s ? "1" : b.s == "1" ? a.s : a.s + "/" + b.s);
    return Item::quantity(op == '*' ? a.d * b.d : a.d / b.d, u);
  }
  fail(std::string("operator ") + (op == 'd' ? "div" : op == 'm' ? "mod" : std::string(1, op)) + " cannot take " +
       type_name(a) + " and " + type_name(b));
}

namespace {
bool int_text(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); i++) if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}
bool dec_text(const std::string& s) {
  size_t p = s.find('.');
  if (p == std::string::npos) return int_text(s);
  std::string frac = s.substr(p + 1);
  if (frac.empty()) return false;
  for (char c : frac) if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  std::string ip = s.substr(0, p);
  return int_text(ip) || ip.empty();
}
}  // namespace

std::optional<Item> to_integer(const Item& it0) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  if (it->t == T::integer) return *it;
  if (it->t == T::boolean) return Item::integer(it->b ? 1 : 0);
  if (it->t == T::string && int_text(it->s) && it->s.size() < 12) {
    long long v = std::atoll(it->s.c_str());
    if (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()) return std::nullopt;
    return Item::integer(v);
  }
  return std::nullopt;
}

std::optional<Item> to_decimal(const Item& it0) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  if (it->t == T::decimal) return *it;
  if (it->t == T::integer) return Item::decimal(static_cast<double>(it->i));
  if (it->t == T::boolean) return Item::decimal(it->b ? 1.0 : 0.0, it->b ? "1.0" : "0.0");
  if (it->t == T::string && dec_text(it->s) && it->s.size() < 40) return Item::decimal(std::strtod(it->s.c_str(), nullptr), it->s);
  return std::nullopt;
}

std::optional<Item> to_boolean(const Item& it0) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  if (it->t == T::boolean) return *it;
  if (it->t == T::integer) {
    if (it->i == 1 || it->i == 0) return Item::boolean(it->i == 1);
    return std::nullopt;
  }
  if (it->t == T::decimal) {
    if (it->d == 1.0 || it->d == 0.0) return Item::boolean(it->d == 1.0);
    return std::nullopt;
  }
  if (it->t == T::string) {
    std::string l = lower_ws(it->s);
    if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "1" || l == "1.0") return Item::boolean(true);
    if (l == "false" || l == "f" || l == "no" || l == "n" || l == "0" || l == "0.0") return Item::boolean(false);
  }
  return std::nullopt;
}

std::optional<Item> to_quantity(const Item& it0, const std::string* unit) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  std::optional<Item> q;
  if (it->t == T::quantity) q = *it;
  else if (is_num(*it)) q = Item::quantity(num(*it), "1");
  else if (it->t == T::boolean) q = Item::quantity(it->b ? 1.0 : 0.0, "1");
  else if (it->t == T::string) {
    const std::string& s = it->s;
    size_t sp = s.find(' ');
    std::string n = s.substr(0, sp);
    if (!dec_text(n)) return std::nullopt;
    double d = std::strtod(n.c_str(), nullptr);
    if (sp == std::string::npos) q = Item::quantity(d, "1");
    else {
      std::string u = s.substr(sp + 1);
      while (!u.empty() && u[0] == ' ') u.erase(0, 1);
      if (u.size() >= 2 && u.front() == '\'' && u.back() == '\'') q = Item::quantity(d, u.substr(1, u.size() - 2));
      else if (!calendar_unit(u).empty()) q = Item::quantity(d, calendar_unit(u));
      else return std::nullopt;
    }
  }
  if (!q) return std::nullopt;
  if (unit && *unit != q->s) {
    Item target = Item::quantity(0, *unit);
    auto v = in_unit_of(target, *q);
    if (!v) return std::nullopt;
    return Item::quantity(*v, *unit);
  }
  return q;
}

std::optional<Item> to_string_item(const Item& it0) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  return Item::string(to_text(*it));
}

std::optional<Item> to_date(const Item& it0, T kind) {
  auto it = to_system(it0);
  if (!it) return std::nullopt;
  if (it->t == kind) return *it;
  if (kind == T::datetime && it->t == T::date) return Item::temporal(T::datetime, it->s);
  if (kind == T::date && it->t == T::datetime) {
    DT d;
    if (!parse_dt(it->s, T::datetime, &d)) return std::nullopt;
    d.n = std::min(d.n, 3);
    return Item::temporal(T::date, format_dt(d, T::date));
  }
  if (it->t == T::string) {
    DT d;
    if (kind == T::time) {
      std::string s = !it->s.empty() && it->s[0] == 'T' ? it->s.substr(1) : it->s;
      if (parse_dt(s, T::time, &d)) return Item::temporal(T::time, s);
      return std::nullopt;
    }
    if (parse_dt(it->s, kind, &d)) return Item::temporal(kind, it->s);
    if (kind == T::datetime && parse_dt(it->s, T::date, &d)) return Item::temporal(kind, it->s);
  }
  return std::nullopt;
}

std::string type_name(const Item& it) {
  switch (it.t) {
    case T::node: return std::string(it.tname);
    case T::boolean: return "boolean";
    case T::integer: return "integer";
    case T::decimal: return "decimal";
    case T::string: return "string";
    case T::date: return "date";
    case T::datetime: return "dateTime";
    case T::time: return "time";
    case T::quantity: return "Quantity";
  }
  return "";
}

std::string to_text(const Item& it0) {
  auto s = to_system(it0);
  if (!s) return "";
  const Item& it = *s;
  switch (it.t) {
    case T::boolean: return it.b ? "true" : "false";
    case T::integer: return std::to_string(it.i);
    case T::decimal: return it.s.empty() ? format_decimal(it.d) : it.s;
    case T::quantity: {
      if (!calendar_unit(it.s).empty()) return format_decimal(it.d) + " " + it.s;
      return format_decimal(it.d) + " '" + it.s + "'";
    }
    default: return it.s;
  }
}

}  // namespace ef::fhir::fp
