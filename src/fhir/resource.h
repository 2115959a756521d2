// fhir/resource.h — rules every stored resource obeys, independent of storage and HTTP:
// parsing a body (strict JSON, numbers kept exactly), the FHIR id rule, resourceType/id
// agreement with the URL, and stamping meta.versionId / meta.lastUpdated.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "util/json.h"
#include "util/status.h"

namespace ef::fhir {

struct ParseLimits {
  size_t max_depth = 64;
};

// Parses a resource body: must be a JSON object with a string resourceType naming an R4 type.
Result<json::Value> parse_resource(std::string_view body, const ParseLimits& lim = {});
// The FHIR id rule: [A-Za-z0-9\-\.]{1,64}
bool valid_id(std::string_view id);
// Checks resourceType (must equal `type`) and, when `url_id` is not empty, that the body id
// equals it (update) — or when `url_id` is empty that ids are ignored (create).
Status check_type_and_id(const json::Value& res, const std::string& type, const std::string& url_id, bool require_id);
// Structural sanity beyond JSON: no empty objects/arrays/strings, no nulls (FHIR JSON rules).
Status check_json_rules(const json::Value& res);
// Sets id, meta.versionId and meta.lastUpdated (keeps other meta members).
void stamp(json::Value& res, const std::string& id, int64_t version, int64_t last_updated_ms);
const std::string& resource_type_of(const json::Value& res);

}  // namespace ef::fhir
