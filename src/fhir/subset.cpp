// fhir/subset.cpp — _summary and _elements (search_query.h subset_resource): a stored resource
// reduced to its summary elements (isSummary in the type model, plus mandatory ones) or to the
// listed top-level elements, marked SUBSETTED in meta.tag.
#include "fhir/element_order.h"
#include "fhir/search_query.h"
#include "fhir/type_model.h"

#include <algorithm>

#include "fhir/resource.h"

namespace ef::fhir {

namespace {

// _summary=true on one object of type t: the elements marked isSummary, and the mandatory
// ones; backbone elements are reduced the same way, data types are kept whole.
void summary_object(json::Object& o, const model::TypeDef& t) {
  for (auto it = o.begin(); it != o.end();) {
    const std::string& k = it->first;
    if (k == "resourceType") {
      ++it;
      continue;
    }
    bool ext = !k.empty() && k[0] == '_';
    const model::TypeDef::Member* mb = t.member(ext ? k.substr(1) : k);
    const model::ElementDef* e = mb ? &t.elements[mb->element] : nullptr;
    if (!e || !(e->summary || e->min > 0)) {
      it = o.erase(it);
      continue;
    }
    const model::TypeDef* et = e->types[mb->type].type;
    if (!ext && et && et->kind == model::Kind::backbone) {
      if (json::Object* c = json::as_object_mut(it->second)) summary_object(*c, *et);
      else if (it->second.is<json::Array>())
        for (auto& x : it->second.get<json::Array>())
          if (json::Object* c = json::as_object_mut(x)) summary_object(*c, *et);
    }
    ++it;
  }
}

}  // namespace

std::string subset_resource(const std::string& body, Summary summary, const std::vector<std::string>& elements) {
  if (summary == Summary::none && elements.empty()) return body;
  if (summary == Summary::count) return body;
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = 1000;
  auto v = json::parse(body, po);
  if (!v || !json::is_object(*v)) return body;
  json::Object& o = *json::as_object_mut(*v);
  const model::TypeDef* t = model::model().type(json::string_or(*v, "resourceType"));
  if (!t || t->kind != model::Kind::resource) return body;
  // Mandatory top-level elements (min >= 1), and the always-kept resourceType, id, meta.
  auto mandatory = [&](const std::string& k) {
    if (k == "resourceType" || k == "id" || k == "meta") return true;
    bool ext = !k.empty() && k[0] == '_';
    const model::TypeDef::Member* mb = t->member(ext ? k.substr(1) : k);
    return mb && t->elements[mb->element].min > 0;
  };
  auto element_name = [&](const std::string& k) {
    bool ext = !k.empty() && k[0] == '_';
    const model::TypeDef::Member* mb = t->member(ext ? k.substr(1) : k);
    return mb ? t->elements[mb->element].name : k;
  };
  if (!elements.empty()) {
    for (auto it = o.begin(); it != o.end();) {
      const std::string& k = it->first;
      bool keep = mandatory(k) || k == "modifierExtension" ||
                  std::find(elements.begin(), elements.end(), element_name(k)) != elements.end() ||
                  std::find(elements.begin(), elements.end(), k) != elements.end();
      it = keep ? std::next(it) : o.erase(it);
    }
  } else if (summary == Summary::true_) {
    summary_object(o, *t);
  } else if (summary == Summary::text) {
    for (auto it = o.begin(); it != o.end();)
      it = (mandatory(it->first) || it->first == "text") ? std::next(it) : o.erase(it);
  } else if (summary == Summary::data) {
    o.erase("text");
  }
  // meta.tag += SUBSETTED (https://hl7.org/fhir/R4/search.html#summary)
  json::Object meta;
  if (auto it = o.find("meta"); it != o.end() && json::is_object(it->second)) meta = *json::as_object(it->second);
  json::Array tags;
  if (auto it = meta.find("tag"); it != meta.end() && json::is_array(it->second)) tags = *json::as_array(it->second);
  json::Object tag;
  tag["system"] = json::Value(std::string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"));
  tag["code"] = json::Value(std::string("SUBSETTED"));
  tag["display"] = json::Value(std::string("Resource content reduced by _summary/_elements"));
  tags.push_back(json::Value(tag));
  meta["tag"] = json::Value(tags);
  o["meta"] = json::Value(meta);
  return write_in_definition_order(*v);
}

}  // namespace ef::fhir