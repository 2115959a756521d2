// fhir/fhirpath_patch.cpp — see fhirpath_patch.h.  Order of the file: reading the
// Parameters, locating path results, the type model lookups, building values, the five
// operations, then the meta changes.
#include "fhir/fhirpath_patch.h"

#include <algorithm>
#include <unordered_map>

#include "fhir/fhirpath.h"
#include "fhir/type_model.h"

namespace ef::fhir {

bool is_fhirpath_patch(const json::Value& v) {
  return json::is_object(v) && json::string_or(v, "resourceType") == "Parameters";
}

struct FhirPathPatch::Op {
  size_t param = 0;  // index in Parameters.parameter
  std::string type;  // add insert delete replace move
  std::string path;
  FhirPath expr;
  std::string name;
  json::Value value;  // the `value` part (holds value[x], part or resource); null when absent
  int64_t index = -1, source = -1, destination = -1;
};

FhirPathPatch::FhirPathPatch() = default;
FhirPathPatch::~FhirPathPatch() = default;
FhirPathPatch::FhirPathPatch(FhirPathPatch&&) noexcept = default;
FhirPathPatch& FhirPathPatch::operator=(FhirPathPatch&&) noexcept = default;
size_t FhirPathPatch::size() const { return ops_.size(); }

namespace {

std::string param_name(size_t i) { return "Parameters.parameter[" + std::to_string(i) + "]"; }

// The value[x] member of a part ("valueString"), or nullptr.
const std::string* value_key(const json::Object& o) {
  for (const auto& kv : o)
    if (kv.first.size() > 5 && kv.first.compare(0, 5, "value") == 0 && kv.first[5] >= 'A' && kv.first[5] <= 'Z')
      return &kv.first;
  return nullptr;
}

}  // namespace

Result<FhirPathPatch> FhirPathPatch::parse(const json::Value& params) {
  if (!is_fhirpath_patch(params)) return Status(Err::invalid, "a FHIRPath Patch must be a Parameters resource");
  FhirPathPatch out;
  const json::Value* pv = json::get(params, "parameter");
  if (!pv) return out;  // no operations: nothing changes
  const json::Array* arr = json::as_array(*pv);
  if (!arr) return Status(Err::invalid, "Parameters.parameter must be an array", "Parameters.parameter");
  if (arr->size() > kMaxPatchOperations)
    return Status(Err::too_large, "the FHIRPath Patch has " + std::to_string(arr->size()) + " operations; the limit is " +
                                      std::to_string(kMaxPatchOperations));
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string where = param_name(i);
    auto bad = [&](const std::string& m, const std::string& expr = {}) {
      return Status(Err::invalid, where + ": " + m, expr.empty() ? where : expr);
    };
    const json::Object* p = json::as_object((*arr)[i]);
    if (!p) return bad("must be an object");
    if (json::string_or((*arr)[i], "name") != "operation") return bad("the name of every parameter must be 'operation'");
    const json::Array* parts = json::get_array((*arr)[i], "part");
    if (!parts) return bad("an operation needs its parts (type, path, ...)");
    Op op;
    op.param = i;
    bool seen_type = false, seen_path = false, seen_name = false;
    for (size_t k = 0; k < parts->size(); ++k) {
      const std::string pw = where + ".part[" + std::to_string(k) + "]";
      const json::Value& part = (*parts)[k];
      const json::Object* po = json::as_object(part);
      if (!po) return bad("part " + std::to_string(k) + " must be an object", pw);
      const std::string pn = json::string_or(part, "name");
      const std::string* vk = value_key(*po);
      const json::Value* v = vk ? json::get(part, *vk) : nullptr;
      auto need = [&](const char* key, bool integer) -> Status {
        if (!vk || *vk != key) return bad("part '" + pn + "' needs " + key, pw);
        if (integer) {
          int64_t n = 0;
          if (!json::int_value(*v, &n) || n < 0 || n > 1000000) return bad("part '" + pn + "' must be an integer 0..1000000", pw);
        } else if (!json::is_string(*v)) {
          return bad("part '" + pn + "' must be a string", pw);
        }
        return Status();
      };
      auto once = [&](bool* seen) -> Status {
        if (*seen) return bad("part '" + pn + "' is given twice", pw);
        *seen = true;
        return Status();
      };
      Status st;
      if (pn == "type") {
        if (!(st = once(&seen_type))) return st;
        if (!(st = need("valueCode", false))) return st;
        op.type = v->get<std::string>();
        if (op.type != "add" && op.type != "insert" && op.type != "delete" && op.type != "replace" && op.type != "move")
          return bad("type '" + op.type + "' is not add, insert, delete, replace or move", pw);
      } else if (pn == "path") {
        if (!(st = once(&seen_path))) return st;
        if (!(st = need("valueString", false))) return st;
        op.path = v->get<std::string>();
      } else if (pn == "name") {
        if (!(st = once(&seen_name))) return st;
        if (!(st = need("valueString", false))) return st;
        op.name = v->get<std::string>();
      } else if (pn == "value") {
        if (!op.value.is<picojson::null>()) return bad("part 'value' is given twice", pw);
        if (!vk && !json::get(part, "part") && !json::get(part, "resource"))
          return bad("part 'value' has no value[x], part or resource", pw);
        op.value = part;
      } else if (pn == "index" || pn == "source" || pn == "destination") {
        int64_t* dst = pn == "index" ? &op.index : pn == "source" ? &op.source : &op.destination;
        if (*dst >= 0) return bad("part '" + pn + "' is given twice", pw);
        if (!(st = need("valueInteger", true))) return st;
        json::int_value(*v, dst);
      } else {
        return bad("unknown part '" + pn + "' (type, path, name, value, index, source, destination)", pw);
      }
    }
    if (op.type.empty()) return bad("the operation has no type");
    if (op.path.empty()) return bad("the operation has no path");
    if (op.path.size() > 1000) return bad("the path is longer than 1000 characters");
    const std::string& t = op.type;
    if (t == "add" && (op.name.empty() || op.value.is<picojson::null>())) return bad("add needs name and value");
    if (t == "insert" && (op.index < 0 || op.value.is<picojson::null>())) return bad("insert needs index and value");
    if (t == "replace" && op.value.is<picojson::null>()) return bad("replace needs value");
    if (t == "move" && (op.source < 0 || op.destination < 0)) return bad("move needs source and destination");
    auto fp = FhirPath::compile(op.path);
    if (!fp) return bad("path '" + op.path + "': " + fp.status().message);
    op.expr = std::move(*fp);
    out.ops_.push_back(std::move(op));
  }
  return out;
}

std::string FhirPathPatch::describe(size_t i) const {
  const Op& op = ops_[i];
  return param_name(op.param) + " (" + op.type + " at '" + op.path + "')";
}

// ---------------------------------------------------------------------------------------
// Locations

namespace {

// One step from a container object to a child: member `key` of *obj, item `index` of it when
// the member is an array (-1: not an array item).
struct Step {
  json::Value* obj = nullptr;
  std::string key;
  long index = -1;
};
struct Loc {
  std::vector<Step> chain;  // from the root; empty: the root itself
  json::Value* node = nullptr;
};

json::Value& node_of(const Step& s) {
  json::Value& m = s.obj->get<json::Object>()[s.key];
  return s.index < 0 ? m : m.get<json::Array>()[size_t(s.index)];
}

class Locator {
 public:
  Locator(const std::vector<const json::Value*>& wanted, size_t* work) : work_(work) {
    for (const json::Value* w : wanted) want_.emplace(w, Loc());
    left_ = want_.size();
  }
  bool walk(json::Value& v, std::vector<Step>& stack) {
    if (++*work_ > kMaxPatchWork) return false;
    auto it = want_.find(&v);
    if (it != want_.end()) {
      it->second.chain = stack;
      it->second.node = &v;
      --left_;
    }
    if (!left_) return true;
    if (json::Object* o = json::as_object_mut(v)) {
      for (auto& kv : *o) {
        if (!left_) break;
        if (kv.first.empty() || kv.first[0] == '_' || kv.first == "resourceType") continue;
        if (json::Array* a = kv.second.is<json::Array>() ? &kv.second.get<json::Array>() : nullptr) {
          for (size_t i = 0; i < a->size() && left_; ++i) {
            stack.push_back(Step{&v, kv.first, long(i)});
            bool ok = walk((*a)[i], stack);
            stack.pop_back();
            if (!ok) return false;
          }
        } else {
          stack.push_back(Step{&v, kv.first, -1});
          bool ok = walk(kv.second, stack);
          stack.pop_back();
          if (!ok) return false;
        }
      }
    }
    return true;
  }
  size_t left() const { return left_; }
  Loc& at(const json::Value* p) { return want_[p]; }

 private:
  std::unordered_map<const json::Value*, Loc> want_;
  size_t left_ = 0;
  size_t* work_;
};

// ---- type model ----

// The type of the node the first `len` steps of `chain` lead to (nullptr: unknown).
const model::TypeDef* type_at(const json::Value& root, const std::vector<Step>& chain, size_t len) {
  const model::TypeModel& m = model::model();
  const model::TypeDef* td = m.type(json::string_or(root, "resourceType"));
  for (size_t k = 0; k < len && td; ++k) {
    const model::TypeDef::Member* mem = td->member(chain[k].key);
    if (!mem) return nullptr;
    td = td->elements[mem->element].types[mem->type].type;
    if (td && td->kind == model::Kind::resource && td->abstract) {  // contained / Bundle.entry.resource
      td = m.type(json::string_or(node_of(chain[k]), "resourceType"));
    }
  }
  return td;
}

struct Target {
  const model::ElementDef* el = nullptr;  // nullptr: not in the model
  const model::TypeDef* type = nullptr;   // the element's type for this member
  std::string member;                     // JSON member name
};

// The element `name` of `parent` as it will be written with a value whose value[x] suffix
// is `suffix` ("" for part/resource values).
Result<Target> target_of(const model::TypeDef* parent, const std::string& name, const std::string& suffix) {
  Target t;
  t.member = name;
  if (!parent) return t;
  const model::ElementDef* el = parent->element(name);
  if (el && el->choice) {
    if (suffix.empty())
      return Status(Err::unprocessable, "'" + name + "' is a choice element of " + parent->name +
                                            ": its value must be a value[x] naming the type");
    t.member = name + suffix;
  } else if (!el) {
    if (!parent->member(name))
      return Status(Err::unprocessable, "'" + name + "' is not an element of " + parent->name);
  }
  const model::TypeDef::Member* mem = parent->member(t.member);
  if (!mem)
    return Status(Err::unprocessable, "'" + suffix + "' is not a type of " + parent->name + "." + name + "[x]");
  t.el = &parent->elements[mem->element];
  t.type = t.el->types[mem->type].type;
  return t;
}

// The value of a `value` part (or of a nested part): value[x] as is, a resource, or an object
// built from nested parts against `type` (the element's type; nullptr: unknown).
Result<json::Value> build_value(const json::Value& part, const model::TypeDef* type, std::string* suffix, int depth) {
  if (depth > 64) return Status(Err::invalid, "value parts are nested too deeply");
  suffix->clear();
  const json::Object& o = part.get<json::Object>();
  if (const std::string* vk = value_key(o)) {
    *suffix = vk->substr(5);
    return *json::get(part, *vk);
  }
  if (const json::Value* r = json::get(part, "resource")) return *r;
  const json::Array* parts = json::get_array(part, "part");
  if (!parts) return Status(Err::invalid, "part '" + json::string_or(part, "name") + "' has no value");
  json::Value out{json::Object{}};
  json::Object& obj = out.get<json::Object>();
  for (const json::Value& sp : *parts) {
    if (!json::is_object(sp)) return Status(Err::invalid, "a value part must be an object");
    std::string n = json::string_or(sp, "name");
    if (n.empty()) return Status(Err::invalid, "a value part has no name");
    // The member's type is only known once its suffix is: look at the part first.
    std::string sfx;
    if (const std::string* vk = value_key(sp.get<json::Object>())) sfx = vk->substr(5);
    auto t = target_of(type, n, sfx);
    if (!t) return t.status();
    std::string ignored;
    auto v = build_value(sp, t->type, &ignored, depth + 1);
    if (!v) return v.status();
    bool repeats = t->el ? t->el->repeats() : false;
    auto it = obj.find(t->member);
    if (repeats) {
      if (it == obj.end()) it = obj.emplace(t->member, json::Value(json::Array{})).first;
      it->second.get<json::Array>().push_back(std::move(*v));
    } else {
      if (it != obj.end()) return Status(Err::invalid, "value part '" + n + "' is given twice but does not repeat");
      obj.emplace(t->member, std::move(*v));
    }
  }
  if (obj.empty()) return Status(Err::invalid, "value part '" + json::string_or(part, "name") + "' is empty");
  return out;
}

// ---- edits that keep `_member` (primitive id/extensions) aligned ----

void clean_underscore(json::Object& o, const std::string& key) {
  auto u = o.find("_" + key);
  if (u == o.end() || !u->second.is<json::Array>()) return;
  for (const auto& x : u->second.get<json::Array>())
    if (!x.is<picojson::null>()) return;
  o.erase(u);
}

json::Array* underscore_array(json::Object& o, const std::string& key) {
  auto u = o.find("_" + key);
  return u != o.end() && u->second.is<json::Array>() ? &u->second.get<json::Array>() : nullptr;
}

void erase_step(const Step& s) {
  json::Object& o = s.obj->get<json::Object>();
  if (s.index < 0) {
    o.erase(s.key);
    o.erase("_" + s.key);
    return;
  }
  json::Array& a = o[s.key].get<json::Array>();
  a.erase(a.begin() + s.index);
  if (json::Array* u = underscore_array(o, s.key))
    if (size_t(s.index) < u->size()) u->erase(u->begin() + s.index);
  if (a.empty()) {
    o.erase(s.key);
    o.erase("_" + s.key);
  } else {
    clean_underscore(o, s.key);
  }
}

// Deletes the element at the end of `chain`, then every object left empty above it.
void erase_and_prune(std::vector<Step> chain) {
  erase_step(chain.back());
  chain.pop_back();
  while (!chain.empty()) {
    const Step& s = chain.back();
    json::Value& n = node_of(s);
    if (!(n.is<json::Object>() && n.get<json::Object>().empty())) break;
    erase_step(s);
    chain.pop_back();
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Operations

Status FhirPathPatch::apply(json::Value& doc) const {
  for (size_t i = 0; i < ops_.size(); ++i)
    if (Status st = apply(doc, i); !st) return st;
  return Status();
}

Status FhirPathPatch::apply(json::Value& doc, size_t i) const {
  const Op& op = ops_[i];
  const std::string where = param_name(op.param);
  auto fail = [&](Err e, const std::string& m) { return Status(e, describe(i) + ": " + m, where); };
  if (!json::is_object(doc)) return fail(Err::invalid, "the target is not a resource");

  // Evaluates `expr` and locates every result in `doc`.
  auto locate = [&](const FhirPath& expr, std::vector<Loc>* out) -> Status {
    PathNodes nodes;
    size_t budget = kMaxPatchWork > work_ ? kMaxPatchWork - work_ : 0;
    const size_t start = budget;
    if (!expr.evaluate_bounded(doc, &nodes, &budget))
      return fail(Err::too_large, "the patch needs more than " + std::to_string(kMaxPatchWork) +
                                      " units of work (a path too costly for the size of the resource, or too many "
                                      "operations)");
    work_ += start - budget;
    if (nodes.empty()) return Status();
    std::vector<const json::Value*> wanted;
    for (const auto& n : nodes) wanted.push_back(n.value);
    Locator L(wanted, &work_);
    std::vector<Step> stack;
    if (!L.walk(doc, stack))
      return fail(Err::too_large, "the patch needs more than " + std::to_string(kMaxPatchWork) +
                                      " units of work (too many operations for the size of the resource)");
    if (L.left()) return fail(Err::unprocessable, "the path selects values that are not elements of the resource");
    for (const auto& n : nodes) {
      bool dup = false;
      for (const auto& l : *out) dup = dup || l.node == n.value;
      if (!dup) out->push_back(L.at(n.value));
    }
    return Status();
  };
  std::vector<Loc> locs;
  if (Status st = locate(op.expr, &locs); !st) return st;

  // A list selected by the path: every result an item of the same array.
  struct List {
    json::Value* obj = nullptr;
    std::string key;
    std::vector<Step> chain;  // to obj
  };
  auto list_of = [&](List* l) -> Status {
    if (locs.empty()) {
      // An absent list `<prefix>.<name>`: its parent, for an insert at 0.
      size_t dot = op.path.rfind('.');
      std::string last = dot == std::string::npos ? std::string() : op.path.substr(dot + 1);
      bool ident = !last.empty() && std::all_of(last.begin(), last.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
      });
      if (op.type != "insert" || !ident) return fail(Err::unprocessable, "No content found at " + op.path);
      auto pre = FhirPath::compile(op.path.substr(0, dot));
      if (!pre) return fail(Err::unprocessable, "No content found at " + op.path);
      std::vector<Loc> parent;
      if (Status st = locate(*pre, &parent); !st) return st;
      if (parent.size() != 1 || !parent[0].node->is<json::Object>())
        return fail(Err::unprocessable, "No content found at " + op.path);
      l->obj = parent[0].node;
      l->key = last;
      l->chain = parent[0].chain;
      return Status();
    }
    const Step& s0 = locs[0].chain.empty() ? Step() : locs[0].chain.back();
    for (const auto& lc : locs) {
      if (lc.chain.empty() || lc.chain.back().index < 0 || lc.chain.back().obj != s0.obj || lc.chain.back().key != s0.key)
        return fail(Err::unprocessable, "the path does not select the items of one list");
    }
    l->obj = s0.obj;
    l->key = s0.key;
    l->chain.assign(locs[0].chain.begin(), locs[0].chain.end() - 1);
    return Status();
  };

  if (op.type == "add") {
    if (locs.empty()) return fail(Err::unprocessable, "No content found at " + op.path + " when adding");
    if (locs.size() > 1)
      return fail(Err::unprocessable, "the path selects " + std::to_string(locs.size()) + " elements; add needs one");
    json::Value* node = locs[0].node;
    if (!node->is<json::Object>()) return fail(Err::unprocessable, "the path selects a primitive value; add needs an element with children");
    const model::TypeDef* pt = type_at(doc, locs[0].chain, locs[0].chain.size());
    std::string sfx;
    if (const std::string* vk = value_key(op.value.get<json::Object>())) sfx = vk->substr(5);
    auto t = target_of(pt, op.name, sfx);
    if (!t) return fail(t.status().code, t.status().message);
    std::string ignored;
    auto v = build_value(op.value, t->type, &ignored, 0);
    if (!v) return fail(v.status().code, v.status().message);
    json::Object& o = node->get<json::Object>();
    auto it = o.find(t->member);
    bool repeats = t->el ? t->el->repeats() : (it != o.end() && it->second.is<json::Array>());
    if (repeats) {
      if (it == o.end()) it = o.emplace(t->member, json::Value(json::Array{})).first;
      if (!it->second.is<json::Array>()) return fail(Err::unprocessable, "'" + t->member + "' is not a list");
      it->second.get<json::Array>().push_back(std::move(*v));
      if (json::Array* u = underscore_array(o, t->member)) u->push_back(json::Value());
    } else {
      if (it != o.end()) return fail(Err::unprocessable, "'" + t->member + "' already has a value (use replace)");
      o.emplace(t->member, std::move(*v));
    }
    return Status();
  }

  if (op.type == "insert" || op.type == "move") {
    List l;
    if (Status st = list_of(&l); !st) return st;
    json::Object& o = l.obj->get<json::Object>();
    const model::TypeDef* pt = type_at(doc, l.chain, l.chain.size());
    auto it = o.find(l.key);
    if (op.type == "move") {
      json::Array& a = it->second.get<json::Array>();
      if (size_t(op.source) >= a.size() || size_t(op.destination) >= a.size())
        return fail(Err::unprocessable, "source and destination must be 0.." + std::to_string(a.size() - 1));
      auto mv = [&](json::Array& arr) {
        json::Value x = std::move(arr[size_t(op.source)]);
        arr.erase(arr.begin() + op.source);
        arr.insert(arr.begin() + op.destination, std::move(x));
      };
      mv(a);
      if (json::Array* u = underscore_array(o, l.key))
        if (u->size() == a.size()) mv(*u);
      return Status();
    }
    size_t size = it == o.end() ? 0 : it->second.get<json::Array>().size();
    if (size_t(op.index) > size) return fail(Err::unprocessable, "index must be 0.." + std::to_string(size));
    std::string sfx;
    if (const std::string* vk = value_key(op.value.get<json::Object>())) sfx = vk->substr(5);
    auto t = target_of(pt, l.key, pt && pt->element(l.key) && pt->element(l.key)->choice ? sfx : std::string());
    if (!t) return fail(t.status().code, t.status().message);
    if (t->el && !t->el->repeats()) return fail(Err::unprocessable, "'" + l.key + "' is not a list");
    std::string ignored;
    auto v = build_value(op.value, t->type, &ignored, 0);
    if (!v) return fail(v.status().code, v.status().message);
    if (it == o.end()) it = o.emplace(l.key, json::Value(json::Array{})).first;
    json::Array& a = it->second.get<json::Array>();
    a.insert(a.begin() + op.index, std::move(*v));
    if (json::Array* u = underscore_array(o, l.key))
      if (size_t(op.index) <= u->size()) u->insert(u->begin() + op.index, json::Value());
    return Status();
  }

  if (op.type == "delete") {
    if (locs.empty()) return Status();  // nothing there: nothing to delete
    if (locs.size() > 1)
      return fail(Err::unprocessable, "the path selects " + std::to_string(locs.size()) + " elements; delete needs one");
    if (locs[0].chain.empty()) return fail(Err::unprocessable, "the resource itself cannot be deleted");
    erase_and_prune(locs[0].chain);
    return Status();
  }

  // replace
  if (locs.empty()) return fail(Err::unprocessable, "No content found at " + op.path + " when replacing");
  if (locs.size() > 1)
    return fail(Err::unprocessable, "the path selects " + std::to_string(locs.size()) + " elements; replace needs one");
  if (locs[0].chain.empty()) return fail(Err::unprocessable, "the resource itself cannot be replaced");
  const Step s = locs[0].chain.back();
  const model::TypeDef* pt = type_at(doc, locs[0].chain, locs[0].chain.size() - 1);
  std::string key = s.key;
  std::string sfx;
  if (const std::string* vk = value_key(op.value.get<json::Object>())) sfx = vk->substr(5);
  const model::TypeDef::Member* mem = pt ? pt->member(s.key) : nullptr;
  const model::ElementDef* el = mem ? &pt->elements[mem->element] : nullptr;
  std::string name = el ? el->name : s.key;
  auto t = target_of(el ? pt : nullptr, name, el && el->choice ? sfx : std::string());
  if (!t) return fail(t.status().code, t.status().message);
  std::string ignored;
  auto v = build_value(op.value, t->type, &ignored, 0);
  if (!v) return fail(v.status().code, v.status().message);
  json::Object& o = s.obj->get<json::Object>();
  if (s.index < 0) {
    o.erase("_" + key);
    if (t->member != key) o.erase(key);
    o[t->member] = std::move(*v);
  } else {
    o[key].get<json::Array>()[size_t(s.index)] = std::move(*v);
    if (json::Array* u = underscore_array(o, key))
      if (size_t(s.index) < u->size()) (*u)[size_t(s.index)] = json::Value();
    clean_underscore(o, key);
  }
  return Status();
}

Status apply_fhirpath_patch(json::Value& doc, const json::Value& params) {
  auto p = FhirPathPatch::parse(params);
  if (!p) return p.status();
  return p->apply(doc);
}

// ---------------------------------------------------------------------------------------
// $meta-add / $meta-delete

namespace {

bool same_coding(const json::Value& a, const json::Value& b) {
  return json::string_or(a, "system") == json::string_or(b, "system") &&
         json::string_or(a, "code") == json::string_or(b, "code");
}

}  // namespace

Status apply_meta_change(json::Value& resource, const json::Value& meta, bool add) {
  if (!json::is_object(resource)) return Status(Err::invalid, "the target is not a resource");
  if (!json::is_object(meta)) return Status(Err::invalid, "meta must be a Meta object");
  for (const auto& kv : meta.get<json::Object>()) {
    if (kv.first != "profile" && kv.first != "tag" && kv.first != "security")
      return Status(Err::invalid, "meta." + kv.first + " cannot be changed by $meta-add/$meta-delete (profile, tag, security)",
                    "Parameters.parameter[0].valueMeta." + kv.first);
    if (!kv.second.is<json::Array>())
      return Status(Err::invalid, "meta." + kv.first + " must be an array", "Parameters.parameter[0].valueMeta." + kv.first);
    for (const auto& x : kv.second.get<json::Array>()) {
      bool ok = kv.first == "profile" ? json::is_string(x) : json::is_object(x);
      if (!ok || (kv.first != "profile" && !json::get_string(x, "code")))
        return Status(Err::invalid, "meta." + kv.first + (kv.first == "profile" ? " must hold canonical URLs" : " must hold Codings with a code"),
                      "Parameters.parameter[0].valueMeta." + kv.first);
    }
  }
  json::Object& ro = resource.get<json::Object>();
  auto mit = ro.find("meta");
  if (mit == ro.end()) {
    if (!add) return Status();
    mit = ro.emplace("meta", json::Value(json::Object{})).first;
  }
  if (!mit->second.is<json::Object>()) return Status(Err::invalid, "the resource's meta is not an object");
  json::Object& mo = mit->second.get<json::Object>();
  for (const auto& kv : meta.get<json::Object>()) {
    auto it = mo.find(kv.first);
    if (it == mo.end()) {
      if (!add) continue;
      it = mo.emplace(kv.first, json::Value(json::Array{})).first;
    }
    if (!it->second.is<json::Array>()) return Status(Err::invalid, "the resource's meta." + kv.first + " is not an array");
    json::Array& have = it->second.get<json::Array>();
    const bool profile = kv.first == "profile";
    auto match = [&](const json::Value& a, const json::Value& b) {
      return profile ? (json::is_string(a) && json::is_string(b) && a.get<std::string>() == b.get<std::string>())
                     : same_coding(a, b);
    };
    for (const auto& x : kv.second.get<json::Array>()) {
      auto f = std::find_if(have.begin(), have.end(), [&](const json::Value& h) { return match(h, x); });
      if (add && f == have.end()) have.push_back(x);
      if (!add)
        have.erase(std::remove_if(have.begin(), have.end(), [&](const json::Value& h) { return match(h, x); }), have.end());
    }
    if (have.empty()) mo.erase(it);
  }
  if (mo.empty()) ro.erase(mit);
  return Status();
}

json::Value meta_of(const json::Value& resource, bool with_version) {
  json::Value out{json::Object{}};
  const json::Value* m = json::get(resource, "meta");
  if (!m || !json::is_object(*m)) return out;
  for (const auto& kv : m->get<json::Object>()) {
    bool keep = kv.first == "profile" || kv.first == "tag" || kv.first == "security";
    if (with_version) keep = true;
    if (keep) out.get<json::Object>().emplace(kv.first, kv.second);
  }
  return out;
}

}  // namespace ef::fhir
