// util/json.cpp — see json.h.  A picojson parse context that enforces our rules, and
// a writer that understands tagged numbers.
#include "util/json.h"

#include <atomic>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ef::json {
namespace {

using In = picojson::input<const char*>;

std::atomic<size_t> g_max_values{SIZE_MAX};  // serve sets limits.max_json_values

struct Ctx;

// Reads a number with the strict RFC 8259 grammar. On success leaves `in` after it.
bool read_number(In& in, std::string& out) {
  out.clear();
  int ch = in.getc();
  if (ch == '-') { out.push_back('-'); ch = in.getc(); }
  if (ch == '0') {
    out.push_back('0');
    ch = in.getc();
  } else if (ch >= '1' && ch <= '9') {
    while (ch >= '0' && ch <= '9') { out.push_back(char(ch)); ch = in.getc(); }
  } else {
    in.ungetc();
    return false;
  }
  if (ch == '.') {
    out.push_back('.');
    ch = in.getc();
    if (!(ch >= '0' && ch <= '9')) { in.ungetc(); return false; }
    while (ch >= '0' && ch <= '9') { out.push_back(char(ch)); ch = in.getc(); }
  }
  if (ch == 'e' || ch == 'E') {
    out.push_back(char(ch));
    ch = in.getc();
    if (ch == '+' || ch == '-') { out.push_back(char(ch)); ch = in.getc(); }
    if (!(ch >= '0' && ch <= '9')) { in.ungetc(); return false; }
    while (ch >= '0' && ch <= '9') { out.push_back(char(ch)); ch = in.getc(); }
  }
  in.ungetc();
  // A number must be followed by a delimiter, not more number-ish characters.
  return true;
}

struct Ctx {
  Value* out;
  size_t depth_left;
  const ParseOptions* opt;
  std::string* err;
  size_t* values_left;

  bool set_null() { *out = Value(); return true; }
  bool set_bool(bool b) { *out = Value(b); return true; }
  bool set_number(double) { return false; }  // numbers are intercepted in parse_value
  template <typename Iter>
  bool parse_string(picojson::input<Iter>& in) {
    *out = Value(picojson::string_type, false);
    std::string& str = out->get<std::string>();
    if (!picojson::_parse_string(str, in)) return false;
    if (str.find('\0') != std::string::npos) {
      *err = "a string contains U+0000";
      return false;
    }
    return true;
  }
  bool parse_array_start() {
    if (depth_left == 0) { *err = "nesting deeper than " + std::to_string(opt->max_depth); return false; }
    --depth_left;
    *out = Value(picojson::array_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_array_item(picojson::input<Iter>& in, size_t) {
    Array& a = out->get<Array>();
    a.push_back(Value());
    Ctx c{&a.back(), depth_left, opt, err, values_left};
    return c.parse_value(in);
  }
  bool parse_array_stop(size_t) { ++depth_left; return true; }
  bool parse_object_start() {
    if (depth_left == 0) { *err = "nesting deeper than " + std::to_string(opt->max_depth); return false; }
    --depth_left;
    *out = Value(picojson::object_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    Object& o = out->get<Object>();
    if (opt->reject_duplicates && o.count(key)) {
      *err = "duplicate member name '" + key + "'";
      return false;
    }
    if (key.find('\0') != std::string::npos) {
      *err = "a member name contains U+0000";
      return false;
    }
    Ctx c{&o[key], depth_left, opt, err, values_left};
    return c.parse_value(in);
  }
  bool parse_object_stop() { ++depth_left; return true; }

  bool parse_value(In& in) {
    if (*values_left == 0) {
      *err = "more than " + std::to_string(opt->max_values) + " values (limits.max_json_values)";
      return false;
    }
    --*values_left;
    in.skip_ws();
    int ch = in.getc();
    in.ungetc();
    if ((ch >= '0' && ch <= '9') || ch == '-') {
      std::string text;
      if (!read_number(in, text)) { *err = "invalid number"; return false; }
      if (text.size() > kMaxNumberChars) {
        *err = "a number longer than " + std::to_string(kMaxNumberChars) + " characters";
        return false;
      }
      double d = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(d)) { *err = "number out of range"; return false; }
      if (opt->preserve_numbers) *out = make_number(text);
      else *out = Value(d);
      return true;
    }
    return picojson::_parse(*this, in);
  }
};

}  // namespace

void write_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.push_back('"');
}

namespace {

void write_double(std::string& out, double d) {
  char buf[32];
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
  } else if (std::isfinite(d)) {
    std::snprintf(buf, sizeof buf, "%.17g", d);
  } else {
    std::snprintf(buf, sizeof buf, "null");
  }
  out += buf;
}

void newline(std::string& out, bool pretty, int indent) {
  if (!pretty) return;
  out.push_back('\n');
  out.append(size_t(indent) * 2, ' ');
}

void write_rec(std::string& out, const Value& v, bool pretty, int indent) {
  if (v.is<picojson::null>()) {
    out += "null";
  } else if (v.is<bool>()) {
    out += v.get<bool>() ? "true" : "false";
  } else if (v.is<double>()) {
    write_double(out, v.get<double>());
  } else if (v.is<std::string>()) {
    const std::string& s = v.get<std::string>();
    if (!s.empty() && s[0] == kNumberTag) out.append(s, 1, std::string::npos);
    else write_string(out, s);
  } else if (v.is<Array>()) {
    const Array& a = v.get<Array>();
    out.push_back('[');
    bool first = true;
    for (const Value& e : a) {
      if (!first) out.push_back(',');
      first = false;
      newline(out, pretty, indent + 1);
      write_rec(out, e, pretty, indent + 1);
    }
    if (!a.empty()) newline(out, pretty, indent);
    out.push_back(']');
  } else if (v.is<Object>()) {
    const Object& o = v.get<Object>();
    out.push_back('{');
    bool first = true;
    auto member = [&](const std::string& k, const Value& e) {
      if (!first) out.push_back(',');
      first = false;
      newline(out, pretty, indent + 1);
      write_string(out, k);
      out += pretty ? ": " : ":";
      write_rec(out, e, pretty, indent + 1);
    };
    auto rt = o.find("resourceType");
    if (rt != o.end()) member(rt->first, rt->second);
    for (const auto& kv : o)
      if (kv.first != "resourceType") member(kv.first, kv.second);
    if (!o.empty()) newline(out, pretty, indent);
    out.push_back('}');
  }
}

}  // namespace

size_t default_max_values() { return g_max_values.load(std::memory_order_relaxed); }
void set_default_max_values(size_t n) { g_max_values = n; }

bool valid_utf8(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* e = p + s.size();
  while (p < e) {
    unsigned c = *p;
    if (c < 0x80) { ++p; continue; }
    int n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return false;
    if (e - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // the longest valid sequence starting at i (1-4 bytes), else one replaced byte
    size_t n = 0;
    for (size_t k = 1; k <= 4 && i + k <= s.size(); ++k)
      if (valid_utf8(s.substr(i, k))) { n = k; break; }
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

Result<Value> parse(std::string_view text, const ParseOptions& opt) {
  if (!valid_utf8(text)) return Status(Err::invalid, "JSON is not valid UTF-8");
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
      return Status(Err::invalid, "JSON contains a raw control character");
  }
  Value v;
  std::string err;
  In in(text.data(), text.data() + text.size());
  size_t values_left = opt.max_values;
  Ctx c{&v, opt.max_depth, &opt, &err, &values_left};
  if (!c.parse_value(in)) {
    const char* at = in.cur();
    size_t off = size_t(at - text.data());
    if (err.empty()) err = "syntax error";
    return Status(Err::invalid, "invalid JSON: " + err + " at line " + std::to_string(in.line()) + ", byte " +
                                    std::to_string(off));
  }
  in.skip_ws();
  if (in.getc() != -1) {
    return Status(Err::invalid, "invalid JSON: unexpected data after the value at line " + std::to_string(in.line()));
  }
  return v;
}

std::string write(const Value& v, bool pretty) {
  std::string out;
  write_rec(out, v, pretty, 0);
  return out;
}
void write_to(std::string& out, const Value& v, bool pretty) { write_rec(out, v, pretty, 0); }

bool is_string(const Value& v) {
  return v.is<std::string>() && (v.get<std::string>().empty() || v.get<std::string>()[0] != kNumberTag);
}
bool is_number(const Value& v) {
  return v.is<double>() || (v.is<std::string>() && !v.get<std::string>().empty() && v.get<std::string>()[0] == kNumberTag);
}
const Value* get(const Value& v, const std::string& key) {
  if (!v.is<Object>()) return nullptr;
  const Object& o = v.get<Object>();
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->second;
}
Value* get_mut(Value& v, const std::string& key) {
  if (!v.is<Object>()) return nullptr;
  Object& o = v.get<Object>();
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->second;
}
const std::string* as_string(const Value& v) { return is_string(v) ? &v.get<std::string>() : nullptr; }
const Array* as_array(const Value& v) { return v.is<Array>() ? &v.get<Array>() : nullptr; }
const Object* as_object(const Value& v) { return v.is<Object>() ? &v.get<Object>() : nullptr; }
Object* as_object_mut(Value& v) { return v.is<Object>() ? &v.get<Object>() : nullptr; }
const std::string* get_string(const Value& v, const std::string& key) {
  const Value* m = get(v, key);
  return m ? as_string(*m) : nullptr;
}
const Array* get_array(const Value& v, const std::string& key) {
  const Value* m = get(v, key);
  return m ? as_array(*m) : nullptr;
}
std::string string_or(const Value& v, const std::string& key, const std::string& def) {
  const std::string* s = get_string(v, key);
  return s ? *s : def;
}

std::string number_text(const Value& v) {
  if (v.is<std::string>()) {
    const std::string& s = v.get<std::string>();
    if (!s.empty() && s[0] == kNumberTag) return s.substr(1);
    return {};
  }
  if (v.is<double>()) {
    std::string out;
    write_double(out, v.get<double>());
    return out;
  }
  return {};
}
bool number_value(const Value& v, double* out) {
  if (v.is<double>()) { *out = v.get<double>(); return true; }
  if (!is_number(v)) return false;
  *out = std::strtod(v.get<std::string>().c_str() + 1, nullptr);
  return std::isfinite(*out);
}
bool int_value(const Value& v, int64_t* out) {
  if (v.is<double>()) {
    double d = v.get<double>();
    if (std::floor(d) != d || std::fabs(d) > 9007199254740992.0) return false;
    *out = int64_t(d);
    return true;
  }
  if (!is_number(v)) return false;
  const std::string& s = v.get<std::string>();
  const char* b = s.c_str() + 1;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(b, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = n;
  return true;
}
Value make_number(const std::string& text) { return Value(std::string(1, kNumberTag) + text); }
Value make_number(int64_t n) { return make_number(std::to_string(n)); }
bool valid_number_text(std::string_view s) {
  In in(s.data(), s.data() + s.size());
  std::string t;
  return read_number(in, t) && t.size() == s.size();
}

}  // namespace ef::json
