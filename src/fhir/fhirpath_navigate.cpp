// fhir/fhirpath_navigate.cpp — the navigation and collection helpers of the general FHIRPath
// engine (fhirpath_eval.cpp): typed nodes made from JSON values with the R4 type model
// (choice elements under their typed names, primitives with their "_name" companions,
// resources typed by resourceType), member and children navigation, type tests, truth
// values, equality and distinct(), argument helpers, and the budget charges (Ctx::charge).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include "fhir/fhirpath.h"
#include "fhir/fhirpath_internal.h"

namespace ef::fhir::fp::eval_detail {

const model::TypeDef* type_by_name(std::string_view n) {
  static const model::TypeModel& m = model::model();
  return m.type(std::string(n));
}


void push(Coll& out, Item it) {
  if (out.size() >= kMaxItems) throw FpError(Err::too_large, "FHIRPath collection larger than " + std::to_string(kMaxItems) + " items");
  out.push_back(std::move(it));
}

std::string upper_first(const std::string& s) {
  std::string r = s;
  if (!r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
  return r;
}

Item make_node(const json::Value* v, const json::Value* ext, const model::TypeDef* t, std::string_view tname) {
  Item it;
  it.v = v;
  it.ext = ext && ext->is<json::Object>() ? ext : nullptr;
  it.type = t;
  it.tname = tname;
  // a concrete type is trusted; an abstract one (Resource) or none is looked up by resourceType
  if (v && (!t || t->abstract) && v->is<json::Object>()) {
    if (const std::string* rt = json::get_string(*v, "resourceType")) {
      it.type = type_by_name(*rt);
      it.tname = it.type ? std::string_view(it.type->name) : std::string_view(*rt);
    }
  }
  if (!it.type && !it.tname.empty()) it.type = type_by_name(it.tname);
  if (it.tname.empty() && v && !v->is<json::Object>()) {
    it.tname = v->is<bool>() ? "boolean" : json::is_number(*v) ? "decimal" : "string";
    it.type = type_by_name(it.tname);
  }
  return it;
}

// Members stored under JSON name `jname` of object `obj`, typed `t`.
void add_json_member(const json::Value& obj, const std::string& jname, const model::TypeDef* t, std::string_view tname, Coll& out, Ctx& c) {
  const json::Value* val = json::get(obj, jname);
  const json::Value* ext = json::get(obj, "_" + jname);
  if (!val && !ext) return;
  if ((val && val->is<json::Array>()) || (!val && ext && ext->is<json::Array>())) {
    const json::Array* va = val ? json::as_array(*val) : nullptr;
    const json::Array* ea = ext ? json::as_array(*ext) : nullptr;
    size_t n = std::max(va ? va->size() : 0, ea ? ea->size() : 0);
    for (size_t k = 0; k < n; k++) {
      c.charge();
      const json::Value* v = va && k < va->size() && !(*va)[k].is<picojson::null>() ? &(*va)[k] : nullptr;
      const json::Value* e = ea && k < ea->size() && !(*ea)[k].is<picojson::null>() ? &(*ea)[k] : nullptr;
      if (!v && !e) continue;
      push(out, make_node(v, e, t, tname));
    }
    return;
  }
  c.charge();
  push(out, make_node(val, ext, t, tname));
}

bool is_resource_node(const Item& it) {
  return it.t == T::node && it.v && it.v->is<json::Object>() && json::get_string(*it.v, "resourceType");
}

void member(const Item& it, const std::string& name, Coll& out, Ctx& c, bool strict) {
  if (it.t != T::node) return;
  strict = strict && !it.loose;
  if (!it.v && it.tname == "TypeInfo") {  // the result of type(): namespace and name
    size_t bar = it.s.find('|');
    if (name == "namespace") push(out, Item::string(it.s.substr(0, bar)));
    else if (name == "name") push(out, Item::string(it.s.substr(bar + 1)));
    return;
  }
  if (!it.v || !it.v->is<json::Object>()) {  // a primitive: id and extension live in "_name"
    if (it.ext && (name == "extension" || name == "id")) add_json_member(*it.ext, name, type_by_name(name == "id" ? "string" : "Extension"), name == "id" ? "string" : "Extension", out, c);
    return;
  }
  if (!name.empty() && std::isupper(static_cast<unsigned char>(name[0])) && is_resource_node(it)) {
    if (type_is(it.tname, name)) push(out, it);
    else if (strict && !type_by_name(name)) fail("unknown type or element '" + name + "'");
    else if (strict && type_by_name(name) && type_by_name(name)->kind == model::Kind::resource)
      fail("'" + name + "' is not the type of this resource (" + std::string(it.tname) + ")");
    return;
  }
  const model::TypeDef* td = it.type;
  if (td) {
    const model::ElementDef* e = td->element(name);
    if (e) {
      if (e->choice) {
        for (const model::TypeRef& tr : e->types) add_json_member(*it.v, name + upper_first(tr.name), tr.type, tr.name, out, c);
      } else if (!e->types.empty()) {
        add_json_member(*it.v, name, e->types[0].type, e->types[0].name, out, c);
      }
      return;
    }
    if (name == "resourceType" || name == "id" || name == "extension" || name == "url") {
      // fall through to the JSON lookup (ids/urls of elements)
    } else {
      if (strict && td->kind != model::Kind::primitive) fail("'" + name + "' is not an element of " + td->name);
      return;
    }
  }
  add_json_member(*it.v, name, nullptr, "", out, c);
}

void children_of(const Item& it, Coll& out, Ctx& c) {
  if (it.t != T::node) return;
  size_t first = out.size();
  if (!it.v || !it.v->is<json::Object>()) {
    if (it.ext) {
      member(it, "id", out, c, false);
      member(it, "extension", out, c, false);
    }
    for (size_t k = first; k < out.size(); k++) out[k].loose = true;
    return;
  }
  const json::Object& o = *json::as_object(*it.v);
  for (const auto& kv : o) {
    std::string jn = kv.first;
    if (jn == "resourceType") continue;
    if (jn[0] == '_') {
      if (o.count(jn.substr(1))) continue;
      jn = jn.substr(1);
    }
    const model::TypeDef::Member* m = it.type ? it.type->member(jn) : nullptr;
    if (m) {
      const model::TypeRef& tr = it.type->elements[m->element].types[m->type];
      add_json_member(*it.v, jn, tr.type, tr.name, out, c);
    } else {
      add_json_member(*it.v, jn, nullptr, "", out, c);
    }
  }
  for (size_t k = first; k < out.size(); k++) out[k].loose = true;
}

bool is_system_type(const std::string& n) {
  return n == "Boolean" || n == "String" || n == "Integer" || n == "Decimal" || n == "Date" || n == "DateTime" ||
         n == "Time" || n == "Quantity";
}

bool is_quantity_kind(std::string_view n) {
  return n == "Age" || n == "Count" || n == "Distance" || n == "Duration" || n == "SimpleQuantity" || n == "MoneyQuantity";
}

// `is`/`as`/ofType: System values match their System type (and the FHIR primitive of the same
// name when unqualified); nodes match their exact FHIR type, the Quantity profiles match
// Quantity, resources match Resource / DomainResource.  FHIR primitives do not match their
// base primitive (a code is not a string here, as the HL7 suite says).  An unknown type name
// is an error.
bool type_matches(const Item& it, const std::string& ns, const std::string& name) {
  bool known = is_system_type(name) || type_by_name(name) || name == "Resource" || name == "DomainResource" ||
               name == "Element" || name == "BackboneElement";
  if (!known && ns != "System") fail("unknown type " + (ns.empty() ? "" : ns + ".") + name);
  if (it.t != T::node) {
    if (ns == "FHIR") return false;
    std::string tn = type_name(it);
    std::string sys = upper_first(tn);
    return name == sys || (ns.empty() && name == tn);
  }
  if (ns == "System") return false;
  if (it.tname.empty()) return false;
  if (it.tname == name) return true;
  if (name == "Quantity" && is_quantity_kind(it.tname)) return true;
  if (name == "Resource") return is_resource_node(it);
  if (name == "DomainResource") return is_resource_node(it) && it.tname != "Bundle" && it.tname != "Binary" && it.tname != "Parameters";
  if (name == "Element") return !is_resource_node(it);
  if (name == "BackboneElement") return it.type && it.type->kind == model::Kind::backbone;
  return false;
}

// Singleton evaluation of a collection as a boolean: -1 empty, 0 false, 1 true.
int truth(const Coll& c, const char* what) {
  if (c.empty()) return -1;
  if (c.size() > 1) fail(std::string(what) + " needs a single value, got " + std::to_string(c.size()));
  auto s = to_system(c[0]);
  if (s && s->t == T::boolean) return s->b ? 1 : 0;
  return 1;  // a single non-boolean item counts as true
}

Coll bool_coll(int v) {
  Coll r;
  if (v >= 0) r.push_back(Item::boolean(v == 1));
  return r;
}

const Item* single_item(const Coll& c, const char* what) {
  if (c.empty()) return nullptr;
  if (c.size() > 1) fail(std::string(what) + " needs a single value, got " + std::to_string(c.size()));
  return &c[0];
}

bool same(const Item& a, const Item& b) {
  if (a.t == T::node && b.t == T::node && a.v == b.v && a.ext == b.ext) return true;
  auto e = equal(a, b);
  return e && *e;
}

bool contains_item(const Coll& c, const Item& x, Ctx& ctx) {
  ctx.charge(c.size());
  for (const Item& y : c) if (same(y, x)) return true;
  return false;
}

// A key under which equal items (and only those) meet, for strings, codes, booleans and
// integers; false for anything else (decimals, dates, quantities, complex nodes: compared
// pairwise).
bool hash_key(const Item& x, std::string* key) {
  auto s = to_system(x);
  if (!s) return false;
  switch (s->t) {
    case T::string: *key = "s" + s->s; return true;
    case T::boolean: *key = s->b ? "b1" : "b0"; return true;
    case T::integer: *key = "i" + std::to_string(s->i); return true;
    default: return false;
  }
}

Coll distinct(const Coll& in, Ctx& c) {
  Coll out;
  // linear when every item has a key (isDistinct() over thousands of linkIds or codes: que-2,
  // csd-1), pairwise otherwise
  std::unordered_set<std::string> seen;
  std::string key;
  bool keyed = true;
  for (const Item& x : in) {
    c.charge();
    if (!hash_key(x, &key)) { keyed = false; break; }
    if (seen.insert(key).second) push(out, x);
  }
  if (keyed) return out;
  out.clear();
  for (const Item& x : in) if (!contains_item(out, x, c)) push(out, x);
  return out;
}

std::string str_arg(const Coll& a, const char* fn) {
  const Item* it = single_item(a, fn);
  if (!it) fail(std::string(fn) + "() needs an argument");
  auto s = to_system(*it);
  if (!s || s->t != T::string) fail(std::string(fn) + "() needs a string argument");
  return s->s;
}

std::optional<std::string> input_string(const Coll& in, const char* fn) {
  const Item* it = single_item(in, fn);
  if (!it) return std::nullopt;
  auto s = to_system(*it);
  if (!s || s->t != T::string) fail(std::string(fn) + "() needs a string input, not " + type_name(*it));
  return s->s;
}

std::string now_text(const Env& env) {
  if (!env.now.empty()) return env.now;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

}  // namespace ef::fhir::fp::eval_detail
