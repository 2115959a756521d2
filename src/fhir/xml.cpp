// fhir/xml.cpp — see xml.h.  parse(): prescan() (the security pass), pugixml, then Reader
// walks the tree with the type model and a namespace scope.  write_text(): a Tape of the JSON
// text (spans, no tree), then Writer walks it with the type model, merging `x` and `_x` into
// one element.  well_formed_fragment(): a tree-free check of a narrative div before it is
// written verbatim.
#include "fhir/xml.h"

#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <vector>

#include "fhir/type_model.h"

namespace ef::fhir::xml {

using model::Kind;
using model::Prim;
using model::TypeDef;

namespace {

// ---------------------------------------------------------------- positions

// 1-based line and column (in characters) of a byte offset.
std::string where(std::string_view s, size_t off) {
  if (off > s.size()) off = s.size();
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

Status bad(std::string_view s, size_t off, const std::string& what) {
  return Status(Err::invalid, "XML: " + what + " (" + where(s, off) + ")");
}

bool starts(std::string_view s, size_t i, const char* lit) {
  size_t n = std::strlen(lit);
  return s.size() - i >= n && s.compare(i, n, lit) == 0;
}

bool xml_char(unsigned long cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// A reference at s[i] == '&': one of the five predefined entities or a character reference
// to a character XML allows.  Returns its length, 0 when refused (*why says why).
size_t reference(std::string_view s, size_t i, std::string* why) {
  size_t semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 12) {
    *why = "'&' that does not start a reference (write &amp;)";
    return 0;
  }
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos") return semi - i + 1;
  if (name.size() >= 2 && name[0] == '#') {
    bool hex = name[1] == 'x';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (!digits.empty() &&
        digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") == std::string_view::npos) {
      unsigned long cp = std::strtoul(std::string(digits).c_str(), nullptr, hex ? 16 : 10);
      if (xml_char(cp)) return semi - i + 1;
      *why = "character reference &" + std::string(name) + "; names a character XML does not allow";
      return 0;
    }
  }
  *why = "undefined entity &" + std::string(name).substr(0, 40) + "; (only &amp; &lt; &gt; &quot; &apos; and "
         "character references are allowed; no DOCTYPE can define others)";
  return 0;
}

// The security pass (see xml.h).  *nodes = '<' + '=' count (a bound on pugixml's nodes).
Status prescan(std::string_view s, size_t max_nodes) {
  if (!json::valid_utf8(s)) {
    // find the first bad byte for the position
    size_t lo = 0, hi = s.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      size_t cut = mid;
      while (cut > lo && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      if (json::valid_utf8(s.substr(0, cut))) lo = cut == lo ? mid : cut;
      else hi = cut;
      if (cut == lo && mid == lo) break;
    }
    return bad(s, lo, "the document is not valid UTF-8");
  }
  size_t nodes = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
      return bad(s, i, "control character U+00" + std::string(1, "0123456789ABCDEF"[c >> 4]) +
                           std::string(1, "0123456789ABCDEF"[c & 15]) + " is not allowed in XML");
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        static_cast<unsigned char>(s[i + 2]) >= 0xBE)
      return bad(s, i, "U+FFFE / U+FFFF are not allowed in XML");
    if (c == '=') ++nodes;
    if (c == '&') {
      std::string why;
      size_t n = reference(s, i, &why);
      if (!n) return bad(s, i, why);
      i += n - 1;
      continue;
    }
    if (c != '<') continue;
    ++nodes;
    // A comment or CDATA section: up to its end marker, no control characters inside.
    auto skip = [&](size_t open_len, const char* close, const char* what) -> Status {
      size_t e = s.find(close, i + open_len);
      if (e == std::string_view::npos) return bad(s, i, std::string("unterminated ") + what);
      for (size_t k = i; k < e; ++k) {
        unsigned char d = static_cast<unsigned char>(s[k]);
        if (d < 0x20 && d != '\t' && d != '\n' && d != '\r') return bad(s, k, std::string("control character in a ") + what);
      }
      i = e + 2;
      return Status();
    };
    if (starts(s, i, "<!--")) {
      if (Status st = skip(4, "-->", "comment"); !st) return st;
    } else if (starts(s, i, "<![CDATA[")) {
      if (Status st = skip(9, "]]>", "CDATA section"); !st) return st;
    } else if (starts(s, i, "<!")) {
      return bad(s, i, "DOCTYPE and other declarations are not allowed (no DTDs, no entity definitions)");
    } else if (starts(s, i, "<?")) {
      size_t e = s.find("?>", i + 2);
      if (e == std::string_view::npos) return bad(s, i, "unterminated processing instruction");
      std::string_view pi = s.substr(i, e - i);
      if (starts(s, i, "<?xml") && (pi.size() == 5 || pi[5] == ' ' || pi[5] == '\t' || pi[5] == '\r' || pi[5] == '\n')) {
        size_t enc = pi.find("encoding");
        if (enc != std::string_view::npos) {
          size_t q = pi.find_first_of("\"'", enc);
          size_t q2 = q == std::string_view::npos ? q : pi.find(pi[q], q + 1);
          std::string name(q2 == std::string_view::npos ? std::string_view() : pi.substr(q + 1, q2 - q - 1));
          for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
          if (name != "utf-8" && name != "utf8")
            return bad(s, i + enc, "encoding '" + name.substr(0, 40) + "' is not supported; send UTF-8");
        }
      }
      i = e + 1;
    }
    if (nodes > max_nodes) break;
  }
  if (nodes > max_nodes)
    return Status(Err::invalid, "XML: the document has more than " + std::to_string(max_nodes) +
                                    " elements and attributes (limits.max_json_values)");
  return Status();
}

// ---------------------------------------------------------------- XML -> JSON

std::string_view local_name(const char* qname, std::string_view* prefix) {
  std::string_view q(qname);
  size_t colon = q.find(':');
  if (colon == std::string_view::npos) {
    *prefix = {};
    return q;
  }
  *prefix = q.substr(0, colon);
  return q.substr(colon + 1);
}

bool is_ws(const char* t) {
  for (; *t; ++t)
    if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r') return false;
  return true;
}

void escape(std::string& out, std::string_view s, bool attr) {
  // bytes that may need a replacement: 1 = in text and attributes, 2 = in attributes only
  static const auto kSpecial = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[size_t(c)] = 1;
    t['\n'] = t['\t'] = 2;
    t['&'] = t['<'] = t['>'] = 1;
    t['"'] = 2;
    return t;
  }();
  size_t start = 0;
  const uint8_t mask = attr ? 3 : 1;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!(kSpecial[c] & mask)) continue;
    const char* rep = nullptr;
    switch (c) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = attr ? "&quot;" : nullptr; break;
      case '\n': rep = attr ? "&#10;" : nullptr; break;
      case '\r': rep = "&#13;"; break;
      case '\t': rep = attr ? "&#9;" : nullptr; break;
      default:
        if (c < 0x20) rep = "\xEF\xBF\xBD";  // not representable in XML 1.0: U+FFFD
    }
    if (!rep) continue;
    out.append(s.data() + start, i - start);
    out += rep;
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

class Reader {
 public:
  Reader(std::string_view text, const ParseLimits& lim) : text_(text), lim_(lim) {}

  Result<json::Value> run(const pugi::xml_document& doc) {
    pugi::xml_node root;
    for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
      if (n.type() == pugi::node_element) {
        if (root) return bad(text_, size_t(n.offset_debug()), "more than one root element");
        root = n;
      } else if ((n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) && !is_ws(n.value())) {
        return bad(text_, size_t(n.offset_debug()), "text outside the root element");
      } else if (n.type() == pugi::node_doctype) {
        return bad(text_, size_t(n.offset_debug()), "DOCTYPE is not allowed");
      }
    }
    if (!root) return Status(Err::invalid, "XML: the document has no root element");
    json::Object out;
    size_t mark = push_ns(root);
    if (Status st = resource(root, out, 1); !st) return st;
    ns_.resize(mark);
    return json::Value(std::move(out));
  }

 private:
  std::string_view text_;
  ParseLimits lim_;
  std::vector<std::pair<std::string, std::string>> ns_;  // prefix -> uri, innermost last
  std::vector<std::string> path_;

  std::string path() const {
    std::string p;
    for (const auto& s : path_) p += (p.empty() ? "" : ".") + s;
    return p;
  }
  Status err(const pugi::xml_node& n, const std::string& what) {
    size_t off = size_t(n.offset_debug());  // an element's name; its '<' is just before
    if (n.type() == pugi::node_element && off > 0 && off <= text_.size() && text_[off - 1] == '<') --off;
    return bad(text_, off, what);
  }

  size_t push_ns(const pugi::xml_node& el) {
    size_t mark = ns_.size();
    for (pugi::xml_attribute a = el.first_attribute(); a; a = a.next_attribute()) {
      const char* nm = a.name();
      if (std::strcmp(nm, "xmlns") == 0) ns_.emplace_back("", a.value());
      else if (std::strncmp(nm, "xmlns:", 6) == 0) ns_.emplace_back(nm + 6, a.value());
    }
    return mark;
  }
  const std::string* resolve(std::string_view prefix) const {
    for (auto it = ns_.rbegin(); it != ns_.rend(); ++it)
      if (it->first == prefix) return &it->second;
    return nullptr;
  }
  // The element's local name when it is in the FHIR namespace, else an error.
  Status fhir_name(const pugi::xml_node& el, std::string* name) {
    std::string_view prefix;
    std::string_view local = local_name(el.name(), &prefix);
    const std::string* uri = resolve(prefix);
    if (!uri || *uri != kFhirNs)
      return err(el, "element '" + std::string(el.name()).substr(0, 80) + "'" +
                         (path_.empty() ? "" : " in " + path()) + " is not in the FHIR namespace " + kFhirNs);
    name->assign(local);
    return Status();
  }
  static bool ns_attr(const char* nm) {
    return std::strcmp(nm, "xmlns") == 0 || std::strncmp(nm, "xmlns:", 6) == 0;
  }
  // Attributes in another namespace (xsi:schemaLocation) are ignored, as XML readers do.
  static bool foreign_attr(const char* nm) { return std::strchr(nm, ':') != nullptr; }

  Status resource(const pugi::xml_node& el, json::Object& out, size_t depth) {
    std::string name;
    if (Status st = fhir_name(el, &name); !st) return st;
    const TypeDef* t = model::model().type(name);
    if (!t || t->kind != Kind::resource || t->abstract)
      return err(el, "'" + name.substr(0, 80) + "' is not a FHIR R4 resource type" +
                         (path_.empty() ? "" : " (in " + path() + ")"));
    for (pugi::xml_attribute a = el.first_attribute(); a; a = a.next_attribute())
      if (!ns_attr(a.name()) && !foreign_attr(a.name()))
        return err(el, "unknown attribute '" + std::string(a.name()).substr(0, 80) + "' on " + name);
    out["resourceType"] = json::Value(name);
    path_.push_back(name);
    Status st = children(el, t, out, depth);
    path_.pop_back();
    return st;
  }

  struct Acc {
    std::string name;
    const model::ElementDef* ed;
    bool prim;
    std::vector<json::Value> vals, exts;
    bool any_val = false, any_ext = false;
  };

  Status children(const pugi::xml_node& parent, const TypeDef* t, json::Object& out, size_t depth) {
    if (depth > lim_.max_depth)
      return err(parent, "nesting deeper than " + std::to_string(lim_.max_depth) + " elements (limits.max_json_depth)");
    std::vector<Acc> acc;
    std::vector<int> choice_used(t->elements.size(), -1);  // element index -> acc index
    for (pugi::xml_node n = parent.first_child(); n; n = n.next_sibling()) {
      if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) {
        if (!is_ws(n.value())) return err(n, "text content is not allowed in " + path() + " (FHIR values are attributes)");
        continue;
      }
      if (n.type() != pugi::node_element) continue;
      size_t mark = push_ns(n);
      std::string name;
      std::string_view prefix;
      std::string_view local = local_name(n.name(), &prefix);
      const std::string* uri = resolve(prefix);
      bool div = uri && *uri == kXhtmlNs;
      if (div) {
        if (!prefix.empty() || local != "div")
          return err(n, "XHTML element '" + std::string(n.name()).substr(0, 80) + "' in " + path() +
                            " (only the narrative <div xmlns=\"" + kXhtmlNs + "\"> is XHTML)");
        name = "div";
      } else if (Status st = fhir_name(n, &name); !st) {
        return st;
      }
      const TypeDef::Member* mb = t->member(name);
      bool attr_only = (name == "id" && t->kind != Kind::resource) || (name == "url" && t->name == "Extension") ||
                       (name == "value" && t->kind == Kind::primitive);
      if (!mb || attr_only || name.find('[') != std::string::npos)
        return err(n, attr_only ? "'" + name + "' is an attribute in " + path() + ", not an element"
                                : "unknown element '" + name.substr(0, 80) + "' in " + path());
      const model::ElementDef& ed = t->elements[mb->element];
      const TypeDef* ct = ed.types[mb->type].type;
      if (!ct) return err(n, "element '" + name + "' in " + path() + " has no known type");
      bool is_xhtml = ct->kind == Kind::primitive && ct->prim == Prim::xhtml;
      if (is_xhtml != div)
        return err(n, is_xhtml ? path() + "." + name + " must be in the XHTML namespace " + kXhtmlNs
                               : "element '" + name + "' in " + path() + " is not in the FHIR namespace");
      int& used = choice_used[mb->element];
      if (used >= 0 && acc[size_t(used)].name != name)
        return err(n, "both '" + acc[size_t(used)].name + "' and '" + name + "' in " + path() + " (" + ed.name +
                          "[x] has one type)");
      if (used < 0) {
        used = int(acc.size());
        acc.push_back(Acc{name, &ed, ct->kind == Kind::primitive && ct->prim != Prim::xhtml, {}, {}});
      }
      Acc& a = acc[size_t(used)];
      if (!ed.repeats() && (!a.vals.empty()))
        return err(n, "'" + name + "' appears more than once in " + path() + " (it does not repeat)");
      path_.push_back(name);
      json::Value val, ext;
      Status st;
      if (is_xhtml) {
        std::string text;
        st = xhtml(n, text, depth + 1, true);
        val = json::Value(std::move(text));
      } else {
        st = element(n, ct, &val, &ext, depth + 1);
      }
      path_.pop_back();
      if (!st) return st;
      ns_.resize(mark);
      a.any_val |= !val.is<picojson::null>();
      a.any_ext |= !ext.is<picojson::null>();
      a.vals.push_back(std::move(val));
      a.exts.push_back(std::move(ext));
    }
    for (Acc& a : acc) {
      if (a.ed->repeats()) {
        if (a.any_val) out[a.name] = json::Value(json::Array(std::move(a.vals)));
        if (a.any_ext) out["_" + a.name] = json::Value(json::Array(std::move(a.exts)));
      } else {
        if (a.any_val) out[a.name] = std::move(a.vals[0]);
        if (a.any_ext) out["_" + a.name] = std::move(a.exts[0]);
      }
    }
    return Status();
  }

  // One element of type ct: *val is its JSON value (null for a primitive with no value),
  // *ext the `_x` object of a primitive (null when it has no id and no extension).
  Status element(const pugi::xml_node& n, const TypeDef* ct, json::Value* val, json::Value* ext, size_t depth) {
    if (depth > lim_.max_depth)
      return err(n, "nesting deeper than " + std::to_string(lim_.max_depth) + " elements (limits.max_json_depth)");
    if (ct->kind == Kind::resource) {  // a wrapper: exactly one resource element inside
      for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute())
        if (!ns_attr(a.name()) && !foreign_attr(a.name()))
          return err(n, "unknown attribute '" + std::string(a.name()).substr(0, 80) + "' on " + path());
      pugi::xml_node inner;
      for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
        if (c.type() == pugi::node_element) {
          if (inner) return err(c, path() + " holds one resource, not several");
          inner = c;
        } else if ((c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) && !is_ws(c.value())) {
          return err(c, "text content is not allowed in " + path());
        }
      }
      if (!inner) return err(n, path() + " holds no resource");
      size_t mark = push_ns(inner);
      json::Object o;
      Status st = resource(inner, o, depth + 1);
      ns_.resize(mark);
      if (!st) return st;
      if (ct->abstract == false && o["resourceType"].get<std::string>() != ct->name)
        return err(inner, path() + " must hold a " + ct->name);
      *val = json::Value(std::move(o));
      return Status();
    }
    json::Object o;
    const char* value_attr = nullptr;
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      const char* nm = a.name();
      if (ns_attr(nm) || foreign_attr(nm)) continue;
      for (pugi::xml_attribute b = n.first_attribute(); b != a; b = b.next_attribute())
        if (std::strcmp(b.name(), nm) == 0)
          return err(n, "attribute '" + std::string(nm).substr(0, 80) + "' given twice on " + path());
      if (std::strcmp(nm, "id") == 0) {
        o["id"] = json::Value(std::string(a.value()));
      } else if (std::strcmp(nm, "url") == 0 && ct->name == "Extension") {
        o["url"] = json::Value(std::string(a.value()));
      } else if (std::strcmp(nm, "value") == 0 && ct->kind == Kind::primitive) {
        value_attr = a.value();
      } else {
        return err(n, "unknown attribute '" + std::string(nm).substr(0, 80) + "' on " + path());
      }
    }
    if (Status st = children(n, ct, o, depth); !st) return st;
    if (ct->kind != Kind::primitive) {
      *val = json::Value(std::move(o));
      return Status();
    }
    if (!o.empty()) *ext = json::Value(std::move(o));
    if (!value_attr) return Status();
    std::string s(value_attr);
    switch (ct->prim) {
      case Prim::boolean:
        if (s != "true" && s != "false") return err(n, "value '" + s.substr(0, 40) + "' of " + path() + " is not a boolean");
        *val = json::Value(s == "true");
        break;
      case Prim::integer:
      case Prim::positive_int:
      case Prim::unsigned_int:
      case Prim::decimal: {
        bool ok = s.size() <= json::kMaxNumberChars && json::valid_number_text(s) &&
                  (ct->prim == Prim::decimal || model::primitive_text_ok(ct->prim, s));
        if (ok) {
          double d = std::strtod(s.c_str(), nullptr);
          ok = std::isfinite(d);
        }
        if (!ok) return err(n, "value '" + s.substr(0, 40) + "' of " + path() + " is not a valid " + model::prim_name(ct->prim));
        *val = json::make_number(s);
        break;
      }
      default:
        *val = json::Value(std::move(s));
    }
    return Status();
  }

  // The narrative div: its XHTML text (the root carries the XHTML namespace declaration).
  Status xhtml(const pugi::xml_node& n, std::string& out, size_t depth, bool root) {
    if (depth > lim_.max_depth)
      return err(n, "nesting deeper than " + std::to_string(lim_.max_depth) + " elements (limits.max_json_depth)");
    out.push_back('<');
    out += n.name();
    if (root) out += " xmlns=\"http://www.w3.org/1999/xhtml\"";
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      if (root && std::strcmp(a.name(), "xmlns") == 0) continue;
      out.push_back(' ');
      out += a.name();
      out += "=\"";
      escape(out, a.value(), true);
      out.push_back('"');
    }
    if (!n.first_child()) {
      out += "/>";
      return Status();
    }
    out.push_back('>');
    for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element) {
        if (Status st = xhtml(c, out, depth + 1, false); !st) return st;
      } else if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
        escape(out, c.value(), false);
      }
    }
    out += "</";
    out += n.name();
    out.push_back('>');
    return Status();
  }
};

}  // namespace

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
    if (out.size() == open) {
      out.back() = '/';
      out.push_back('>');
      return;
    }
    indent(level);
    out += "</";
    out += name;
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
      if (out.size() == open) {
        out.back() = '/';
        out.push_back('>');
        return;
      }
      indent(level);
      out += "</";
      out.append(name.data(), name.size());
      out.push_back('>');
      return;
    }
    attribute("value", v);
    out += "/>";
  }
};

constexpr unsigned kParseFlags = pugi::parse_cdata | pugi::parse_escapes | pugi::parse_wconv_attribute |
                                 pugi::parse_eol | pugi::parse_ws_pcdata | pugi::parse_declaration |
                                 pugi::parse_doctype;

}  // namespace

// A well-formedness check without building a tree (it runs for every narrative div written):
// prescan() for declarations, references and characters, then tags balanced, attributes
// quoted, exactly one root element.
bool well_formed_fragment(std::string_view text) {
  if (!prescan(text, SIZE_MAX).ok()) return false;
  std::vector<std::string_view> open;
  int roots = 0;
  const char* p = text.data();
  const char* e = p + text.size();
  auto name_char = [](char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '/' && c != '>' && c != '<' && c != '=' &&
           c != '"' && c != '\'' && c != '&';
  };
  auto spaces = [&](const char* q) {
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) ++q;
    return q;
  };
  while (p < e) {
    if (*p != '<') {
      if (open.empty() && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') return false;  // text outside the root
      ++p;
      continue;
    }
    std::string_view rest(p, size_t(e - p));
    if (rest.rfind("<!--", 0) == 0 || rest.rfind("<![CDATA[", 0) == 0 || rest.rfind("<?", 0) == 0) {
      const char* term = rest[1] == '!' ? (rest[2] == '-' ? "-->" : "]]>") : "?>";
      if (rest.rfind("<![CDATA[", 0) == 0 && open.empty()) return false;
      size_t end = rest.find(term);
      if (end == std::string_view::npos) return false;
      p += end + std::strlen(term);
      continue;
    }
    if (rest.size() > 1 && rest[1] == '/') {
      const char* n = p + 2;
      const char* q = n;
      while (q < e && name_char(*q)) ++q;
      std::string_view name(n, size_t(q - n));
      q = spaces(q);
      if (q >= e || *q != '>' || open.empty() || open.back() != name) return false;
      open.pop_back();
      p = q + 1;
      continue;
    }
    const char* n = p + 1;
    const char* q = n;
    while (q < e && name_char(*q)) ++q;
    if (q == n) return false;
    std::string_view name(n, size_t(q - n));
    if (open.empty() && ++roots > 1) return false;
    while (true) {
      const char* a = spaces(q);
      if (a >= e) return false;
      if (*a == '>') {
        open.push_back(name);
        p = a + 1;
        break;
      }
      if (*a == '/') {
        if (a + 1 >= e || a[1] != '>') return false;
        p = a + 2;
        break;
      }
      if (a == q) return false;  // attributes are separated by white space
      const char* an = a;
      while (a < e && name_char(*a)) ++a;
      if (a == an) return false;
      a = spaces(a);
      if (a >= e || *a != '=') return false;
      a = spaces(a + 1);
      if (a >= e || (*a != '"' && *a != '\'')) return false;
      const char* close = static_cast<const char*>(std::memchr(a + 1, *a, size_t(e - a - 1)));
      if (!close || std::memchr(a + 1, '<', size_t(close - a - 1))) return false;
      q = close + 1;
    }
  }
  return open.empty() && roots == 1;
}

Result<json::Value> parse(std::string_view text, const ParseLimits& limits) {
  if (!model::model_status().ok()) return Status(Err::internal, "the type model is not loaded: " + model::model_status().message);
  if (Status st = prescan(text, limits.max_values > SIZE_MAX / 2 ? SIZE_MAX : 2 * limits.max_values); !st) return st;
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(text.data(), text.size(), kParseFlags, pugi::encoding_utf8);
  if (!r) return bad(text, size_t(r.offset), std::string("malformed XML: ") + r.description());
  Reader reader(text, limits);
  return reader.run(doc);
}

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
