// fhir/fhirpath.cpp — see fhirpath.h.  The evaluator: a tree walk of the PathExpr tree that
// compile() (fhirpath_compile.cpp) built (fhirpath_ast.h), over collections of PathNode
// (pointers into the resource, never copies), with a step budget (evaluate_bounded).
// Booleans the evaluator creates are static constants.  The type names it tests with are
// fhirpath_types.cpp.
#include "fhir/fhirpath.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "fhir/fhirpath_ast.h"

namespace ef::fhir {

using fhirpath_detail::ident_char;
using fhirpath_detail::is_numeric;
using fhirpath_detail::is_string_like;

namespace {

// ---------------------------------------------------------------------------------------------
// Evaluator
// ---------------------------------------------------------------------------------------------
const json::Value kTrue(true);
const json::Value kFalse(false);

struct Env {
  const json::Value* root = nullptr;
  // Work budget (evaluate_bounded): 0 = none (the trusted search-parameter expressions).  Each
  // evaluation step costs 1 + its focus size + the nodes it produces; past the budget every
  // step returns nothing and `exhausted` is set.
  size_t max_steps = 0, steps = 0;
  bool exhausted = false;
};

void push_flat(const json::Value& v, std::string_view type, PathNodes* out) {
  if (const json::Array* a = json::as_array(v)) {
    for (const json::Value& e : *a) out->push_back(PathNode{&e, type});
  } else {
    out->push_back(PathNode{&v, type});
  }
}

void push_bool(bool b, PathNodes* out) { out->push_back(PathNode{b ? &kTrue : &kFalse, "boolean"}); }

void member_of(const PathNode& n, const std::string& name, PathNodes* out) {
  const json::Object* o = json::as_object(*n.value);
  if (!o) return;
  auto it = o->find(name);
  if (it != o->end()) {
    push_flat(it->second, {}, out);
    return;
  }
  // choice element: name + TypeSuffix (keys sharing a prefix are contiguous in the sorted map)
  for (it = o->lower_bound(name); it != o->end(); ++it) {
    const std::string& k = it->first;
    if (k.size() <= name.size() || k.compare(0, name.size(), name) != 0) break;
    std::string_view t = choice_suffix_type(std::string_view(k).substr(name.size()));
    if (!t.empty()) push_flat(it->second, t, out);
  }
}


bool node_is(const PathNode& n, const std::string& wanted) {
  if (!n.type.empty()) return type_is(n.type, wanted);
  const json::Value& v = *n.value;
  if (json::is_string(v)) return is_string_like(wanted);
  if (json::is_number(v)) return is_numeric(wanted);
  if (json::is_bool(v)) return wanted == "boolean";
  return type_is(shape_type(v), wanted);
}

// The resource type a Reference points at, or "" when it cannot be told.
std::string_view reference_type(const json::Value& ref, const Env& env) {
  if (const std::string* rt = json::get_string(ref, "resourceType")) return *rt;  // inline resource
  const std::string* r = json::get_string(ref, "reference");
  if (r && !r->empty()) {
    std::string_view s = *r;
    if (s[0] == '#') {
      const json::Array* contained = env.root ? json::get_array(*env.root, "contained") : nullptr;
      if (contained)
        for (const json::Value& c : *contained) {
          const std::string* id = json::get_string(c, "id");
          if (id && std::string_view(*id) == s.substr(1))
            if (const std::string* rt = json::get_string(c, "resourceType")) return *rt;
        }
      return {};
    }
    if (s.rfind("urn:", 0) != 0) {
      size_t h = s.find("/_history/");
      if (h != std::string_view::npos) s = s.substr(0, h);
      size_t slash = s.rfind('/');
      if (slash != std::string_view::npos && slash > 0 && slash + 1 < s.size()) {
        std::string_view head = s.substr(0, slash);
        size_t prev = head.rfind('/');
        std::string_view type = prev == std::string_view::npos ? head : head.substr(prev + 1);
        bool ok = !type.empty() && type[0] >= 'A' && type[0] <= 'Z';
        for (char c : type) ok = ok && ident_char(c);
        if (ok) return type;
      }
    }
  }
  if (const std::string* t = json::get_string(ref, "type")) return *t;
  return {};
}

// Collection -> boolean per FHIRPath singleton evaluation: empty = unknown.
std::optional<bool> to_bool(const PathNodes& c) {
  if (c.empty()) return std::nullopt;
  if (c.size() == 1 && json::is_bool(*c[0].value)) return c[0].value->get<bool>();
  return true;
}

bool values_equal(const json::Value& a, const json::Value& b) {
  if (json::is_number(a) && json::is_number(b)) {
    double x = 0, y = 0;
    return json::number_value(a, &x) && json::number_value(b, &y) && x == y;
  }
  if (json::is_string(a) && json::is_string(b)) return *json::as_string(a) == *json::as_string(b);
  if (json::is_bool(a) && json::is_bool(b)) return a.get<bool>() == b.get<bool>();
  if (json::is_object(a) && json::is_object(b)) return a == b;
  return false;
}

// -1, 0, 1, or nullopt when not comparable.
std::optional<int> compare_values(const json::Value& a, const json::Value& b) {
  if (json::is_number(a) && json::is_number(b)) {
    double x = 0, y = 0;
    if (!json::number_value(a, &x) || !json::number_value(b, &y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (json::is_string(a) && json::is_string(b)) {
    int c = json::as_string(a)->compare(*json::as_string(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

void eval(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out);

void eval_input(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  if (e.kids.empty() || !e.kids[0]) *out = focus;
  else eval(*e.kids[0], focus, env, out);
}

void eval_call(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  PathNodes in;
  eval_input(e, focus, env, &in);
  const std::string& f = e.name;
  if (f == "where" || (f == "exists" && e.kids.size() == 2)) {
    PathNodes kept, one(1), r;
    for (const PathNode& n : in) {
      one[0] = n;
      r.clear();
      eval(*e.kids[1], one, env, &r);
      if (to_bool(r).value_or(false)) kept.push_back(n);
    }
    if (f == "where") out->insert(out->end(), kept.begin(), kept.end());
    else push_bool(!kept.empty(), out);
  } else if (f == "exists") {
    push_bool(!in.empty(), out);
  } else if (f == "empty") {
    push_bool(in.empty(), out);
  } else if (f == "not") {
    std::optional<bool> b = to_bool(in);
    if (b) push_bool(!*b, out);
  } else if (f == "first") {
    if (!in.empty()) out->push_back(in.front());
  } else if (f == "last") {
    if (!in.empty()) out->push_back(in.back());
  } else if (f == "single") {
    if (in.size() == 1) out->push_back(in.front());
  } else if (f == "tail") {
    if (in.size() > 1) out->insert(out->end(), in.begin() + 1, in.end());
  } else if (f == "distinct") {
    for (const PathNode& n : in) {
      bool dup = false;
      for (const PathNode& m : *out) dup = dup || (m.value == n.value || values_equal(*m.value, *n.value));
      if (!dup) out->push_back(n);
    }
  } else if (f == "hasValue") {
    push_bool(in.size() == 1 && !json::is_object(*in[0].value) && !json::is_array(*in[0].value), out);
  } else if (f == "as" || f == "ofType") {
    for (const PathNode& n : in)
      if (node_is(n, e.type_arg)) out->push_back(n.type.empty() ? PathNode{n.value, e.type_arg} : n);
  } else if (f == "is") {
    if (in.size() == 1) push_bool(node_is(in[0], e.type_arg), out);
  } else if (f == "extension") {
    PathNodes urls;
    eval(*e.kids[1], focus, env, &urls);
    if (urls.size() != 1 || !json::is_string(*urls[0].value)) return;
    const std::string& url = *json::as_string(*urls[0].value);
    for (const PathNode& n : in) {
      const json::Array* ext = json::get_array(*n.value, "extension");
      if (!ext) continue;
      for (const json::Value& x : *ext) {
        const std::string* u = json::get_string(x, "url");
        if (u && *u == url) out->push_back(PathNode{&x, "Extension"});
      }
    }
  } else if (f == "resolve") {
    for (const PathNode& n : in) {
      if (!json::is_object(*n.value)) continue;
      std::string_view t = reference_type(*n.value, env);
      if (!t.empty()) out->push_back(PathNode{n.value, t});
    }
  }
}

void eval_node(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out);

void eval(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  if (!env.max_steps) return eval_node(e, focus, env, out);
  env.steps += 1 + focus.size();
  if (env.exhausted || env.steps > env.max_steps) {
    env.exhausted = true;
    return;
  }
  size_t before = out->size();
  eval_node(e, focus, env, out);
  env.steps += out->size() - before;
}

void eval_node(const PathExpr& e, const PathNodes& focus, Env& env, PathNodes* out) {
  switch (e.op) {
    case Op::member: {
      PathNodes in;
      eval_input(e, focus, env, &in);
      for (const PathNode& n : in) {
        if (e.first && !e.name.empty() && e.name[0] >= 'A' && e.name[0] <= 'Z') {
          // A leading type name selects the focus when it is of that type (Patient.name).
          const std::string* rt = json::get_string(*n.value, "resourceType");
          if (rt && (*rt == e.name || e.name == "Resource" || e.name == "DomainResource")) {
            out->push_back(PathNode{n.value, *rt});
            continue;
          }
        }
        member_of(n, e.name, out);
      }
      return;
    }
    case Op::call:
      eval_call(e, focus, env, out);
      return;
    case Op::index: {
      PathNodes in, idx;
      eval(*e.kids[0], focus, env, &in);
      eval(*e.kids[1], focus, env, &idx);
      int64_t i = 0;
      if (idx.size() == 1 && json::int_value(*idx[0].value, &i) && i >= 0 && size_t(i) < in.size())
        out->push_back(in[size_t(i)]);
      return;
    }
    case Op::literal:
      out->push_back(PathNode{&e.lit, json::is_bool(e.lit) ? "boolean" : (json::is_number(e.lit) ? "decimal" : "string")});
      return;
    case Op::empty_set:
      return;
    case Op::var_resource:
      if (env.root) out->push_back(PathNode{env.root, {}});
      return;
    case Op::var_this:
      out->insert(out->end(), focus.begin(), focus.end());
      return;
    case Op::union_: {
      size_t start = out->size();
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &a);
      for (const PathNode& n : a) {  // union removes duplicates (same node)
        bool dup = false;
        for (size_t k = start; k < out->size() && !dup; ++k) dup = (*out)[k].value == n.value;
        if (!dup) out->push_back(n);
      }
      return;
    }
    case Op::eq:
    case Op::ne: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &b);
      if (a.empty() || b.empty()) return;
      bool equal = a.size() == b.size();
      for (size_t k = 0; equal && k < a.size(); ++k) equal = values_equal(*a[k].value, *b[k].value);
      push_bool(e.op == Op::eq ? equal : !equal, out);
      return;
    }
    case Op::lt:
    case Op::le:
    case Op::gt:
    case Op::ge: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      eval(*e.kids[1], focus, env, &b);
      if (a.size() != 1 || b.size() != 1) return;
      std::optional<int> c = compare_values(*a[0].value, *b[0].value);
      if (!c) return;
      bool r = e.op == Op::lt ? *c < 0 : e.op == Op::le ? *c <= 0 : e.op == Op::gt ? *c > 0 : *c >= 0;
      push_bool(r, out);
      return;
    }
    case Op::and_:
    case Op::or_:
    case Op::xor_:
    case Op::implies: {
      PathNodes a, b;
      eval(*e.kids[0], focus, env, &a);
      std::optional<bool> x = to_bool(a);
      // short cuts that do not need the right side
      if (e.op == Op::and_ && x == false) return push_bool(false, out);
      if (e.op == Op::or_ && x == true) return push_bool(true, out);
      if (e.op == Op::implies && x == false) return push_bool(true, out);
      eval(*e.kids[1], focus, env, &b);
      std::optional<bool> y = to_bool(b);
      std::optional<bool> r;
      switch (e.op) {
        case Op::and_:
          if (y == false) r = false;
          else if (x && y) r = true;
          break;
        case Op::or_:
          if (y == true) r = true;
          else if (x && y) r = false;
          break;
        case Op::xor_:
          if (x && y) r = *x != *y;
          break;
        default:  // implies: x is true or unknown
          if (y == true) r = true;
          else if (x && y) r = false;
          break;
      }
      if (r) push_bool(*r, out);
      return;
    }
    case Op::is: {
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      if (a.size() == 1) push_bool(node_is(a[0], e.type_arg), out);
      return;
    }
    case Op::as: {
      PathNodes a;
      eval(*e.kids[0], focus, env, &a);
      for (const PathNode& n : a)
        if (node_is(n, e.type_arg)) out->push_back(n.type.empty() ? PathNode{n.value, e.type_arg} : n);
      return;
    }
  }
}

}  // namespace

void FhirPath::evaluate(const json::Value& resource, PathNodes* out) const {
  evaluate(resource, PathNode{&resource, {}}, out);
}

bool FhirPath::evaluate_bounded(const json::Value& resource, PathNodes* out, size_t* budget) const {
  if (!root_) return true;
  if (*budget == 0) return false;
  Env env;
  env.root = &resource;
  env.max_steps = *budget;
  PathNodes f(1, PathNode{&resource, {}});
  eval(*root_, f, env, out);
  bool ok = !env.exhausted && env.steps <= env.max_steps;
  *budget = ok ? *budget - env.steps : 0;
  return ok;
}

void FhirPath::evaluate(const json::Value& resource, const PathNode& focus, PathNodes* out) const {
  if (!root_) return;
  Env env;
  env.root = &resource;
  PathNodes f(1, focus);
  eval(*root_, f, env, out);
}

}  // namespace ef::fhir
