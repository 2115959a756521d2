// fhir/fhirpath_functions.cpp — the self-contained functions of the general FHIRPath engine
// (see fhirpath_eval.h), apart from the evaluator: the per-thread cache of compiled regular
// expressions (single-line mode: '.' matches newlines), encode()/decode() (base64, urlbase64,
// hex), escape()/unescape() (html, json), and precision() / lowBoundary() / highBoundary() of
// decimals, quantities, dates, date-times and times; and the function table (function_id).
#include <cmath>
#include <cstring>
#include <memory>
#include <regex>
#include <unordered_map>

#include "fhir/fhirpath_internal.h"

namespace ef::fhir::fp {

// '.' matches any character, newlines included (FHIRPath regexes are single-line mode).
std::string dot_all(const std::string& p) {
  std::string r;
  bool cls = false;
  for (size_t i = 0; i < p.size(); i++) {
    char ch = p[i];
    if (ch == '\\' && i + 1 < p.size()) { r += ch; r += p[++i]; continue; }
    if (ch == '[') cls = true;
    else if (ch == ']') cls = false;
    if (ch == '.' && !cls) { r += "[\\s\\S]"; continue; }
    r += ch;
  }
  return r;
}

// Compiled regexes are cached per thread (compiling one costs far more than matching it; the
// invariants use a few dozen patterns).  The cache is cleared when it reaches 256 patterns.
const std::regex& make_regex(const std::string& p) {
  if (p.size() > kMaxRegexChars) throw FpError(Err::too_large, "regular expression too long");
  thread_local std::unordered_map<std::string, std::unique_ptr<std::regex>> cache;
  auto it = cache.find(p);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= 256) cache.clear();
  try {
    auto re = std::make_unique<std::regex>(dot_all(p), std::regex::ECMAScript);
    return *cache.emplace(p, std::move(re)).first->second;
  } catch (const std::regex_error&) {
    fail("bad regular expression '" + p + "'");
  }
}

std::optional<std::string> codec(const std::string& fn, const std::string& how, const std::string& s) {
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* b64u = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  static const char* hex = "0123456789abcdef";
  std::string r;
  if (fn == "encode") {
    if (how == "hex") {
      for (unsigned char ch : s) { r += hex[ch >> 4]; r += hex[ch & 15]; }
      return r;
    }
    if (how != "base64" && how != "urlbase64") return std::nullopt;
    const char* a = how == "base64" ? b64 : b64u;
    size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
      unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
      r += a[v >> 18]; r += a[(v >> 12) & 63]; r += a[(v >> 6) & 63]; r += a[v & 63];
    }
    if (i + 1 == s.size()) {
      unsigned v = static_cast<unsigned char>(s[i]) << 16;
      r += a[v >> 18]; r += a[(v >> 12) & 63]; r += "==";
    } else if (i + 2 == s.size()) {
      unsigned v = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
      r += a[v >> 18]; r += a[(v >> 12) & 63]; r += a[(v >> 6) & 63]; r += '=';
    }
    return r;
  }
  if (fn == "decode") {
    if (how == "hex") {
      if (s.size() % 2) return std::nullopt;
      for (size_t i = 0; i < s.size(); i += 2) {
        auto h = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
        int x = h(s[i]), y = h(s[i + 1]);
        if (x < 0 || y < 0) return std::nullopt;
        r += static_cast<char>(x * 16 + y);
      }
      return r;
    }
    if (how != "base64" && how != "urlbase64") return std::nullopt;
    const char* a = how == "base64" ? b64 : b64u;
    unsigned v = 0;
    int bits = 0;
    for (char ch : s) {
      if (ch == '=') break;
      const char* p = std::strchr(a, ch);
      if (!p || !ch) return std::nullopt;
      v = (v << 6) | static_cast<unsigned>(p - a);
      bits += 6;
      if (bits >= 8) { bits -= 8; r += static_cast<char>((v >> bits) & 0xFF); }
    }
    return r;
  }
  if (fn == "escape") {
    for (char ch : s) {
      if (how == "html") {
        if (ch == '<') r += "&lt;"; else if (ch == '>') r += "&gt;"; else if (ch == '&') r += "&amp;";
        else if (ch == '"') r += "&quot;"; else r += ch;
      } else if (how == "json") {
        if (ch == '"') r += "\\\""; else if (ch == '\\') r += "\\\\"; else if (ch == '\n') r += "\\n";
        else if (ch == '\t') r += "\\t"; else if (ch == '\r') r += "\\r"; else r += ch;
      } else {
        return std::nullopt;
      }
    }
    return r;
  }
  // unescape
  for (size_t i = 0; i < s.size(); i++) {
    if (how == "html" && s[i] == '&') {
      static const std::pair<const char*, char> ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      for (auto& e : ents)
        if (s.compare(i, std::strlen(e.first), e.first) == 0) { r += e.second; i += std::strlen(e.first) - 1; done = true; break; }
      if (!done) r += s[i];
    } else if (how == "json" && s[i] == '\\' && i + 1 < s.size()) {
      char e = s[++i];
      r += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
    } else if (how != "html" && how != "json") {
      return std::nullopt;
    } else {
      r += s[i];
    }
  }
  return r;
}

// precision() (dir 0), lowBoundary() (-1), highBoundary() (1) with output precision p
// (kDefaultPrecision: 8 digits for decimals, the finest for dates and times).
std::optional<Item> boundary(const Item& it0, int dir, int64_t p) {
  auto s = to_system(it0);
  if (!s) return std::nullopt;
  Item it = *s;
  if (it.t == T::integer || it.t == T::decimal || it.t == T::quantity) {
    std::string text = it.t == T::integer ? std::to_string(it.i) : it.t == T::decimal ? (it.s.empty() ? format_decimal(it.d) : it.s) : format_decimal(it.d);
    size_t dot = text.find('.');
    int p0 = dot == std::string::npos ? 0 : static_cast<int>(text.size() - dot - 1);
    if (dir == 0) return Item::integer(p0);
    double v = it.t == T::integer ? static_cast<double>(it.i) : it.d;
    int64_t P = p == kDefaultPrecision ? 8 : p;
    if (P < 0 || P > 28) return std::nullopt;
    double half = 0.5 * std::pow(10.0, -p0);
    double b = dir < 0 ? v - half : v + half;
    double sc = std::pow(10.0, static_cast<double>(P));
    double r = dir < 0 ? std::floor(b * sc + 1e-7) / sc : std::ceil(b * sc - 1e-7) / sc;
    if (P >= p0 + 1 || P > 15) r = b;  // the boundary itself is representable at P digits
    char buf[80];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(P), r);
    if (it.t == T::quantity) return Item::quantity(std::strtod(buf, nullptr), it.s);
    return Item::decimal(std::strtod(buf, nullptr), buf);
  }
  if (it.t != T::date && it.t != T::datetime && it.t != T::time) fail("boundary functions need a number, a quantity or a date/time");
  // component lengths of the ISO text: date 4,6,8; dateTime +10,12,14,17; time 2,4,6,9
  std::string t = it.s;
  std::string tz;
  if (it.t == T::datetime) {
    size_t tp = t.find('T');
    if (tp != std::string::npos) {
      size_t z = t.find_first_of("Z+-", tp);
      if (z != std::string::npos) { tz = t.substr(z); t = t.substr(0, z); }
    }
  }
  std::string dig;
  for (char ch : t) if (std::isdigit(static_cast<unsigned char>(ch))) dig += ch;
  if (dir == 0) return Item::integer(static_cast<int64_t>(dig.size()));
  bool time = it.t == T::time;
  int64_t P = p == kDefaultPrecision ? (time ? 9 : it.t == T::date ? 8 : 17) : p;
  // an hour without minutes is taken as hh:00
  if (!time && dig.size() == 10) dig += "00";
  if (time && dig.size() == 2) dig += "00";
  const std::string lowfill = time ? "000000000" : "00000101000000000";
  std::string full = dig;
  const size_t want = time ? 9 : 17;
  if (dir < 0) {
    full += lowfill.substr(dig.size());
  } else {
    static const std::string hi_t = "235959999";
    if (time) full += hi_t.substr(dig.size());
    else {
      std::string hi = "12" "31" "235959999";  // month day hh mm ss mmm
      if (dig.size() < 6) full += hi.substr(dig.size() - 4);
      else {
        if (dig.size() < 8) {
          int y = std::atoi(dig.substr(0, 4).c_str()), m = std::atoi(dig.substr(4, 2).c_str());
          static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
          int d = md[(m + 11) % 12];
          if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) d = 29;
          full += std::to_string(d);
        }
        full += hi.substr(4 + (full.size() - 8 < 100 ? full.size() - 8 : 0));
      }
    }
  }
  if (full.size() != want) return std::nullopt;
  static const int64_t okd[] = {4, 6, 8, 10, 12, 14, 17};
  static const int64_t okt[] = {2, 4, 6, 9};
  bool ok = false;
  if (time) { for (int64_t x : okt) ok = ok || x == P; }
  else { for (int64_t x : okd) ok = ok || (x == P && (it.t == T::datetime || x <= 8)); }
  if (!ok) return std::nullopt;
  std::string d = full.substr(0, static_cast<size_t>(P));
  std::string r;
  if (time) {
    r = d.substr(0, 2);
    if (P >= 4) r += ":" + d.substr(2, 2);
    if (P >= 6) r += ":" + d.substr(4, 2);
    if (P >= 9) r += "." + d.substr(6, 3);
    return Item::temporal(T::time, r);
  }
  r = d.substr(0, 4);
  if (P >= 6) r += "-" + d.substr(4, 2);
  if (P >= 8) r += "-" + d.substr(6, 2);
  if (P >= 10) r += "T" + d.substr(8, 2);
  if (P >= 12) r += ":" + d.substr(10, 2);
  if (P >= 14) r += ":" + d.substr(12, 2);
  if (P >= 17) r += "." + d.substr(14, 3);
  if (P >= 10) r += tz.empty() ? (dir < 0 ? "+14:00" : "-12:00") : tz;
  return Item::temporal(it.t, r);
}

// ---- the function table: names, ids and argument counts ----
namespace {
using namespace eval_detail;
struct FnDef { const char* name; int id; int min, max; };
const FnDef kFns[] = {
    {"empty", f_empty, 0, 0}, {"exists", f_exists, 0, 1}, {"all", f_all, 1, 1}, {"allTrue", f_allTrue, 0, 0},
    {"anyTrue", f_anyTrue, 0, 0}, {"allFalse", f_allFalse, 0, 0}, {"anyFalse", f_anyFalse, 0, 0},
    {"subsetOf", f_subsetOf, 1, 1}, {"supersetOf", f_supersetOf, 1, 1}, {"count", f_count, 0, 0},
    {"distinct", f_distinct, 0, 0}, {"isDistinct", f_isDistinct, 0, 0}, {"where", f_where, 1, 1},
    {"select", f_select, 1, 1}, {"repeat", f_repeat, 1, 1}, {"ofType", f_ofType, 1, 1}, {"first", f_first, 0, 0},
    {"last", f_last, 0, 0}, {"tail", f_tail, 0, 0}, {"skip", f_skip, 1, 1}, {"take", f_take, 1, 1},
    {"single", f_single, 0, 0}, {"intersect", f_intersect, 1, 1}, {"exclude", f_exclude, 1, 1},
    {"union", f_union, 1, 1}, {"combine", f_combine, 1, 1}, {"iif", f_iif, 2, 3},
    {"toBoolean", f_toBoolean, 0, 0}, {"convertsToBoolean", f_convertsToBoolean, 0, 0},
    {"toInteger", f_toInteger, 0, 0}, {"convertsToInteger", f_convertsToInteger, 0, 0},
    {"toDecimal", f_toDecimal, 0, 0}, {"convertsToDecimal", f_convertsToDecimal, 0, 0},
    {"toString", f_toString, 0, 0}, {"convertsToString", f_convertsToString, 0, 0}, {"toDate", f_toDate, 0, 0},
    {"convertsToDate", f_convertsToDate, 0, 0}, {"toDateTime", f_toDateTime, 0, 0},
    {"convertsToDateTime", f_convertsToDateTime, 0, 0}, {"toTime", f_toTime, 0, 0},
    {"convertsToTime", f_convertsToTime, 0, 0}, {"toQuantity", f_toQuantity, 0, 1},
    {"convertsToQuantity", f_convertsToQuantity, 0, 1}, {"indexOf", f_indexOf, 1, 1},
    {"substring", f_substring, 1, 2}, {"startsWith", f_startsWith, 1, 1}, {"endsWith", f_endsWith, 1, 1},
    {"contains", f_contains, 1, 1}, {"upper", f_upper, 0, 0}, {"lower", f_lower, 0, 0},
    {"replace", f_replace, 2, 2}, {"matches", f_matches, 1, 1}, {"replaceMatches", f_replaceMatches, 2, 2},
    {"length", f_length, 0, 0}, {"toChars", f_toChars, 0, 0}, {"split", f_split, 1, 1}, {"join", f_join, 0, 1},
    {"trim", f_trim, 0, 0}, {"abs", f_abs, 0, 0}, {"ceiling", f_ceiling, 0, 0}, {"floor", f_floor, 0, 0},
    {"exp", f_exp, 0, 0}, {"ln", f_ln, 0, 0}, {"log", f_log, 1, 1}, {"power", f_power, 1, 1},
    {"round", f_round, 0, 1}, {"sqrt", f_sqrt, 0, 0}, {"truncate", f_truncate, 0, 0},
    {"children", f_children, 0, 0}, {"descendants", f_descendants, 0, 0}, {"trace", f_trace, 1, 2},
    {"now", f_now, 0, 0}, {"today", f_today, 0, 0}, {"timeOfDay", f_timeOfDay, 0, 0}, {"not", f_not, 0, 0},
    {"is", f_is, 1, 1}, {"as", f_as, 1, 1}, {"hasValue", f_hasValue, 0, 0}, {"extension", f_extension, 1, 1},
    {"memberOf", f_memberOf, 1, 1}, {"conformsTo", f_conformsTo, 1, 1}, {"htmlChecks", f_htmlChecks, 0, 0},
    {"htmlchecks", f_htmlChecks, 0, 0}, {"resolve", f_resolve, 0, 0}, {"getValue", f_getValue, 0, 0},
    {"aggregate", f_aggregate, 1, 2}, {"encode", f_encode, 1, 1}, {"decode", f_decode, 1, 1},
    {"escape", f_escape, 1, 1}, {"unescape", f_unescape, 1, 1}, {"matchesFull", f_matchesFull, 1, 1},
    {"sort", f_sort, 0, 8}, {"type", f_type, 0, 0}, {"precision", f_precision, 0, 0},
    {"lowBoundary", f_lowBoundary, 0, 1}, {"highBoundary", f_highBoundary, 0, 1},
    {"comparable", f_comparable, 1, 1},
};


}  // namespace

int function_id(const std::string& name, size_t nargs, std::string* why) {
  for (const FnDef& f : kFns) {
    if (name != f.name) continue;
    if (static_cast<int>(nargs) < f.min || static_cast<int>(nargs) > f.max) {
      *why = name + "() takes " + std::to_string(f.min) + (f.max != f.min ? ".." + std::to_string(f.max) : "") + " arguments, not " + std::to_string(nargs);
      return -1;
    }
    return f.id;
  }
  *why = "unknown function " + name + "()";
  return -1;
}

}  // namespace ef::fhir::fp
