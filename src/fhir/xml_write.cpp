// fhir/xml_write.cpp — JSON -> XML, xml::write_text() and xml::write() of xml.h: a Tape of
// the JSON text (spans, no tree), then Writer walks it with the type model in definition
// order, merging `x` and `_x` into one element (escape() from xml_internal.h; the narrative
// div is checked by well_formed_fragment() in xml.cpp and written verbatim).
#include "fhir/xml.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <vector>

#include "fhir/type_model.h"
#include "fhir/xml_internal.h"

namespace ef::fhir::xml {

using model::Kind;
using model::Prim;
using model::TypeDef;
using detail::escape;

// ---------------------------------------------------------------- JSON -> XML
namespace {

// The writer reads JSON text, not a picojson tree: one pass (Tape) records every value's span
// and member name in one vector, then each object's members are written in definition order
// from their spans (numbers verbatim, strings unescaped then XML-escaped).  The text is JSON
// we wrote (stored resources, Bundles, outcomes); a malformed one makes write_text() false.
struct Span {
  const char* b = nullptr;
  const char* e = nullptr;
  uint32_t n = 0;  // its node in the Tape
  char kind() const { return b < e ? *b : 0; }  // '{' '[' '"' 't' 'f' 'n' or a number
  bool null() const { return kind() == 'n'; }
};

const char* ws(const char* p, const char* e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

// One pass over the JSON text: every value's span, member name, first child and next sibling
// (a flat tree in one vector; 0 = none, the root is node 0 and nobody's child).
struct Tape {
  struct Node {  // offsets into the text: 20 bytes a value (a 64 MiB Bundle: ~4M values)
    uint32_t b, e, key = 0, key_len = 0, first = 0, next = 0;
  };
  std::vector<Node> nodes;
  const char* base = nullptr;
  const char* end = nullptr;
  uint32_t off(const char* p) const { return uint32_t(p - base); }

  bool parse(const char* b, const char* e) {
    if (size_t(e - b) >= 0xFFFFFFF0u) return false;
    base = b;
    end = e;
    nodes.reserve(size_t(e - b) / 24 + 4);
    const char* p = ws(b, e);
    uint32_t root;
    if (!value(p, 0, &root)) return false;
    return ws(p, e) == e;
  }

  bool value(const char*& p, int depth, uint32_t* out) {
    if (p >= end || depth > 1000) return false;
    uint32_t idx = uint32_t(nodes.size());
    nodes.push_back(Node{off(p), off(p)});
    *out = idx;
    char c = *p;
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      p = ws(p + 1, end);
      uint32_t prev = 0;
      if (p < end && *p == close) {
        nodes[idx].e = off(++p);
        return true;
      }
      while (p < end) {
        const char* k = nullptr;
        uint32_t klen = 0;
        if (c == '{') {
          if (*p != '"') return false;
          k = ++p;
          while (p < end && *p != '"') {
            if (*p == '\\') return false;  // FHIR member names have no escapes
            ++p;
          }
          if (p >= end) return false;
          klen = uint32_t(p - k);
          p = ws(p + 1, end);
          if (p >= end || *p != ':') return false;
          p = ws(p + 1, end);
        }
        uint32_t child;
        if (!value(p, depth + 1, &child)) return false;
        nodes[child].key = k ? off(k) : 0;
        nodes[child].key_len = klen;
        if (prev) nodes[prev].next = child;
        else nodes[idx].first = child;
        prev = child;
        p = ws(p, end);
        if (p < end && *p == ',') {
          p = ws(p + 1, end);
        } else if (p < end && *p == close) {
          nodes[idx].e = off(++p);
          return true;
        } else {
          return false;
        }
      }
      return false;
    }
    if (c == '"') {
      ++p;
      while (p < end) {  // memchr to the next quote; escapes are rare
        const char* q = static_cast<const char*>(std::memchr(p, '"', size_t(end - p)));
        if (!q) return false;
        const char* bs = static_cast<const char*>(std::memchr(p, '\\', size_t(q - p)));
        if (!bs) {
          p = q + 1;
          nodes[idx].e = off(p);
          return true;
        }
        p = bs + 2;  // skip the escaped character
      }
      return false;
    }
    const char* q = p;
    while (q < end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\n' && *q != '\r' && *q != '\t') ++q;
    std::string_view lit(p, size_t(q - p));
    if (lit != "true" && lit != "false" && lit != "null" && !json::valid_number_text(lit)) return false;
    p = q;
    nodes[idx].e = off(q);
    return true;
  }
};

struct Member {
  std::string_view key;
  Span v;
};

void put_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

// The content of a JSON string literal (escapes decoded) into out.
bool unquote(Span s, std::string& out) {
  if (s.kind() != '"' || s.e - s.b < 2) return false;
  const char* p = s.b + 1;
  const char* e = s.e - 1;
  while (p < e) {
    const char* q = p;
    while (q < e && *q != '\\') ++q;
    out.append(p, size_t(q - p));
    if (q >= e) break;
    if (q + 1 >= e) return false;
    char c = q[1];
    p = q + 2;
    switch (c) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        auto hex4 = [&](const char* h, unsigned long* v) {
          if (e - h < 4) return false;
          *v = 0;
          for (int i = 0; i < 4; ++i) {
            char d = h[i];
            int x = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10 : d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
            if (x < 0) return false;
            *v = *v * 16 + unsigned(x);
          }
          return true;
        };
        unsigned long cp;
        if (!hex4(p, &cp)) return false;
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
          unsigned long lo;
          if (hex4(p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        put_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// An XML name we can write (ASCII: FHIR names are; a member stored under validation off may
// not be).
bool xml_name_ok(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  char c0 = n[0];
  if (!((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
  for (char c : n)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  if (n.size() >= 3 && (n[0] == 'x' || n[0] == 'X') && (n[1] == 'm' || n[1] == 'M') && (n[2] == 'l' || n[2] == 'L'))
    return false;  // reserved
  return true;
}

// Vectors handed back for reuse: a document's objects need one each, in turn.
template <class T>
struct Pool {
  std::vector<std::vector<T>> free;
  std::vector<T> get() {
    if (free.empty()) return {};
    std::vector<T> v = std::move(free.back());
    free.pop_back();
    v.clear();
    return v;
  }
  void put(std::vector<T>&& v) { free.push_back(std::move(v)); }
};

class Writer {
 public:
  Writer(const Tape& tape, bool pretty) : tape_(tape), pretty_(pretty) {}
  std::string out;
  bool ok = true;

  void resource(Span o, size_t level, bool root) {
    std::vector<Member> ms = members_pool_.get();
    if (o.kind() != '{' || !object_members(o, &ms)) {
      ok = false;
      return;
    }
    std::string name = "Resource";
    for (const Member& m : ms)
      if (m.key == "resourceType") {
        name.clear();
        if (!unquote(m.v, name)) ok = false;
      }
    if (!xml_name_ok(name)) name = "Resource";  // not a resource type (stored unvalidated)
    const TypeDef* t = model::model().type(name);
    if (t && t->kind != Kind::resource) t = nullptr;
    indent(level);
    out.push_back('<');
    out += name;
    if (root) out += " xmlns=\"http://hl7.org/fhir\"";
    body(name, ms, t, nullptr, level);
    members_pool_.put(std::move(ms));
  }

 private:
  const Tape& tape_;
  bool pretty_;
  std::string tmp_;
  Pool<Member> members_pool_;
  Pool<Span> spans_pool_;

  Span span(uint32_t n) const { return Span{tape_.base + tape_.nodes[n].b, tape_.base + tape_.nodes[n].e, n}; }
  bool object_members(Span o, std::vector<Member>* out) const {
    for (uint32_t c = tape_.nodes[o.n].first; c; c = tape_.nodes[c].next)
      out->push_back(Member{std::string_view(tape_.base + tape_.nodes[c].key, tape_.nodes[c].key_len), span(c)});
    return true;
  }
  bool array_items(Span a, std::vector<Span>* out) const {
    for (uint32_t c = tape_.nodes[a.n].first; c; c = tape_.nodes[c].next) out->push_back(span(c));
    return true;
  }

  void indent(size_t level) {
    if (!pretty_) return;
    if (!out.empty()) out.push_back('\n');
    out.append(level * 2, ' ');
  }

  void text_of(Span v, bool attr) {
    if (v.kind() == '"') {
      tmp_.clear();
      if (!unquote(v, tmp_)) ok = false;
      escape(out, tmp_, attr);
    } else {
      out.append(v.b, size_t(v.e - v.b));  // true, false, a number's exact text
    }
  }

  void attribute(const char* name, Span v) {
    out.push_back(' ');
    out += name;
    out += "=\"";
    text_of(v, true);
    out.push_back('"');
  }

  // After "<name": attributes, then children or "/>".  `value` is a primitive's value.
  void body(std::string_view name, const std::vector<Member>& ms, const TypeDef* t, const Span* value, size_t level) {
    bool attrs_id = t && t->kind != Kind::resource;
    bool attrs_url = t && t->name == "Extension";
    if (attrs_id)
      for (const Member& m : ms)
        if (m.key == "id" && m.v.kind() == '"') attribute("id", m.v);
    if (attrs_url)
      for (const Member& m : ms)
        if (m.key == "url" && m.v.kind() == '"') attribute("url", m.v);
    if (value && !value->null()) attribute("value", *value);
    out.push_back('>');
    size_t open = out.size();
    members(ms, t, level + 1, attrs_id, attrs_url);
    close(open, name, level);
  }

  // Ends the element whose start tag ended at `open`: "/>" when nothing was written inside
  // it, else an indented end tag.
  void close(size_t open, std::string_view name, size_t level) {
    if (out.size() == open) {
      out.back() = '/';
      out.push_back('>');
      return;
    }
    indent(level);
    out += "</";
    out.append(name.data(), name.size());
    out.push_back('>');
  }

  struct Item {
    uint32_t order;
    std::string_view name;           // the element name ("x" for `x` and `_x`)
    const Span* v = nullptr;         // `x`
    const Span* e = nullptr;         // `_x`
    const TypeDef* type = nullptr;   // null: not in the model
  };
  Pool<Item> items_pool_;

  void members(const std::vector<Member>& ms, const TypeDef* t, size_t level, bool skip_id, bool skip_url) {
    std::vector<Item> items = items_pool_.get();
    items.reserve(ms.size());
    bool any_ext = false;
    std::string key;
    for (const Member& m : ms) {
      std::string_view k = m.key;
      if (k == "resourceType" && (!t || t->kind == Kind::resource)) continue;
      if ((skip_id && k == "id" && m.v.kind() == '"') || (skip_url && k == "url" && m.v.kind() == '"')) continue;
      bool ext = !k.empty() && k[0] == '_';
      std::string_view base = ext ? k.substr(1) : k;
      key.assign(base.data(), base.size());
      const TypeDef::Member* mb = t ? t->member(key) : nullptr;
      const TypeDef* et = mb ? t->elements[mb->element].types[mb->type].type : nullptr;
      if (ext && (!et || et->kind != Kind::primitive)) et = nullptr, mb = nullptr;
      if (!mb) {
        items.push_back(Item{0xFFFFFFFFu, k, &m.v, nullptr, nullptr});
        continue;
      }
      Item* found = nullptr;
      if (ext || any_ext) {  // `_x` follows `x` in stored text; in other orders it may precede it
        any_ext = true;
        if (!items.empty() && items.back().type && items.back().name == base) found = &items.back();
        else
          for (Item& it : items)
            if (it.type && it.name == base) found = &it;
      }
      if (!found) {
        items.push_back(Item{uint32_t(mb->element), base, nullptr, nullptr, et});
        found = &items.back();
      }
      (ext ? found->e : found->v) = &m.v;
    }
    auto by_order = [](const Item& a, const Item& b) { return a.order < b.order; };
    if (!std::is_sorted(items.begin(), items.end(), by_order))  // stored text is in definition order
      std::stable_sort(items.begin(), items.end(), by_order);
    std::vector<Span> va = spans_pool_.get(), ea = spans_pool_.get();
    for (const Item& it : items) {
      std::string_view name = it.name;
      if (!it.type) {
        generic(name, *it.v, level);
        continue;
      }
      const TypeDef* et = it.type;
      if (et->kind == Kind::primitive && et->prim == Prim::xhtml) {
        if (it.v && it.v->kind() == '"') {
          tmp_.clear();
          std::string d;
          if (!unquote(*it.v, d)) ok = false;
          div(d, level);
        }
        continue;
      }
      if (et->kind == Kind::primitive) {
        va.clear();
        ea.clear();
        bool arr = (it.v && it.v->kind() == '[') || (it.e && it.e->kind() == '[');
        if (arr) {
          if (it.v && it.v->kind() == '[' && !array_items(*it.v, &va)) ok = false;
          if (it.e && it.e->kind() == '[' && !array_items(*it.e, &ea)) ok = false;
          size_t n = std::max(va.size(), ea.size());
          for (size_t i = 0; i < n; ++i)
            primitive(name, i < va.size() ? &va[i] : nullptr, i < ea.size() ? &ea[i] : nullptr, et, level);
        } else {
          primitive(name, it.v, it.e, et, level);
        }
        continue;
      }
      if (!it.v) continue;  // `_x` of an element that is not primitive: not FHIR, dropped
      auto one = [&](Span v) {
        if (v.kind() != '{') return generic(name, v, level);
        indent(level);
        out.push_back('<');
        out.append(name.data(), name.size());
        if (et->kind == Kind::resource) {
          out.push_back('>');
          resource(v, level + 1, false);
          indent(level);
          out += "</";
          out.append(name.data(), name.size());
          out.push_back('>');
        } else {
          std::vector<Member> sub = members_pool_.get();
          if (!object_members(v, &sub)) ok = false;
          body(name, sub, et, nullptr, level);
          members_pool_.put(std::move(sub));
        }
      };
      if (it.v->kind() == '[') {
        std::vector<Span> items2 = spans_pool_.get();
        if (!array_items(*it.v, &items2)) ok = false;
        for (const Span& v : items2) one(v);
        spans_pool_.put(std::move(items2));
      } else {
        one(*it.v);
      }
    }
    spans_pool_.put(std::move(va));
    spans_pool_.put(std::move(ea));
    items_pool_.put(std::move(items));
  }

  void primitive(std::string_view name, const Span* v, const Span* e, const TypeDef* t, size_t level) {
    bool has_v = v && !v->null();
    bool has_e = e && e->kind() == '{';
    if (!has_v && !has_e) return;
    indent(level);
    out.push_back('<');
    out.append(name.data(), name.size());
    std::vector<Member> ms = members_pool_.get();
    if (has_e && !object_members(*e, &ms)) ok = false;
    body(name, ms, t, has_v ? v : nullptr, level);
    members_pool_.put(std::move(ms));
  }

  void div(const std::string& s, size_t level) {
    indent(level);
    if (s.rfind("<div", 0) == 0 && well_formed_fragment(s)) {
      if (s.find("xmlns=\"http://www.w3.org/1999/xhtml\"") != std::string::npos ||
          s.find("xmlns='http://www.w3.org/1999/xhtml'") != std::string::npos) {
        out += s;
      } else {
        out += "<div xmlns=\"http://www.w3.org/1999/xhtml\"";
        out.append(s, 4, std::string::npos);
      }
      return;
    }
    out += "<div xmlns=\"http://www.w3.org/1999/xhtml\">";  // not XHTML: kept as its text
    escape(out, s, false);
    out += "</div>";
  }

  // A member the model does not know (stored with validation off): written by its name.
  void generic(std::string_view name, Span v, size_t level) {
    if (!xml_name_ok(name)) return;  // cannot be an XML element name: left out of XML
    if (v.kind() == '[') {
      std::vector<Span> xs;
      if (!array_items(v, &xs)) ok = false;
      for (const Span& x : xs) generic(name, x, level);
      return;
    }
    if (v.null()) return;
    indent(level);
    out.push_back('<');
    out.append(name.data(), name.size());
    if (v.kind() == '{') {
      std::vector<Member> ms;
      if (!object_members(v, &ms)) ok = false;
      out.push_back('>');
      size_t open = out.size();
      for (const Member& m : ms) generic(m.key, m.v, level + 1);
      close(open, name, level);
      return;
    }
    attribute("value", v);
    out += "/>";
  }
};

}  // namespace

bool write_text(std::string_view json_text, bool pretty, std::string* out) {
  Tape tape;
  if (!tape.parse(json_text.data(), json_text.data() + json_text.size())) return false;
  if (tape.nodes.empty() || tape.base[tape.nodes[0].b] != '{') return false;
  Writer w(tape, pretty);
  w.out.reserve(json_text.size() + json_text.size() / 4);
  w.resource(Span{tape.base + tape.nodes[0].b, tape.base + tape.nodes[0].e, 0}, 0, true);
  if (!w.ok) return false;
  if (pretty) w.out.push_back('\n');
  *out = std::move(w.out);
  return true;
}

std::string write(const json::Value& resource, bool pretty) {
  std::string out;
  write_text(json::write(resource), pretty, &out);
  return out;
}

}  // namespace ef::fhir::xml
