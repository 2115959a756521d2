// fhir/type_model.cpp — see type_model.h.  Parses data/types.tsv (format in
// tools/gen_types.py) into TypeDefs, resolves type names once all are read, and implements the
// primitive rules natively (std::regex would be ~50x slower and recursive on long inputs).
#include "fhir/type_model.h"


#include <cstring>
#include <memory>
#include <mutex>

#include "fhir/embedded_data.h"
#include "util/pages.h"
#include "util/text.h"

namespace ef::fhir::model {

// ---------------------------------------------------------------------------------------
// Lookup

const TypeDef::Member* TypeDef::member(const std::string& json_name) const {
  auto it = members.find(json_name);
  return it == members.end() ? nullptr : &it->second;
}

const ElementDef* TypeDef::element(const std::string& n) const {
  for (const auto& e : elements)
    if (e.name == n) return &e;
  return nullptr;
}

const TypeDef* TypeModel::type(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

size_t TypeModel::element_count() const {
  size_t n = 0;
  for (const auto& t : types_) n += t->elements.size();
  return n;
}

std::vector<const TypeDef*> TypeModel::all_types() const {
  std::vector<const TypeDef*> v;
  for (const auto& t : types_) v.push_back(t.get());
  return v;
}

// ---------------------------------------------------------------------------------------
// Loading

namespace {

using ef::text::split;

Prim prim_of(std::string_view n) {
  static const std::pair<const char*, Prim> k[] = {
      {"boolean", Prim::boolean},   {"integer", Prim::integer},     {"positiveInt", Prim::positive_int},
      {"unsignedInt", Prim::unsigned_int}, {"decimal", Prim::decimal}, {"string", Prim::string},
      {"code", Prim::code},         {"id", Prim::id},               {"oid", Prim::oid},
      {"uuid", Prim::uuid},         {"uri", Prim::uri},             {"url", Prim::url},
      {"canonical", Prim::canonical}, {"markdown", Prim::markdown}, {"base64Binary", Prim::base64},
      {"date", Prim::date},         {"dateTime", Prim::date_time},  {"instant", Prim::instant},
      {"time", Prim::time},         {"xhtml", Prim::xhtml}};
  for (const auto& p : k)
    if (n == p.first) return p.second;
  return Prim::none;
}

Strength strength_of(std::string_view s) {
  if (s == "required") return Strength::required;
  if (s == "extensible") return Strength::extensible;
  if (s == "preferred") return Strength::preferred;
  if (s == "example") return Strength::example;
  return Strength::none;
}

bool to_u32(std::string_view s, uint32_t* out) {
  if (s == "*") {
    *out = kMany;
    return true;
  }
  if (s.empty() || s.size() > 9) return false;
  uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint32_t(c - '0');
  }
  *out = n;
  return true;
}

std::string upper_first(const std::string& s) {
  std::string r = s;
  if (!r.empty() && r[0] >= 'a' && r[0] <= 'z') r[0] = char(r[0] - 'a' + 'A');
  return r;
}

}  // namespace

Result<std::unique_ptr<TypeModel>> TypeModel::load(std::string_view tsv) {
  auto m = std::make_unique<TypeModel>();
  TypeDef* cur = nullptr;
  std::unordered_map<std::string, std::pair<Prim, std::string>> prims;
  std::vector<std::vector<uint32_t>> inv_refs;  // per E line, in order
  std::vector<std::pair<TypeDef*, std::vector<uint32_t>>> type_inv_refs;
  size_t line_no = 0;
  auto bad = [&](const std::string& why) {
    return Status(Err::internal, "types.tsv line " + std::to_string(line_no) + ": " + why);
  };
  auto inv_list = [](std::string_view s, std::vector<uint32_t>* out) {
    if (s.empty()) return true;
    for (auto p : split(s, ',')) {
      uint32_t n;
      if (!to_u32(p, &n) || n == kMany) return false;
      out->push_back(n);
    }
    return true;
  };
  size_t pos = 0;
  while (pos < tsv.size()) {
    size_t nl = tsv.find('\n', pos);
    if (nl == std::string_view::npos) nl = tsv.size();
    std::string_view line = tsv.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, '\t');
    char rec = f[0].size() == 1 ? f[0][0] : '?';
    switch (rec) {
      case 'P':
        if (f.size() != 4) return bad("P needs 4 fields");
        prims[std::string(f[1])] = {prim_of(f[1]), std::string(f[3])};
        break;
      case 'K': {
        if (f.size() != 6) return bad("K needs 6 fields");
        uint32_t n;
        if (!to_u32(f[1], &n) || n != m->invariants_.size()) return bad("K numbers must be consecutive");
        m->invariants_.push_back({std::string(f[2]), std::string(f[3]), std::string(f[4]), std::string(f[5])});
        break;
      }
      case 'T': {
        if (f.size() != 5) return bad("T needs 5 fields");
        auto t = std::make_unique<TypeDef>();
        t->name = std::string(f[1]);
        if (f[2] == "primitive") t->kind = Kind::primitive;
        else if (f[2] == "complex") t->kind = Kind::complex;
        else if (f[2] == "resource") t->kind = Kind::resource;
        else if (f[2] == "backbone") t->kind = Kind::backbone;
        else return bad("unknown kind");
        t->abstract = f[3] == "1";
        if (t->kind == Kind::primitive) {
          auto it = prims.find(t->name);
          if (it == prims.end()) return bad("primitive without a P record");
          t->prim = it->second.first;
          t->regex = it->second.second;
          if (t->prim == Prim::none) return bad("no native rule for primitive " + t->name);
        }
        std::vector<uint32_t> ti;
        if (!inv_list(f[4], &ti)) return bad("bad invariant list");
        cur = t.get();
        type_inv_refs.push_back({cur, std::move(ti)});
        if (!m->by_name_.emplace(t->name, cur).second) return bad("duplicate type " + t->name);
        m->types_.push_back(std::move(t));
        break;
      }
      case 'E': {
        if (f.size() != 8 || !cur) return bad("E needs 8 fields after a T");
        ElementDef e;
        e.name = std::string(f[1]);
        if (!to_u32(f[2], &e.min) || !to_u32(f[3], &e.max)) return bad("bad cardinality");
        for (auto t : split(f[4], ',')) {
          if (t.empty()) continue;
          TypeRef r;
          size_t paren = t.find('(');
          if (paren != std::string_view::npos && t.back() == ')') {
            for (auto tg : split(t.substr(paren + 1, t.size() - paren - 2), '|')) r.targets.emplace_back(tg);
            t = t.substr(0, paren);
          }
          r.name = std::string(t);
          e.types.push_back(std::move(r));
        }
        for (char c : f[5]) {
          if (c == 'C') e.choice = true;
          else if (c == 'S') e.summary = true;
          else if (c == 'M') e.modifier = true;
        }
        if (!f[6].empty()) {
          size_t bar = f[6].find('|');
          if (bar == std::string_view::npos) return bad("binding without '|'");
          e.strength = strength_of(f[6].substr(0, bar));
          e.value_set = std::string(f[6].substr(bar + 1));
        }
        std::vector<uint32_t> ei;
        if (!inv_list(f[7], &ei)) return bad("bad invariant list");
        if (e.types.empty()) return bad("element without a type: " + e.name);
        if (cur->elements.size() >= 0xFFFF) return bad("too many elements");
        cur->elements.push_back(std::move(e));
        inv_refs.push_back(std::move(ei));
        break;
      }
      default:
        return bad("unknown record");
    }
  }
  // Invariant references of elements: walk the types in order (E lines were appended in order).
  size_t k = 0;
  for (auto& t : m->types_)
    for (auto& e : t->elements) {
      if (k >= inv_refs.size()) return Status(Err::internal, "types.tsv: invariant bookkeeping");
      for (uint32_t n : inv_refs[k]) {
        if (n >= m->invariants_.size()) return Status(Err::internal, "types.tsv: unknown invariant " + std::to_string(n));
        e.invariants.push_back(&m->invariants_[n]);
      }
      ++k;
    }
  for (auto& ti : type_inv_refs)
    for (uint32_t n : ti.second) {
      if (n >= m->invariants_.size()) return Status(Err::internal, "types.tsv: unknown invariant " + std::to_string(n));
      ti.first->invariants.push_back(&m->invariants_[n]);
    }
  // Resolve type names and the JSON member names.
  for (auto& t : m->types_) {
    for (size_t i = 0; i < t->elements.size(); ++i) {
      ElementDef& e = t->elements[i];
      for (size_t j = 0; j < e.types.size(); ++j) {
        TypeRef& r = e.types[j];
        r.type = m->type(r.name);
        if (!r.type) return Status(Err::internal, "types.tsv: " + t->name + "." + e.name + " has unknown type " + r.name);
        std::string json_name = e.choice ? e.name + upper_first(r.name) : e.name;
        if (!e.choice && j > 0) continue;  // e.g. Resource-typed elements list one type
        if (!t->members.emplace(json_name, TypeDef::Member{uint16_t(i), uint16_t(j)}).second)
          return Status(Err::internal, "types.tsv: " + t->name + " has two members named " + json_name);
      }
    }
  }
  return m;
}

namespace {

struct Loaded {
  std::unique_ptr<TypeModel> m;
  Status status;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded x;
    auto r = TypeModel::load(embedded_types());
    if (r) {
      x.m = std::move(r.value());
      pages::release(embedded_types());
    } else {
      x.status = r.status();
      x.m = std::make_unique<TypeModel>();
    }
    return x;
  }();
  return l;
}

}  // namespace

const TypeModel& model() { return *loaded().m; }
const Status& model_status() { return loaded().status; }

// ---------------------------------------------------------------------------------------
// Primitive rules

namespace {

inline bool digit(char c) { return c >= '0' && c <= '9'; }
inline bool ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool digits(std::string_view s, size_t at, size_t n) {
  if (at + n > s.size()) return false;
  for (size_t i = 0; i < n; ++i)
    if (!digit(s[at + i])) return false;
  return true;
}
int num(std::string_view s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (s[at + i] - '0');
  return v;
}

// YYYY[-MM[-DD]] starting at 0; returns the length consumed (0 = invalid), *parts = 1..3.
size_t date_part(std::string_view s, int* parts) {
  if (!digits(s, 0, 4) || s.substr(0, 4) == "0000") return 0;
  int y = num(s, 0, 4);
  *parts = 1;
  if (s.size() == 4 || s[4] != '-') return 4;
  if (!digits(s, 5, 2)) return 0;
  int mo = num(s, 5, 2);
  if (mo < 1 || mo > 12) return 0;
  *parts = 2;
  if (s.size() == 7 || s[7] != '-') return 7;
  if (!digits(s, 8, 2)) return 0;
  int d = num(s, 8, 2);
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 1 : 0);
  if (d < 1 || d > max) return 0;
  *parts = 3;
  return 10;
}

// hh:mm:ss(.f+)? at `at`; returns the end or 0.
size_t time_part(std::string_view s, size_t at) {
  if (!digits(s, at, 2) || at + 8 > s.size() || s[at + 2] != ':' || !digits(s, at + 3, 2) || s[at + 5] != ':' ||
      !digits(s, at + 6, 2))
    return 0;
  if (num(s, at, 2) > 23 || num(s, at + 3, 2) > 59 || num(s, at + 6, 2) > 60) return 0;
  size_t p = at + 8;
  if (p < s.size() && s[p] == '.') {
    size_t q = p + 1;
    while (q < s.size() && digit(s[q])) ++q;
    if (q == p + 1) return 0;
    p = q;
  }
  return p;
}

// Z | (+|-)hh:mm with hh 00-13 (any minutes) or 14:00; must end the string.
bool zone(std::string_view s, size_t at) {
  if (at >= s.size()) return false;
  if (s[at] == 'Z') return at + 1 == s.size();
  if (s[at] != '+' && s[at] != '-') return false;
  if (at + 6 != s.size() || !digits(s, at + 1, 2) || s[at + 3] != ':' || !digits(s, at + 4, 2)) return false;
  int h = num(s, at + 1, 2), m = num(s, at + 4, 2);
  if (m > 59) return false;
  return h <= 13 || (h == 14 && m == 0);
}

bool int_text(std::string_view s, bool allow_minus, int64_t* v) {
  size_t i = 0;
  bool neg = false;
  if (allow_minus && !s.empty() && s[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i >= s.size()) return false;
  if (s[i] == '0' && s.size() > i + 1) return false;
  if (s.size() - i > 11) return false;
  int64_t n = 0;
  for (; i < s.size(); ++i) {
    if (!digit(s[i])) return false;
    n = n * 10 + (s[i] - '0');
  }
  *v = neg ? -n : n;
  return true;
}

bool string_chars_ok(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

}  // namespace

const char* prim_name(Prim p) {
  switch (p) {
    case Prim::boolean: return "boolean";
    case Prim::integer: return "integer";
    case Prim::positive_int: return "positiveInt";
    case Prim::unsigned_int: return "unsignedInt";
    case Prim::decimal: return "decimal";
    case Prim::string: return "string";
    case Prim::code: return "code";
    case Prim::id: return "id";
    case Prim::oid: return "oid";
    case Prim::uuid: return "uuid";
    case Prim::uri: return "uri";
    case Prim::url: return "url";
    case Prim::canonical: return "canonical";
    case Prim::markdown: return "markdown";
    case Prim::base64: return "base64Binary";
    case Prim::date: return "date";
    case Prim::date_time: return "dateTime";
    case Prim::instant: return "instant";
    case Prim::time: return "time";
    case Prim::xhtml: return "xhtml";
    case Prim::none: break;
  }
  return "?";
}

bool primitive_text_ok(Prim p, std::string_view s) {
  switch (p) {
    case Prim::none:
      return true;
    case Prim::boolean:
      return s == "true" || s == "false";
    case Prim::integer: {
      int64_t v;
      return int_text(s, true, &v) && v >= -2147483648LL && v <= 2147483647LL;
    }
    case Prim::positive_int: {
      int64_t v;
      return int_text(s, false, &v) && v >= 1 && v <= 2147483647LL;
    }
    case Prim::unsigned_int: {
      int64_t v;
      return int_text(s, false, &v) && v >= 0 && v <= 2147483647LL;
    }
    case Prim::decimal: {  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
      size_t i = 0;
      if (i < s.size() && s[i] == '-') ++i;
      if (i >= s.size() || !digit(s[i])) return false;
      if (s[i] == '0') ++i;
      else
        while (i < s.size() && digit(s[i])) ++i;
      if (i < s.size() && s[i] == '.') {
        size_t j = ++i;
        while (i < s.size() && digit(s[i])) ++i;
        if (i == j) return false;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        size_t j = i;
        while (i < s.size() && digit(s[i])) ++i;
        if (i == j) return false;
      }
      return i == s.size();
    }
    case Prim::string:
    case Prim::markdown:
      return !s.empty() && s.size() <= 1024 * 1024 && string_chars_ok(s);
    case Prim::code: {  // [^\s]+(\s[^\s]+)*
      if (s.empty() || ws(s.front()) || ws(s.back())) return false;
      for (size_t i = 1; i < s.size(); ++i)
        if (ws(s[i]) && ws(s[i - 1])) return false;
      return string_chars_ok(s);
    }
    case Prim::id: {
      if (s.empty() || s.size() > 64) return false;
      for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || digit(c) || c == '-' || c == '.')) return false;
      return true;
    }
    case Prim::oid: {  // urn:oid:[0-2](\.(0|[1-9][0-9]*))+
      if (s.size() < 11 || s.substr(0, 8) != "urn:oid:") return false;
      if (s[8] < '0' || s[8] > '2') return false;
      size_t i = 9;
      int arcs = 0;
      while (i < s.size()) {
        if (s[i] != '.') return false;
        size_t j = ++i;
        while (i < s.size() && digit(s[i])) ++i;
        if (i == j || (s[j] == '0' && i - j > 1)) return false;
        ++arcs;
      }
      return arcs > 0;
    }
    case Prim::uuid: {
      if (s.size() != 45 || s.substr(0, 9) != "urn:uuid:") return false;
      for (size_t i = 9; i < s.size(); ++i) {
        size_t k = i - 9;
        char c = s[i];
        if (k == 8 || k == 13 || k == 18 || k == 23) {
          if (c != '-') return false;
        } else if (!(digit(c) || (c >= 'a' && c <= 'f'))) {
          return false;
        }
      }
      return true;
    }
    case Prim::uri:
    case Prim::url:
    case Prim::canonical:  // \S*
      for (char c : s)
        if (ws(c)) return false;
      return string_chars_ok(s);
    case Prim::base64: {
      // The spec's regex omits '/', which every base64 text may contain (a known R4 erratum);
      // the rule applied is RFC 4648 base64 with optional whitespace.
      size_t n = 0, pad = 0;
      for (char c : s) {
        if (ws(c)) continue;
        if (c == '=') {
          ++pad;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || digit(c) || c == '+' || c == '/') {
          if (pad) return false;
        } else {
          return false;
        }
        ++n;
      }
      return n % 4 == 0 && pad <= 2;
    }
    case Prim::date: {
      int parts;
      size_t n = date_part(s, &parts);
      return n && n == s.size();
    }
    case Prim::date_time: {
      int parts;
      size_t n = date_part(s, &parts);
      if (!n) return false;
      if (n == s.size()) return true;
      if (parts != 3 || s[n] != 'T') return false;
      size_t e = time_part(s, n + 1);
      return e && zone(s, e);
    }
    case Prim::instant: {
      int parts;
      size_t n = date_part(s, &parts);
      if (!n || parts != 3 || n >= s.size() || s[n] != 'T') return false;
      size_t e = time_part(s, n + 1);
      return e && zone(s, e);
    }
    case Prim::time: {
      size_t e = time_part(s, 0);
      return e && e == s.size();
    }
    case Prim::xhtml:
      return s.size() >= 5 && s.compare(0, 4, "<div") == 0 && (s[4] == ' ' || s[4] == '>' || ws(s[4])) &&
             s.find("http://www.w3.org/1999/xhtml") != std::string_view::npos && string_chars_ok(s);
  }
  return false;
}

bool check_primitive(Prim p, const json::Value& v, std::string* why) {
  const char* tn = prim_name(p);
  if (p == Prim::boolean) {
    if (!v.is<bool>()) {
      *why = "a boolean must be the JSON literal true or false";
      return false;
    }
    return true;
  }
  if (p == Prim::integer || p == Prim::positive_int || p == Prim::unsigned_int || p == Prim::decimal) {
    if (!json::is_number(v)) {
      *why = std::string("a ") + tn + " must be a JSON number, not " +
             (json::is_string(v) ? "a string" : v.is<bool>() ? "a boolean" : json::is_object(v) ? "an object" : "this");
      return false;
    }
    std::string text = json::number_text(v);
    if (!primitive_text_ok(p, text)) {
      if (p == Prim::decimal) *why = "'" + text + "' is not a valid decimal";
      else if (p == Prim::integer) *why = "'" + text + "' is not a valid integer (-2147483648..2147483647, no fraction or exponent)";
      else if (p == Prim::positive_int) *why = "'" + text + "' is not a valid positiveInt (1..2147483647)";
      else *why = "'" + text + "' is not a valid unsignedInt (0..2147483647)";
      return false;
    }
    return true;
  }
  const std::string* s = json::as_string(v);
  if (!s || !json::is_string(v)) {
    *why = std::string("a ") + tn + " must be a JSON string, not " +
           (json::is_number(v) ? "a number" : v.is<bool>() ? "a boolean" : json::is_object(v) ? "an object" : "this");
    return false;
  }
  if (s->empty()) {
    *why = "empty strings are not allowed in FHIR JSON";
    return false;
  }
  if (!primitive_text_ok(p, *s)) {
    std::string shown = s->size() > 80 ? s->substr(0, 80) + "..." : *s;
    switch (p) {
      case Prim::date: *why = "'" + shown + "' is not a valid date (YYYY, YYYY-MM or YYYY-MM-DD, a real calendar day)"; break;
      case Prim::date_time: *why = "'" + shown + "' is not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.f]+zz:zz with a time zone)"; break;
      case Prim::instant: *why = "'" + shown + "' is not a valid instant (YYYY-MM-DDThh:mm:ss[.f] with Z or +hh:mm)"; break;
      case Prim::time: *why = "'" + shown + "' is not a valid time (hh:mm:ss[.f])"; break;
      case Prim::xhtml: *why = "the narrative must be an XHTML <div> in the namespace http://www.w3.org/1999/xhtml"; break;
      case Prim::code: *why = "'" + shown + "' is not a valid code (no leading, trailing or repeated whitespace)"; break;
      case Prim::id: *why = "'" + shown + "' is not a valid id ([A-Za-z0-9-.]{1,64})"; break;
      case Prim::uri: case Prim::url: case Prim::canonical:
        *why = "'" + shown + "' is not a valid " + tn + " (no whitespace)"; break;
      case Prim::string: case Prim::markdown:
        *why = std::string("not a valid ") + tn + " (control characters, or longer than 1 MB)"; break;
      default: *why = "'" + shown + "' is not a valid " + tn; break;
    }
    return false;
  }
  return true;
}

}  // namespace ef::fhir::model
