// fhir/element_order.cpp — see element_order.h.  Each object's members are sorted by their
// element's index in the TypeDef (a stable sort of the alphabetical map order), then written;
// values go down with their element's type, resources (contained, Bundle.entry.resource,
// Parameters.parameter.resource) with their own resourceType's.
#include "fhir/element_order.h"

#include <algorithm>
#include <vector>

#include "fhir/type_model.h"

namespace ef::fhir {

using model::Kind;
using model::TypeDef;

namespace {

void write_value(std::string& out, const json::Value& v, const TypeDef* t);

void write_object(std::string& out, const json::Object& o, const TypeDef* t) {
  if (!t) {
    json::write_to(out, json::Value(o));
    return;
  }
  if (t->kind == Kind::resource && t->abstract) {  // "Resource": the value names its type
    auto rt = o.find("resourceType");
    const TypeDef* c = nullptr;
    if (rt != o.end() && json::is_string(rt->second)) c = model::model().type(rt->second.get<std::string>());
    t = (c && c->kind == Kind::resource) ? c : nullptr;
    if (!t) {
      json::write_to(out, json::Value(o));
      return;
    }
  }
  struct Item {
    uint32_t order;
    const std::string* key;
    const json::Value* v;
    const TypeDef* type;
  };
  std::vector<Item> items;
  items.reserve(o.size());
  const json::Value* resource_type = nullptr;
  for (const auto& kv : o) {
    const std::string& k = kv.first;
    if (k == "resourceType" && t->kind == Kind::resource) {
      resource_type = &kv.second;
      continue;
    }
    bool ext = !k.empty() && k[0] == '_';
    const TypeDef::Member* mb = t->member(ext ? k.substr(1) : k);
    if (!mb) {
      items.push_back({0xFFFFFFFFu, &k, &kv.second, nullptr});
      continue;
    }
    const TypeDef* et = t->elements[mb->element].types[mb->type].type;
    if (ext) et = et && et->kind == Kind::primitive ? et : nullptr;  // its id/extension part
    items.push_back({uint32_t(mb->element) * 2 + (ext ? 1 : 0), &k, &kv.second, et});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.order < b.order; });
  out.push_back('{');
  bool first = true;
  if (resource_type) {
    out += "\"resourceType\":";
    json::write_to(out, *resource_type);
    first = false;
  }
  for (const Item& it : items) {
    if (!first) out.push_back(',');
    first = false;
    json::write_string(out, *it.key);
    out.push_back(':');
    write_value(out, *it.v, it.type);
  }
  out.push_back('}');
}

void write_value(std::string& out, const json::Value& v, const TypeDef* t) {
  if (const json::Object* o = json::as_object(v)) return write_object(out, *o, t);
  if (const json::Array* a = json::as_array(v)) {
    out.push_back('[');
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out.push_back(',');
      write_value(out, (*a)[i], t);
    }
    out.push_back(']');
    return;
  }
  json::write_to(out, v);
}

}  // namespace

std::string write_in_definition_order(const json::Value& resource) {
  if (!model::model_status().ok() || !json::is_object(resource)) return json::write(resource);
  std::string out;
  write_value(out, resource, model::model().type("Resource"));
  return out;
}

}  // namespace ef::fhir
