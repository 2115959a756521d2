// fhir/indexer.cpp — see indexer.h.  Evaluates each parameter's compiled FHIRPath on the
// resource (pointers, no copies) and converts each result node into rows by parameter type
// and node type (exact type from the path when known, else fhirpath's shape_type()).
#include "fhir/indexer.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include <cfloat>
#include <cmath>
#include <cstdlib>

#include "fhir/fhirpath.h"
#include "util/time.h"

namespace ef::fhir {

// ---------------------------------------------------------------------------------------------
// String normalisation
// ---------------------------------------------------------------------------------------------
namespace {

// Base letters for U+00C0..U+00FF; '*' = multi-letter (handled below), '\0' = keep as is.
constexpr char kLatin1[64 + 1] =
    "aaaaaa*ceeeeiiii"   // C0-CF: À Á Â Ã Ä Å Æ Ç È É Ê Ë Ì Í Î Ï
    "dnooooo\0ouuuuy**"  // D0-DF: Ð Ñ Ò Ó Ô Õ Ö × Ø Ù Ú Û Ü Ý Þ ß
    "aaaaaa*ceeeeiiii"   // E0-EF
    "dnooooo\0ouuuuy*y";  // F0-FF: ð ñ ò ó ô õ ö ÷ ø ù ú û ü ý þ ÿ

// Base letters for U+0100..U+017F (Latin Extended-A); '*' = multi-letter.
constexpr char kLatinExtA[128 + 1] =
    "aaaaaa"        // 0100-0105 Ā ā Ă ă Ą ą
    "cccccccc"      // 0106-010D
    "dddd"          // 010E-0111
    "eeeeeeeeee"    // 0112-011B
    "gggggggg"      // 011C-0123
    "hhhh"          // 0124-0127
    "iiiiiiiiii"    // 0128-0131
    "**"            // 0132-0133 Ĳ ĳ
    "jj"            // 0134-0135
    "kkk"           // 0136-0138
    "llllllllll"    // 0139-0142
    "nnnnnnnnn"     // 0143-014B
    "oooooo"        // 014C-0151
    "**"            // 0152-0153 Œ œ
    "rrrrrr"        // 0154-0159
    "ssssssss"      // 015A-0161
    "tttttt"        // 0162-0167
    "uuuuuuuuuuuu"  // 0168-0173
    "ww"            // 0174-0175
    "yyy"           // 0176-0178
    "zzzzzz"        // 0179-017E
    "s";            // 017F ſ
static_assert(sizeof(kLatinExtA) == 129, "Latin Extended-A table must cover 128 code points");

const char* multi_letter(unsigned cp) {
  switch (cp) {
    case 0xC6: case 0xE6: return "ae";
    case 0xDE: case 0xFE: return "th";
    case 0xDF: return "ss";
    case 0x132: case 0x133: return "ij";
    case 0x152: case 0x153: return "oe";
  }
  return nullptr;
}

}  // namespace

std::string normalize_string(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  auto put = [&](const char* p, size_t n) {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out.append(p, n);
  };
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        pending_space = true;
        continue;
      }
      char l = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : char(c);
      put(&l, 1);
      continue;
    }
    // two-byte sequences cover U+0080..U+07FF, which holds everything we fold
    if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      if (cp >= 0x300 && cp <= 0x36F) {  // combining diacritical mark: drop
        i += 2;
        continue;
      }
      if (cp == 0xA0) {  // no-break space
        pending_space = true;
        i += 2;
        continue;
      }
      char base = 0;
      if (cp >= 0xC0 && cp <= 0xFF) base = kLatin1[cp - 0xC0];
      else if (cp >= 0x100 && cp <= 0x17F) base = kLatinExtA[cp - 0x100];
      if (base == '*') {
        const char* m = multi_letter(cp);
        put(m, 2);
        i += 2;
        continue;
      }
      if (base) {
        put(&base, 1);
        i += 2;
        continue;
      }
      put(s.data() + i, 2);
      i += 2;
      continue;
    }
    // anything else (other scripts, invalid bytes): copied unchanged, one lead byte plus its
    // continuation bytes at a time
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    put(s.data() + i, j - i);
    i = j;
  }
  return out;
}

bool number_range(std::string_view t, double* value, double* lo, double* hi) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++int_digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  long exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) neg = t[i++] == '-';
    size_t d0 = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && i - d0 < 6) exp = exp * 10 + (t[i++] - '0');
    if (i == d0) return false;
    if (neg) exp = -exp;
  }
  if (i != t.size()) return false;
  std::string buf(t);
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(v)) return false;
  double half = 0.5 * std::pow(10.0, double(exp - long(frac_digits)));
  *value = v;
  *lo = v - half;
  *hi = v + half;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------------------------
namespace {

struct Ctx {
  const SearchParamRegistry& reg;
  const json::Value& resource;
  IndexRows* out;
  const std::string* param;  // row.param for the rows being produced
  int group = 0;
};

IndexRow& new_row(Ctx& c, ParamType t) {
  c.out->emplace_back();
  IndexRow& r = c.out->back();
  r.param = *c.param;
  r.type = t;
  r.group = c.group;
  return r;
}

const std::string* str(const json::Value& v, const char* key) { return json::get_string(v, key); }

// ---- string ----
void add_string(Ctx& c, const std::string& s) {
  std::string n = normalize_string(s);
  if (n.empty()) return;
  IndexRow& r = new_row(c, ParamType::string);
  r.text = std::move(n);
  r.exact = s;
}

void add_string_member(Ctx& c, const json::Value& v, const char* key) {
  const json::Value* m = json::get(v, key);
  if (!m) return;
  if (const json::Array* a = json::as_array(*m)) {
    for (const json::Value& e : *a)
      if (const std::string* s = json::as_string(e)) add_string(c, *s);
  } else if (const std::string* s = json::as_string(*m)) {
    add_string(c, *s);
  }
}

void index_string(Ctx& c, const PathNode& n, std::string_view type) {
  if (const std::string* s = json::as_string(*n.value)) return add_string(c, *s);
  if (type == "HumanName") {
    for (const char* k : {"family", "given", "prefix", "suffix", "text"}) add_string_member(c, *n.value, k);
  } else if (type == "Address") {
    for (const char* k : {"line", "city", "district", "state", "postalCode", "country", "text"})
      add_string_member(c, *n.value, k);
  }
}

// ---- token ----
IndexRow& token_row(Ctx& c, const std::string* system, const std::string* code) {
  IndexRow& r = new_row(c, ParamType::token);
  if (system) r.system = *system;
  if (code) r.code = *code;
  return r;
}

void add_coding(Ctx& c, const json::Value& coding) {
  const std::string* code = str(coding, "code");
  const std::string* system = str(coding, "system");
  const std::string* display = str(coding, "display");
  if (!code && !system && !display) return;
  IndexRow& r = token_row(c, system, code);
  if (display) r.text = normalize_string(*display);
}

void index_token(Ctx& c, const PathNode& n, std::string_view type) {
  const json::Value& v = *n.value;
  if (const std::string* s = json::as_string(v)) {
    if (!s->empty()) token_row(c, nullptr, s);
    return;
  }
  if (json::is_bool(v)) {
    static const std::string t = "true", f = "false";
    token_row(c, nullptr, v.get<bool>() ? &t : &f);
    return;
  }
  if (json::is_number(v)) {
    std::string t = json::number_text(v);
    token_row(c, nullptr, &t);
    return;
  }
  if (!json::is_object(v)) return;
  if (type == "CodeableConcept") {
    size_t first = c.out->size();
    if (const json::Array* codings = json::get_array(v, "coding"))
      for (const json::Value& cd : *codings) add_coding(c, cd);
    if (const std::string* text = str(v, "text")) {
      std::string t = normalize_string(*text);
      bool seen = t.empty();
      for (size_t i = first; i < c.out->size() && !seen; ++i) seen = (*c.out)[i].text == t;
      if (!seen) new_row(c, ParamType::token).text = std::move(t);
    }
  } else if (type == "Identifier") {
    const std::string* value = str(v, "value");
    const std::string* system = str(v, "system");
    if (!value && !system) return;
    const json::Value* itype = json::get(v, "type");
    std::string ttext;
    if (itype)
      if (const std::string* tt = str(*itype, "text")) ttext = normalize_string(*tt);
    const json::Array* tcodings = itype ? json::get_array(*itype, "coding") : nullptr;
    if (tcodings && !tcodings->empty()) {
      for (const json::Value& tc : *tcodings) {
        IndexRow& r = token_row(c, system, value);
        r.text = ttext;
        if (const std::string* s = str(tc, "system")) r.type_system = *s;
        if (const std::string* s = str(tc, "code")) r.type_code = *s;
      }
    } else {
      token_row(c, system, value).text = ttext;
    }
  } else if (type == "ContactPoint") {
    if (const std::string* value = str(v, "value")) token_row(c, nullptr, value);
  } else if (type == "Coding" || str(v, "code")) {
    add_coding(c, v);
  }
}

// ---- date ----
void add_date_range(Ctx& c, int64_t lo, int64_t hi) {
  IndexRow& r = new_row(c, ParamType::date);
  r.lo_ms = lo;
  r.hi_ms = hi;
}

void add_date_string(Ctx& c, const std::string& s) {
  if (auto r = timefmt::parse_fhir_time(s)) add_date_range(c, r->lo_ms, r->hi_ms);
}

void add_period(Ctx& c, const json::Value& p) {
  const std::string* start = str(p, "start");
  const std::string* end = str(p, "end");
  if (!start && !end) return;
  int64_t lo = kDateMin, hi = kDateMax;
  if (start) {
    auto r = timefmt::parse_fhir_time(*start);
    if (!r) return;
    lo = r->lo_ms;
  }
  if (end) {
    auto r = timefmt::parse_fhir_time(*end);
    if (!r) return;
    hi = r->hi_ms;
  }
  add_date_range(c, lo, hi);
}

void index_date(Ctx& c, const PathNode& n, std::string_view type) {
  const json::Value& v = *n.value;
  if (const std::string* s = json::as_string(v)) return add_date_string(c, *s);
  if (type == "Period") return add_period(c, v);
  if (type == "Timing") {
    const json::Array* events = json::get_array(v, "event");
    if (events && !events->empty()) {
      for (const json::Value& e : *events)
        if (const std::string* s = json::as_string(e)) add_date_string(c, *s);
    } else if (const json::Value* rep = json::get(v, "repeat")) {
      if (const json::Value* bp = json::get(*rep, "boundsPeriod")) add_period(c, *bp);
    }
  }
}

// ---- number / quantity ----
bool num_of(const json::Value* v, double* val, double* lo, double* hi) {
  return v && json::is_number(*v) && number_range(json::number_text(*v), val, lo, hi);
}

void index_number(Ctx& c, const PathNode& n, std::string_view type) {
  double val, lo, hi;
  if (num_of(n.value, &val, &lo, &hi)) {
    IndexRow& r = new_row(c, ParamType::number);
    r.num = val;
    r.num_lo = lo;
    r.num_hi = hi;
    return;
  }
  if (type == "Range") {
    double lv, llo, lhi, hv, hlo, hhi;
    const json::Value* low = json::get(*n.value, "low");
    const json::Value* high = json::get(*n.value, "high");
    bool has_l = low && num_of(json::get(*low, "value"), &lv, &llo, &lhi);
    bool has_h = high && num_of(json::get(*high, "value"), &hv, &hlo, &hhi);
    if (!has_l && !has_h) return;
    IndexRow& r = new_row(c, ParamType::number);
    r.num = has_l ? lv : hv;
    r.num_lo = has_l ? lv : -DBL_MAX;
    r.num_hi = has_h ? hv : DBL_MAX;
  }
}

void quantity_units(IndexRow& r, const json::Value& q) {
  if (const std::string* s = str(q, "system")) r.system = *s;
  if (const std::string* s = str(q, "code")) r.code = *s;
  if (const std::string* s = str(q, "unit")) r.text = *s;
}

void index_quantity(Ctx& c, const PathNode& n, std::string_view type) {
  const json::Value& v = *n.value;
  double val, lo, hi;
  if (num_of(&v, &val, &lo, &hi)) {  // a bare decimal
    IndexRow& r = new_row(c, ParamType::quantity);
    r.num = val, r.num_lo = lo, r.num_hi = hi;
    return;
  }
  if (!json::is_object(v)) return;
  if (type == "Range") {
    const json::Value* low = json::get(v, "low");
    const json::Value* high = json::get(v, "high");
    double lv, llo, lhi, hv, hlo, hhi;
    bool has_l = low && num_of(json::get(*low, "value"), &lv, &llo, &lhi);
    bool has_h = high && num_of(json::get(*high, "value"), &hv, &hlo, &hhi);
    if (!has_l && !has_h) return;
    IndexRow& r = new_row(c, ParamType::quantity);
    r.num = has_l ? lv : hv;
    r.num_lo = has_l ? lv : -DBL_MAX;
    r.num_hi = has_h ? hv : DBL_MAX;
    quantity_units(r, has_l ? *low : *high);
    return;
  }
  if (type == "SampledData") return;  // a series, not one value
  if (!num_of(json::get(v, "value"), &val, &lo, &hi)) return;
  IndexRow& r = new_row(c, ParamType::quantity);
  r.num = val, r.num_lo = lo, r.num_hi = hi;
  if (type == "Money" || (str(v, "currency") && !str(v, "code"))) {
    r.system = "urn:iso:std:iso:4217";
    if (const std::string* cur = str(v, "currency")) r.code = *cur;
    return;
  }
  quantity_units(r, v);
}

// ---- reference ----
bool valid_id_chars(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char ch : id)
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
      return false;
  return true;
}

// Splits ".../Type/id[/_history/v]" into type and id (type must be an R4 resource type).
bool split_type_id(const SearchParamRegistry& reg, std::string_view s, std::string_view* type, std::string_view* id) {
  size_t h = s.find("/_history/");
  if (h != std::string_view::npos) s = s.substr(0, h);
  size_t slash = s.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view i = s.substr(slash + 1);
  std::string_view head = s.substr(0, slash);
  size_t prev = head.rfind('/');
  std::string_view t = prev == std::string_view::npos ? head : head.substr(prev + 1);
  if (!valid_id_chars(i) || !reg.is_resource_type(t)) return false;
  *type = t;
  *id = i;
  return true;
}

void index_reference(Ctx& c, const PathNode& n, std::string_view type) {
  const json::Value& v = *n.value;
  if (const std::string* s = json::as_string(v)) {  // canonical / uri
    if (!s->empty()) new_row(c, ParamType::reference).exact = *s;
    return;
  }
  if (!json::is_object(v)) return;
  if (const std::string* rt = str(v, "resourceType")) {  // inline resource
    const std::string* id = str(v, "id");
    if (!id) return;
    IndexRow& r = new_row(c, ParamType::reference);
    r.ref_type = *rt;
    r.ref_id = *id;
    return;
  }
  const std::string* ref = str(v, "reference");
  const json::Value* ident = json::get(v, "identifier");
  const std::string* isys = ident ? str(*ident, "system") : nullptr;
  const std::string* ival = ident ? str(*ident, "value") : nullptr;
  if ((!ref || ref->empty()) && !ival) return;
  IndexRow& r = new_row(c, ParamType::reference);
  if (isys) r.system = *isys;
  if (ival) r.code = *ival;
  if (!ref || ref->empty()) return;
  std::string_view s = *ref, t, id;
  bool absolute = s.find("://") != std::string_view::npos;
  bool local = s[0] != '#' && s.rfind("urn:", 0) != 0 && !absolute;
  if ((local || absolute) && split_type_id(c.reg, s, &t, &id)) {
    if (local && s.find('/') != s.rfind('/') && s.find("/_history/") == std::string_view::npos) {
      r.exact = *ref;  // a relative path with more segments than Type/id
    } else {
      r.ref_type = std::string(t);
      r.ref_id = std::string(id);
      if (absolute) r.exact = *ref;
    }
  } else {
    r.exact = *ref;
  }
}

// ---- uri ----
void index_uri(Ctx& c, const PathNode& n, std::string_view) {
  if (const std::string* s = json::as_string(*n.value))
    if (!s->empty()) new_row(c, ParamType::uri).exact = *s;
}

void index_node(Ctx& c, ParamType t, const PathNode& n) {
  std::string_view type = n.type.empty() ? shape_type(*n.value) : n.type;
  switch (t) {
    case ParamType::string: return index_string(c, n, type);
    case ParamType::token: return index_token(c, n, type);
    case ParamType::date: return index_date(c, n, type);
    case ParamType::number: return index_number(c, n, type);
    case ParamType::quantity: return index_quantity(c, n, type);
    case ParamType::reference: return index_reference(c, n, type);
    case ParamType::uri: return index_uri(c, n, type);
    case ParamType::composite:
    case ParamType::special: return;
  }
}

// A total order on index rows for de-duplication (doubles compared by their bits, so NaN and
// -0.0 cannot break the ordering: rows are duplicates only when bit-identical there).
int cmp_bits(double a, double b) {
  uint64_t x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x < y ? -1 : x > y ? 1 : 0;
}
int cmp_row(const IndexRow& a, const IndexRow& b) {
  auto ka = std::tie(a.param, a.type, a.group, a.text, a.exact, a.system, a.code, a.type_system, a.type_code, a.ref_type,
                     a.ref_id, a.lo_ms, a.hi_ms);
  auto kb = std::tie(b.param, b.type, b.group, b.text, b.exact, b.system, b.code, b.type_system, b.type_code, b.ref_type,
                     b.ref_id, b.lo_ms, b.hi_ms);
  if (ka < kb) return -1;
  if (kb < ka) return 1;
  if (int c = cmp_bits(a.num, b.num)) return c;
  if (int c = cmp_bits(a.num_lo, b.num_lo)) return c;
  return cmp_bits(a.num_hi, b.num_hi);
}

// Removes duplicates among out[from..], keeping the first of each in order.  O(n log n): an
// Observation with 40,000 identifiers took 4 s with the pairwise comparison this replaced.
void dedupe(IndexRows* out, size_t from) {
  size_t n = out->size() - from;
  if (n < 2) return;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = from + i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cmp_row((*out)[a], (*out)[b]) < 0; });
  std::vector<char> dup(n, 0);
  for (size_t i = 1; i < n; ++i)
    if (cmp_row((*out)[order[i - 1]], (*out)[order[i]]) == 0) dup[order[i] - from] = 1;
  size_t keep = from;
  for (size_t i = from; i < out->size(); ++i) {
    if (dup[i - from]) continue;
    if (keep != i) (*out)[keep] = std::move((*out)[i]);
    ++keep;
  }
  out->resize(keep);
}

}  // namespace

void extract_index(const SearchParamRegistry& reg, const json::Value& resource, IndexRows* out) {
  const std::string* type = json::get_string(resource, "resourceType");
  if (!type) return;
  Ctx c{reg, resource, out, nullptr, 0};
  int next_group = 0;
  PathNodes nodes, parts;
  std::string comp_param;
  for (const SearchParam* p : reg.params_for(*type)) {
    if (!p->supported || p->from_columns()) continue;
    nodes.clear();
    p->path.evaluate(resource, &nodes);
    if (nodes.empty()) continue;
    size_t from = out->size();
    if (p->type == ParamType::composite) {
      for (const PathNode& ctxnode : nodes) {
        c.group = ++next_group;
        size_t group_start = out->size();
        bool complete = true;
        for (size_t k = 0; k < p->components.size() && complete; ++k) {
          const SearchParamComponent& comp = p->components[k];
          parts.clear();
          comp.path.evaluate(resource, ctxnode, &parts);
          comp_param = p->code + "$" + std::to_string(k);
          c.param = &comp_param;
          size_t before = out->size();
          for (const PathNode& part : parts) index_node(c, comp.type, part);
          complete = out->size() > before;
        }
        if (!complete) {  // a combination missing a component can never match: drop it
          out->resize(group_start);
          --next_group;
        }
      }
      c.group = 0;
    } else {
      c.param = &p->code;
      for (const PathNode& n : nodes) index_node(c, p->type, n);
    }
    dedupe(out, from);
  }
}

void extract_index(const json::Value& resource, IndexRows* out) { extract_index(registry(), resource, out); }

}  // namespace ef::fhir
