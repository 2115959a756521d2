// fhir/xml_read.cpp — XML -> JSON, xml::parse() of xml.h: prescan() (the security pass,
// xml_internal.h), pugixml, then Reader walks the tree with the type model and a namespace
// scope, building the FHIR JSON tree (repeats as arrays, primitives as `x` and `_x`, choice
// types, wrapped resources, the narrative div as its XHTML text).
#include "fhir/xml.h"

#include <pugixml.hpp>

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
using detail::bad;
using detail::escape;
using detail::prescan;

namespace {

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

constexpr unsigned kParseFlags = pugi::parse_cdata | pugi::parse_escapes | pugi::parse_wconv_attribute |
                                 pugi::parse_eol | pugi::parse_ws_pcdata | pugi::parse_declaration |
                                 pugi::parse_doctype;

}  // namespace

Result<json::Value> parse(std::string_view text, const ParseLimits& limits) {
  if (!model::model_status().ok()) return Status(Err::internal, "the type model is not loaded: " + model::model_status().message);
  if (Status st = prescan(text, limits.max_values > SIZE_MAX / 2 ? SIZE_MAX : 2 * limits.max_values); !st) return st;
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(text.data(), text.size(), kParseFlags, pugi::encoding_utf8);
  if (!r) return bad(text, size_t(r.offset), std::string("malformed XML: ") + r.description());
  Reader reader(text, limits);
  return reader.run(doc);
}

}  // namespace ef::fhir::xml
