// fhir/resource.cpp — see resource.h.
#include "fhir/resource.h"

#include "fhir/resource_types.h"
#include "util/time.h"

namespace ef::fhir {

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  // FHIR's id rule allows "." and "..", but as a URL segment they mean "this" / "parent"
  // (PUT Patient/.. is PUT / after normalisation; sync sends PUT upstream/Type/id).
  if (id == "." || id == "..") return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
      return false;
  }
  return true;
}

const std::string& resource_type_of(const json::Value& res) {
  static const std::string empty;
  const std::string* s = json::get_string(res, "resourceType");
  return s ? *s : empty;
}

Result<json::Value> parse_resource(std::string_view body, const ParseLimits& lim) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  o.max_depth = lim.max_depth;
  auto v = json::parse(body, o);
  if (!v) return v.status();
  if (!json::is_object(*v)) return Status(Err::invalid, "the body must be a JSON object (a FHIR resource)");
  const json::Value* rt = json::get(*v, "resourceType");
  if (!rt) return Status(Err::invalid, "the resource has no resourceType", "resourceType");
  if (!json::is_string(*rt)) return Status(Err::invalid, "resourceType must be a string", "resourceType");
  if (!is_resource_type(rt->get<std::string>()))
    return Status(Err::invalid, "'" + rt->get<std::string>() + "' is not a FHIR R4 resource type", "resourceType");
  Status st = check_json_rules(*v);
  if (!st) return st;
  return v;
}

static Status check_rec(const json::Value& v, std::string& path, int depth) {
  if (v.is<picojson::null>()) return Status(Err::invalid, "null is not allowed in FHIR JSON (at " + path + ")", path);
  if (json::is_string(v) && v.get<std::string>().empty())
    return Status(Err::invalid, "empty strings are not allowed in FHIR JSON (at " + path + ")", path);
  if (const json::Array* a = json::as_array(v)) {
    if (a->empty()) return Status(Err::invalid, "empty arrays are not allowed in FHIR JSON (at " + path + ")", path);
    for (const auto& e : *a) {
      // nulls are allowed inside arrays only as placeholders paired with _element arrays
      if (e.is<picojson::null>()) continue;
      Status st = check_rec(e, path, depth + 1);
      if (!st) return st;
    }
  } else if (const json::Object* o = json::as_object(v)) {
    if (o->empty() && depth > 0)
      return Status(Err::invalid, "empty objects are not allowed in FHIR JSON (at " + path + ")", path);
    for (const auto& kv : *o) {
      size_t n = path.size();
      if (!path.empty()) path += '.';
      path += kv.first;
      Status st = check_rec(kv.second, path, depth + 1);
      path.resize(n);
      if (!st) return st;
    }
  }
  return Status();
}

Status check_json_rules(const json::Value& res) {
  std::string path = resource_type_of(res);
  const json::Object* o = json::as_object(res);
  if (!o) return Status(Err::invalid, "the body must be a JSON object");
  for (const auto& kv : *o) {
    if (kv.first == "resourceType") continue;
    std::string p = path + "." + kv.first;
    Status st = check_rec(kv.second, p, 1);
    if (!st) return st;
  }
  return Status();
}

Status check_type_and_id(const json::Value& res, const std::string& type, const std::string& url_id, bool require_id) {
  const std::string& rt = resource_type_of(res);
  if (rt != type)
    return Status(Err::invalid, "resourceType '" + rt + "' does not match the URL's type '" + type + "'", "resourceType");
  const json::Value* idv = json::get(res, "id");
  if (idv && !json::is_string(*idv)) return Status(Err::invalid, "id must be a string", type + ".id");
  if (require_id) {
    if (!idv) return Status(Err::invalid, "the resource must have an id matching the URL ('" + url_id + "')", type + ".id");
    const std::string& id = idv->get<std::string>();
    if (id != url_id)
      return Status(Err::invalid, "the resource id '" + id + "' does not match the id in the URL ('" + url_id + "')",
                    type + ".id");
  }
  if (idv && !valid_id(idv->get<std::string>()))
    return Status(Err::invalid, "'" + idv->get<std::string>() + "' is not a valid FHIR id ([A-Za-z0-9-.]{1,64})", type + ".id");
  return Status();
}

void stamp(json::Value& res, const std::string& id, int64_t version, int64_t last_updated_ms) {
  json::Object& o = res.get<json::Object>();
  o["id"] = json::Value(id);
  json::Value& meta = o["meta"];
  if (!meta.is<json::Object>()) meta = json::Value(json::Object());
  json::Object& m = meta.get<json::Object>();
  m["versionId"] = json::Value(std::to_string(version));
  m["lastUpdated"] = json::Value(timefmt::format_instant(last_updated_ms));
}

}  // namespace ef::fhir
