// fhir/validate.cpp — see validate.h.  One recursive walk over the JSON, driven by the type
// model: each object is checked against its TypeDef member by member, then for its required
// elements; the current FHIRPath expression is one string grown and shrunk as the walk goes
// (no allocation per element unless an issue is reported).
#include "fhir/validate.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

#include "fhir/core_extensions.h"
#include "fhir/invariants.h"
#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "fhir/terminology.h"
#include "fhir/type_model.h"
#include "util/log.h"

namespace ef::fhir {

namespace {
StoredBindingLookup g_stored_lookup;
}  // namespace

void set_stored_binding_lookup(StoredBindingLookup f) { g_stored_lookup = std::move(f); }

using model::ElementDef;
using model::Kind;
using model::TypeDef;
using model::TypeRef;

namespace {

// Restores the path's length when a scope ends.
struct PathMark {
  std::string& p;
  size_t n;
  explicit PathMark(std::string& path) : p(path), n(path.size()) {}
  ~PathMark() { p.resize(n); }
};

struct Walker {
  const model::TypeModel& m;
  size_t max_issues;
  std::vector<Issue> issues;
  std::string path;
  // Ids of the contained resources of each enclosing (non-contained) resource, innermost last.
  std::vector<std::unordered_set<std::string>> containers;

  // The resource being walked (%resource) and the outermost non-contained one (%rootResource).
  const json::Value* cur_res = nullptr;
  const json::Value* root_res = nullptr;
  // FHIRPath steps left for the invariants of the current resource and of the whole walk.
  uint64_t inv_steps = 0;
  uint64_t inv_total = invariants::kWalkSteps;
  bool inv_spent_said = false;

  size_t soft = 0;  // warnings and information recorded
  void add(const std::string& expr, std::string msg, const char* code = "structure", const char* sev = "error") {
    if (issues.size() >= max_issues) return;
    bool is_error = std::string_view(sev) == "error" || std::string_view(sev) == "fatal";
    // Warnings take at most half of the budget, so they can never crowd out an error that
    // would refuse the write under validation.on_write strict.
    if (!is_error && ++soft > max_issues / 2) return;
    Issue i;
    i.severity = sev;
    i.code = code;
    i.diagnostics = std::move(msg);
    i.expression = expr;
    issues.push_back(std::move(i));
    if (issues.size() == max_issues) {
      Issue more;
      more.severity = "warning";
      more.code = "too-costly";
      more.diagnostics = "validation stopped after " + std::to_string(max_issues) + " issues";
      issues.push_back(std::move(more));
    }
  }
  void here(std::string msg, const char* code = "structure", const char* sev = "error") {
    add(path, std::move(msg), code, sev);
  }

  // ---- resources ----

  // `v` at `path` must be a resource (contained, Bundle.entry.resource, Parameters.parameter.resource).
  void resource(const json::Value& v, bool contained) {
    const json::Object* o = json::as_object(v);
    if (!o) return here("a resource must be a JSON object");
    const std::string* rt = json::get_string(v, "resourceType");
    if (!rt) return here("a resource needs a resourceType", "required");
    const TypeDef* t = m.type(*rt);
    if (!t || t->kind != Kind::resource || t->abstract)
      return here("'" + *rt + "' is not a FHIR R4 resource type", "value");
    const json::Value* save_res = cur_res;
    const json::Value* save_root = root_res;
    cur_res = &v;
    if (!contained) root_res = &v;
    uint64_t save_steps = inv_steps, start = 0;
    if (!contained) inv_steps = start = std::min(invariants::kResourceSteps, inv_total);
    resource_body(*o, *t, contained);
    if (!contained) {
      inv_total -= std::min(inv_total, start - inv_steps);
      inv_steps = save_steps;
    }
    cur_res = save_res;
    root_res = save_root;
  }

  // The FHIRPath invariants of type t (and of element e, for one of its values) on `v`; those
  // checked natively above are skipped (fhir/invariants.h).
  void invariants(const json::Value& v, const TypeDef& t, const ElementDef* e) {
    auto run = [&](const std::vector<const model::Invariant*>& list, bool element) {
      for (const model::Invariant* inv : list) {
        if (invariants::native(*inv)) continue;
        // a backbone element's invariants are on its element and on its type: once
        if (element && std::find(t.invariants.begin(), t.invariants.end(), inv) != t.invariants.end()) continue;
        if (inv_steps == 0) {
          if (!inv_spent_said) {
            inv_spent_said = true;
            here("FHIRPath invariants were not all evaluated from here on: their budget (" +
                     std::to_string(invariants::kResourceSteps) + " steps per resource, " +
                     std::to_string(invariants::kWalkSteps) + " per validation) is used up",
                 "too-costly", "warning");
          }
          return;
        }
        if (invariants::check(*inv, v, &t, cur_res, root_res, &inv_steps) != invariants::Outcome::fail) continue;
        const char* sev = inv->severity == "error" ? "error" : "warning";
        here(inv->human + " (" + inv->key + ": " + inv->expression + ")", "invariant", sev);
      }
    };
    run(t.invariants, false);
    if (e) run(e->invariants, true);
  }

  void resource_body(const json::Object& o, const TypeDef& t, bool contained) {
    bool own = !contained;
    if (own) {
      containers.emplace_back();
      if (auto it = o.find("contained"); it != o.end())
        if (const json::Array* a = json::as_array(it->second))
          for (const auto& c : *a)
            if (const std::string* id = json::get_string(c, "id")) containers.back().insert(*id);
    }
    object(o, t);
    if (cur_res) invariants(*cur_res, t, nullptr);
    if (own) {
      if (auto it = o.find("contained"); it != o.end()) contained_rules(o, it->second);
      containers.pop_back();
    }
    if (t.name == "Bundle") bundle_rules(o);
  }

  static void collect_local_refs(const json::Value& v, std::set<std::string>* out, bool* self_ref) {
    if (const std::string* s = json::as_string(v)) {
      if (!s->empty() && (*s)[0] == '#') {
        if (s->size() == 1) *self_ref = true;
        else out->insert(s->substr(1));
      }
    } else if (const json::Array* a = json::as_array(v)) {
      for (const auto& x : *a) collect_local_refs(x, out, self_ref);
    } else if (const json::Object* o = json::as_object(v)) {
      for (const auto& kv : *o) collect_local_refs(kv.second, out, self_ref);
    }
  }

  void contained_rules(const json::Object& o, const json::Value& cv) {
    const json::Array* a = json::as_array(cv);
    if (!a) return;
    std::set<std::string> refs;
    bool unused = false;
    for (const auto& kv : o)
      if (kv.first != "contained") collect_local_refs(kv.second, &refs, &unused);
    std::vector<std::set<std::string>> from(a->size());
    std::vector<bool> back(a->size(), false);
    for (size_t i = 0; i < a->size(); ++i) {
      bool self = false;
      collect_local_refs((*a)[i], &from[i], &self);
      back[i] = self;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      const json::Value& c = (*a)[i];
      if (!json::is_object(c)) continue;
      std::string cp = path + ".contained[" + std::to_string(i) + "]";
      if (json::get(c, "contained")) add(cp + ".contained", "a contained resource cannot contain resources (dom-2)", "invariant");
      if (const json::Value* meta = json::get(c, "meta")) {
        if (json::get(*meta, "versionId") || json::get(*meta, "lastUpdated"))
          add(cp + ".meta", "a contained resource cannot have meta.versionId or meta.lastUpdated (dom-4)", "invariant");
        if (json::get(*meta, "security"))
          add(cp + ".meta.security", "a contained resource cannot have security labels (dom-5)", "invariant");
      }
      const std::string* id = json::get_string(c, "id");
      if (!id) {
        add(cp, "a contained resource needs an id to be referenced", "invariant");
        continue;
      }
      bool referenced = refs.count(*id) > 0 || back[i];
      for (size_t j = 0; !referenced && j < a->size(); ++j)
        if (j != i && from[j].count(*id)) referenced = true;
      if (!referenced)
        add(cp, "contained resource '" + *id + "' is not referenced from the rest of the resource (dom-3)", "invariant");
    }
  }

  // ---- objects ----

  void object(const json::Object& o, const TypeDef& t) {
    if (o.empty()) return here("empty objects are not allowed in FHIR JSON (ele-1)");
    size_t n = t.elements.size();
    uint8_t seen_small[128];
    std::vector<uint8_t> seen_big;
    uint8_t* seen = seen_small;
    if (n > sizeof seen_small) {
      seen_big.assign(n, 0);
      seen = seen_big.data();
    } else {
      std::fill(seen_small, seen_small + n, 0);
    }
    bool only_id = true;
    for (const auto& kv : o) {
      const std::string& k = kv.first;
      if (k == "resourceType" && t.kind == Kind::resource) continue;
      if (k != "id") only_id = false;
      bool ext = !k.empty() && k[0] == '_';
      const TypeDef::Member* mb = t.member(ext ? k.substr(1) : k);
      if (!mb) {
        PathMark pm(path);
        path += '.';
        path += k;
        here("unknown element '" + k + "' in " + t.name, "structure");
        continue;
      }
      const ElementDef& e = t.elements[mb->element];
      const TypeRef& tr = e.types[mb->type];
      uint8_t mark = uint8_t(mb->type + 1);
      if (seen[mb->element] && seen[mb->element] != mark && e.choice) {
        PathMark pm(path);
        path += '.';
        path += e.name;
        here("only one type of " + e.name + "[x] may be present", "structure");
      }
      seen[mb->element] = mark;
      PathMark pm(path);
      path += '.';
      path += e.name;
      if (e.choice) {
        path += ".ofType(";
        path += tr.name;
        path += ')';
      }
      if (ext) {
        auto base = o.find(k.substr(1));
        primitive_ext(kv.second, e, tr, base == o.end() ? nullptr : &base->second);
        continue;
      }
      member(o, k, kv.second, e, tr);
    }
    if (only_id && t.kind != Kind::resource && t.kind != Kind::primitive) here("an element must have a value or children besides id (ele-1)");
    for (size_t i = 0; i < n; ++i) {
      const ElementDef& e = t.elements[i];
      if (e.min > 0 && !seen[i]) {
        PathMark pm(path);
        path += '.';
        path += e.name;
        here(t.name + "." + e.name + (e.choice ? "[x]" : "") + " is required (minimum cardinality " +
                 std::to_string(e.min) + ")",
             "required");
      }
    }
  }

  void member(const json::Object& o, const std::string& k, const json::Value& v, const ElementDef& e,
              const TypeRef& tr) {
    if (const json::Array* a = json::as_array(v)) {
      if (!e.repeats()) return here(e.name + " is a single value, not an array (maximum cardinality 1)");
      if (a->empty()) return here("empty arrays are not allowed in FHIR JSON");
      if (e.max != model::kMany && a->size() > e.max)
        here(e.name + " has " + std::to_string(a->size()) + " values, at most " + std::to_string(e.max) +
             " are allowed");
      if (e.min > a->size())
        here(e.name + " needs at least " + std::to_string(e.min) + " values", "required");
      const json::Array* ext = nullptr;
      if (tr.type->kind == Kind::primitive) {
        auto it = o.find("_" + k);
        if (it != o.end()) ext = json::as_array(it->second);
      }
      size_t base = path.size();
      for (size_t i = 0; i < a->size(); ++i) {
        path.resize(base);
        path += '[';
        path += std::to_string(i);
        path += ']';
        const json::Value& item = (*a)[i];
        if (item.is<picojson::null>()) {
          bool has_ext = tr.type->kind == Kind::primitive && ext && i < ext->size() && json::is_object((*ext)[i]);
          if (!has_ext) here("null is only allowed in an array of primitives whose _" + k + " has an extension at the same index");
          continue;
        }
        if (json::is_array(item)) {
          here("arrays of arrays are not allowed in FHIR JSON");
          continue;
        }
        value(item, e, tr);
      }
      path.resize(base);
      return;
    }
    if (e.repeats()) here(e.name + " repeats (maximum cardinality " + (e.max == model::kMany ? std::string("*") : std::to_string(e.max)) + "): it must be a JSON array");
    if (v.is<picojson::null>()) return here("null is not allowed in FHIR JSON");
    value(v, e, tr);
  }

  // `_name`: the id/extension part of a primitive element.
  void primitive_ext(const json::Value& v, const ElementDef& e, const TypeRef& tr, const json::Value* base) {
    if (tr.type->kind != Kind::primitive)
      return here("'_" + e.name + "' is only allowed for primitive elements; " + tr.name + " is not one");
    auto one = [&](const json::Value& x, const json::Value* val) {
      const json::Object* o = json::as_object(x);
      if (!o) return here("a primitive's extension part (_" + e.name + ") must be a JSON object");
      if (o->empty()) return here("empty objects are not allowed in FHIR JSON (ele-1)");
      if (o->count("value")) {
        PathMark pm(path);
        path += ".value";
        here("the value of a primitive goes in '" + e.name + "', not in '_" + e.name + "'");
      }
      json::Object rest = *o;
      rest.erase("value");
      if (!rest.empty()) object(rest, *tr.type);
      if ((!val || val->is<picojson::null>()) && !o->count("extension"))
        here(e.name + " has neither a value nor an extension (ele-1)");
    };
    if (const json::Array* a = json::as_array(v)) {
      if (!e.repeats()) return here("_" + e.name + " is a single value, not an array");
      const json::Array* b = base ? json::as_array(*base) : nullptr;
      // The arrays are aligned by index.  Entries of _x past the end of x may only be null:
      // they describe no element (a trailing null, or all nulls, carries nothing).
      size_t nb = b ? b->size() : 0;
      bool extra_content = false;
      for (size_t i = nb; i < a->size(); ++i)
        if (!(*a)[i].is<picojson::null>()) extra_content = true;
      if (base && (!b || b->size() > a->size() || extra_content))
        return here("_" + e.name + " must have as many entries as " + e.name +
                    " (entries past the end of " + e.name + " may only be null)");
      size_t at = path.size();
      for (size_t i = 0; i < a->size(); ++i) {
        path.resize(at);
        path += '[' + std::to_string(i) + ']';
        if ((*a)[i].is<picojson::null>()) {
          if (!b || (i < nb && (*b)[i].is<picojson::null>()))
            here("null in _" + e.name + " and in " + e.name + " at the same index");
          continue;
        }
        one((*a)[i], b ? &(*b)[i] : nullptr);
      }
      path.resize(at);
      return;
    }
    if (e.repeats()) return here("_" + e.name + " must be an array, as " + e.name + " repeats");
    one(v, base);
  }

  // One value (not an array) of element e with type tr.
  void value(const json::Value& v, const ElementDef& e, const TypeRef& tr) {
    const TypeDef* td = tr.type;
    if (td->kind == Kind::primitive) {
      std::string why;
      if (!model::check_primitive(td->prim, v, &why)) return here(why, "value");
      for (const model::Invariant* inv : e.invariants)  // mostly ele-1 alone, checked natively
        if (!invariants::native(*inv)) {
          invariants(v, *td, &e);
          break;
        }
      if (td->prim != model::Prim::code) return;
      const term::CodeSet* vs = bound(e);
      if (!vs && stored_required(e)) {
        const std::string& s = v.get<std::string>();
        if (auto in = g_stored_lookup(e.value_set, "", s); in && !*in)
          here("'" + s + "' is not in the required value set " + e.value_set + " (stored)", "code-invalid");
      }
      if (vs) {
        const std::string& s = v.get<std::string>();
        if (!vs->has_code(s)) {
          if (e.strength == model::Strength::required)
            here("'" + s + "' is not in the required value set " + e.value_set, "code-invalid");
          else
            here("'" + s + "' is not in the " + strength_name(e) + " value set " + e.value_set, "code-invalid",
                 "warning");
        }
      }
      return;
    }
    if (td->kind == Kind::resource) {  // Resource: contained, Bundle.entry.resource, Parameters...resource
      bool contained = e.name == "contained";
      return resource(v, contained);
    }
    const json::Object* o = json::as_object(v);
    if (!o) {
      const char* what = json::is_string(v) ? "a string" : json::is_number(v) ? "a number" : v.is<bool>() ? "a boolean" : "this";
      return here("a " + td->name + " must be a JSON object, not " + what);
    }
    object(*o, *td);
    invariants(v, *td, &e);
    const std::string& n = td->name;
    if (n == "Reference") reference(*o, tr);
    else if (n == "Extension") {
      bool has_value = false;
      for (const auto& kv : *o)
        if (kv.first.size() > 5 && kv.first.compare(0, 5, "value") == 0) has_value = true;
      if (has_value == (o->count("extension") > 0))
        here("an extension must have either extensions or a value[x], not both (ext-1)", "invariant");
      if (has_value) core_extension_value(*o);
    } else if (n == "Parameters.parameter") {
      int k = (o->count("resource") ? 1 : 0) + (o->count("part") ? 1 : 0);
      for (const auto& kv : *o)
        if (kv.first.size() > 5 && kv.first.compare(0, 5, "value") == 0) ++k;
      if (k > 1) here("a parameter must have one and only one of value, resource or part (inv-1)", "invariant");
    }
    if (n != "Coding" && n != "CodeableConcept") return;
    if (const term::CodeSet* vs = bound(e)) {
      if (e.strength == model::Strength::required) {
        if (n == "Coding") coding_binding(*o, *vs, e);
        else cc_binding(*o, *vs, e);
      } else {
        soft_binding(*o, n, *vs, e);
      }
    } else if (stored_required(e)) {
      stored_binding(*o, n, e);
    }
  }

  // A core extension of fhir/core_extensions.h with a value[x] of another type than its
  // definition allows.
  void core_extension_value(const json::Object& o) {
    auto u = o.find("url");
    if (u == o.end() || !u->second.is<std::string>()) return;
    const std::string* url = &u->second.get<std::string>();
    const char* want = core_extension_value_type(*url);
    if (!want) return;
    for (const auto& kv : o) {
      if (kv.first.size() <= 5 || kv.first.compare(0, 5, "value") != 0) continue;
      std::string got = kv.first.substr(5);
      std::string w = want;
      if (!w.empty()) w[0] = char(std::toupper(static_cast<unsigned char>(w[0])));
      if (got == w) continue;
      PathMark pm(path);
      std::string lower = got;
      if (!lower.empty()) lower[0] = char(std::tolower(static_cast<unsigned char>(lower[0])));
      const TypeDef* pt = m.type(lower);
      path += ".value.ofType(";
      path += pt && pt->kind == Kind::primitive ? lower : got;
      path += ')';
      here("the extension " + *url + " takes a value of type " + want + ", not " + kv.first, "structure");
    }
  }

  // The bundled value set of a required, extensible or preferred binding as the terminology
  // engine enumerates it (built on first use, then two hash lookups per check), or nullptr when
  // the binding is of another strength or the bundled content cannot enumerate it.
  static const term::CodeSet* bound(const ElementDef& e) {
    if (e.value_set.empty() || (e.strength != model::Strength::required && e.strength != model::Strength::extensible &&
                                e.strength != model::Strength::preferred))
      return nullptr;
    const term::CodeSet* vs = term::bundled_code_set(e.value_set);
    return vs->enumerated ? vs : nullptr;
  }

  // A required binding the bundled content cannot check (bound(e) is nullptr): a stored
  // ValueSet may (issue 21).
  static bool stored_required(const ElementDef& e) {
    return g_stored_lookup && e.strength == model::Strength::required && !e.value_set.empty();
  }

  void stored_binding(const json::Object& o, const std::string& type, const ElementDef& e) {
    std::vector<const json::Object*> codings;
    if (type == "Coding") codings.push_back(&o);
    else if (auto it = o.find("coding"); it != o.end())
      if (const json::Array* a = json::as_array(it->second))
        for (const auto& c : *a)
          if (const json::Object* co = json::as_object(c)) codings.push_back(co);
    bool any = false, ok = false;
    for (const json::Object* c : codings) {
      auto code = c->find("code");
      if (code == c->end() || !json::is_string(code->second)) continue;
      auto sys = c->find("system");
      std::string system = sys != c->end() && json::is_string(sys->second) ? sys->second.get<std::string>() : "";
      auto in = g_stored_lookup(e.value_set, system, code->second.get<std::string>());
      if (!in) return;  // no stored value set of that URL: not checked
      any = true;
      ok = ok || *in;
    }
    if (any && !ok)
      here(std::string(type == "Coding" ? "the code is" : "none of the codings is") + " in the required value set " +
               e.value_set + " (stored)",
           "code-invalid");
  }

  static std::string strength_name(const ElementDef& e) {
    return e.strength == model::Strength::extensible ? "extensible" : "preferred";
  }

  // Extensible and preferred bindings (warnings, never errors): a code of one of the value
  // set's own code systems that is not in it, or a CodeableConcept with codings none of which
  // is in it.  Codings of other systems alone are allowed by these strengths when no code of
  // the value set applies, so only the CodeableConcept case names them.
  void soft_binding(const json::Object& o, const std::string& type, const term::CodeSet& vs, const ElementDef& e) {
    auto check = [&](const json::Object& c, bool* any, bool* in) {
      auto code = c.find("code");
      auto sys = c.find("system");
      if (code == c.end() || !json::is_string(code->second)) return;
      *any = true;
      const std::string& cs = code->second.get<std::string>();
      if (sys == c.end() || !json::is_string(sys->second)) {
        *in = *in || vs.has_code(cs);
        return;
      }
      const std::string& system = sys->second.get<std::string>();
      if (vs.has(system, cs)) {
        *in = true;
      } else if (vs.has_system(system)) {
        here("'" + cs + "' is not a code of " + system + " in the " + strength_name(e) + " value set " + e.value_set,
             "code-invalid", "warning");
        *in = true;  // reported for this coding already
      }
    };
    bool any = false, in = false;
    if (type == "Coding") return check(o, &any, &in);
    auto it = o.find("coding");
    if (it == o.end()) return;
    const json::Array* a = json::as_array(it->second);
    if (!a) return;
    for (const auto& c : *a)
      if (const json::Object* co = json::as_object(c)) check(*co, &any, &in);
    if (any && !in && e.strength == model::Strength::extensible)
      here("none of the codings is in the extensible value set " + e.value_set +
               " (a code from it should be used when one applies)",
           "code-invalid", "warning");
  }

  static bool coding_in(const json::Object& c, const term::CodeSet& vs, bool* has_code) {
    auto code = c.find("code");
    if (code == c.end() || !json::is_string(code->second)) return false;
    *has_code = true;
    auto sys = c.find("system");
    const std::string& cs = code->second.get<std::string>();
    if (sys != c.end() && json::is_string(sys->second)) return vs.has(sys->second.get<std::string>(), cs);
    return vs.has_code(cs);
  }

  void coding_binding(const json::Object& c, const term::CodeSet& vs, const ElementDef& e) {
    bool has_code = false;
    if (!coding_in(c, vs, &has_code) && has_code)
      here("the code is not in the required value set " + e.value_set, "code-invalid");
  }

  void cc_binding(const json::Object& cc, const term::CodeSet& vs, const ElementDef& e) {
    auto it = cc.find("coding");
    if (it == cc.end()) return;
    const json::Array* a = json::as_array(it->second);
    if (!a) return;
    bool any = false, ok = false;
    for (const auto& c : *a)
      if (const json::Object* co = json::as_object(c)) ok = coding_in(*co, vs, &any) || ok;
    if (any && !ok) here("none of the codings is in the required value set " + e.value_set, "code-invalid");
  }

  void reference(const json::Object& o, const TypeRef& tr) {
    auto it = o.find("reference");
    if (it == o.end() || !json::is_string(it->second)) return;
    const std::string& r = it->second.get<std::string>();
    if (r.empty()) return;
    PathMark pm(path);
    path += ".reference";
    if (r[0] == '#') {
      if (r.size() > 1 && !containers.empty() && !containers.back().count(r.substr(1)))
        here("local reference '" + r + "' does not name a contained resource (ref-1)", "invariant");
      return;
    }
    if (r.rfind("urn:uuid:", 0) == 0 || r.rfind("urn:oid:", 0) == 0 || r.find("://") != std::string::npos) {
      if (r.find_first_of(" \t\r\n") != std::string::npos) here("reference '" + r + "' contains whitespace", "value");
      return;
    }
    // relative: Type/id or Type/id/_history/vid (or a search URL in a transaction: Type?params)
    size_t slash = r.find('/');
    size_t q = r.find('?');
    std::string type = r.substr(0, std::min(slash, q));
    if (!is_resource_type(type)) return here("reference '" + r + "': '" + type + "' is not a FHIR R4 resource type", "value");
    if (!tr.targets.empty()) {
      bool ok = false;
      for (const auto& t : tr.targets) ok = ok || t == type || t == "Resource";
      if (!ok) {
        std::string allowed;
        for (const auto& t : tr.targets) allowed += (allowed.empty() ? "" : ", ") + t;
        here("reference '" + r + "' points to a " + type + "; this element allows " + allowed, "value");
      }
    }
    if (q != std::string::npos && q < slash) return;  // conditional reference
    if (slash == std::string::npos) return here("reference '" + r + "' has no id (expected Type/id)", "value");
    std::string rest = r.substr(slash + 1);
    std::string id = rest.substr(0, rest.find('/'));
    if (!valid_id(id)) here("reference '" + r + "': '" + id + "' is not a valid FHIR id", "value");
    if (rest.size() > id.size()) {
      std::string tail = rest.substr(id.size());
      if (tail.rfind("/_history/", 0) != 0 || !valid_id(tail.substr(10)))
        here("reference '" + r + "' is not Type/id or Type/id/_history/version", "value");
    }
  }

  // ---- Bundle (bdl-*) ----
  void bundle_rules(const json::Object& b) {
    std::string type;
    if (auto it = b.find("type"); it != b.end() && json::is_string(it->second)) type = it->second.get<std::string>();
    if (type.empty()) return;
    auto inv = [&](const std::string& expr, const std::string& msg) { add(expr, msg, "invariant"); };
    if (b.count("total") && type != "searchset" && type != "history")
      inv(path + ".total", "total is only for searchset and history Bundles (bdl-1)");
    if (type == "document") {
      const json::Value* id = nullptr;
      if (auto it = b.find("identifier"); it != b.end()) id = &it->second;
      if (!id || !json::get(*id, "system") || !json::get(*id, "value"))
        inv(path, "a document Bundle needs an identifier with system and value (bdl-9)");
      if (!b.count("timestamp")) inv(path, "a document Bundle needs a timestamp (bdl-10)");
    }
    const json::Array* entries = nullptr;
    if (auto it = b.find("entry"); it != b.end()) entries = json::as_array(it->second);
    if (!entries) return;
    bool need_request = type == "batch" || type == "transaction" || type == "history";
    bool need_response = type == "batch-response" || type == "transaction-response" || type == "history";
    std::set<std::string> full_urls;
    for (size_t i = 0; i < entries->size(); ++i) {
      const json::Value& e = (*entries)[i];
      if (!json::is_object(e)) continue;
      std::string ep = path + ".entry[" + std::to_string(i) + "]";
      const json::Value* res = json::get(e, "resource");
      if (json::get(e, "search") && type != "searchset") inv(ep + ".search", "entry.search is only for searchset Bundles (bdl-2)");
      if ((json::get(e, "request") != nullptr) != need_request)
        inv(ep + ".request", need_request ? "entry.request is required in a " + type + " Bundle (bdl-3)"
                                          : "entry.request is not allowed in a " + type + " Bundle (bdl-3)");
      if ((json::get(e, "response") != nullptr) != need_response)
        inv(ep + ".response", need_response ? "entry.response is required in a " + type + " Bundle (bdl-4)"
                                            : "entry.response is not allowed in a " + type + " Bundle (bdl-4)");
      if (!res && !json::get(e, "request") && !json::get(e, "response"))
        inv(ep, "an entry must have a resource, a request or a response (bdl-5)");
      if (const std::string* fu = json::get_string(e, "fullUrl")) {
        if (fu->find("/_history/") != std::string::npos)
          inv(ep + ".fullUrl", "fullUrl cannot be a version-specific reference (bdl-8)");
        if (type != "history") {
          std::string vid;
          if (res)
            if (const json::Value* meta = json::get(*res, "meta")) vid = json::string_or(*meta, "versionId");
          if (!full_urls.insert(*fu + "|" + vid).second)
            inv(ep + ".fullUrl", "fullUrl '" + *fu + "' appears more than once with the same version (bdl-7)");
        }
      }
      if (i == 0 && (type == "document" || type == "message")) {
        std::string want = type == "document" ? "Composition" : "MessageHeader";
        if (!res || json::string_or(*res, "resourceType") != want)
          inv(ep + ".resource", "the first entry of a " + type + " Bundle must be a " + want +
                                    (type == "document" ? " (bdl-11)" : " (bdl-12)"));
      }
    }
  }
};

}  // namespace

bool is_validatable_type(const std::string& type) {
  const TypeDef* t = model::model().type(type);
  return t && t->kind == Kind::resource && !t->abstract;
}

Status check_on_write(const json::Value& resource, OnWrite mode, std::vector<Issue>* kept) {
  if (mode == OnWrite::off) return Status();
  ValidateOptions o;
  o.max_issues = 50;
  std::vector<Issue> issues = validate_resource(resource, o);
  if (issues.empty()) return Status();
  std::string type = json::string_or(resource, "resourceType"), id = json::string_or(resource, "id");
  std::string what = type + (id.empty() ? std::string() : "/" + id);
  if (mode == OnWrite::strict && has_errors(issues)) {
    std::string msg = what + " is not valid FHIR R4 (validation.on_write: strict): ";
    size_t shown = 0, errors = 0;
    const Issue* first = nullptr;
    for (const auto& i : issues) {
      if (i.severity != "error" && i.severity != "fatal") continue;
      ++errors;
      if (!first) first = &i;
      if (shown < 5) {
        msg += (shown ? "; " : "") + (i.expression.empty() ? std::string() : i.expression + ": ") + i.diagnostics;
        ++shown;
      }
    }
    if (errors > shown) msg += "; and " + std::to_string(errors - shown) + " more error(s) ($validate lists them all)";
    Status st(Err::unprocessable, msg, first ? first->expression : std::string());
    st.issue_code = first ? first->code : "invalid";
    return st;
  }
  for (const auto& i : issues)
    log::warn("validation.on_write", {{"resource", what}, {"severity", i.severity}, {"expression", i.expression},
                                      {"diagnostics", i.diagnostics}});
  if (kept) kept->insert(kept->end(), issues.begin(), issues.end());
  return Status();
}

bool has_errors(const std::vector<Issue>& issues) {
  for (const auto& i : issues)
    if (i.severity == "error" || i.severity == "fatal") return true;
  return false;
}

std::vector<Issue> validate_resource(const json::Value& res, const ValidateOptions& opt) {
  const model::TypeModel& m = model::model();
  Walker w{m, opt.max_issues ? opt.max_issues : 500, {}, {}, {}};
  if (!model::model_status().ok()) {
    w.add("", "the type model is unavailable: " + model::model_status().message, "exception", "fatal");
    return w.issues;
  }
  const json::Object* o = json::as_object(res);
  if (!o) {
    w.add("", "a resource must be a JSON object");
    return w.issues;
  }
  const json::Value* rtv = json::get(res, "resourceType");
  const std::string* rt = rtv ? json::as_string(*rtv) : nullptr;
  if (!rt) {
    w.add("resourceType", "resourceType is missing or not a string", "required");
    return w.issues;
  }
  const TypeDef* t = m.type(*rt);
  if (!t || t->kind != Kind::resource || t->abstract) {
    w.add("resourceType", "'" + *rt + "' is not a FHIR R4 resource type", "value");
    return w.issues;
  }
  const std::string& type = *rt;
  if (!opt.expected_type.empty() && type != opt.expected_type)
    w.add("resourceType", "resourceType '" + type + "' does not match the URL's type '" + opt.expected_type + "'",
          "invalid");
  const json::Value* idv = json::get(res, "id");
  if (idv) {
    const std::string* id = json::as_string(*idv);
    if (id && valid_id(*id) && !opt.expected_id.empty() && *id != opt.expected_id)
      w.add(type + ".id", "the resource id '" + *id + "' does not match the id in the URL ('" + opt.expected_id + "')",
            "invalid");
  } else if (opt.require_id) {
    w.add(type + ".id", "the resource must have an id" + (opt.expected_id.empty() ? std::string() : " ('" + opt.expected_id + "')"),
          "required");
  }
  w.path = type;
  w.cur_res = w.root_res = &res;
  w.inv_steps = invariants::kResourceSteps;
  w.resource_body(*o, *t, false);
  return w.issues;
}

}  // namespace ef::fhir
