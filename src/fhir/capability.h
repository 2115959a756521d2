// fhir/capability.h — the CapabilityStatement, built from what this binary actually
// implements (the Features below are set by the HTTP layer from the code that exists),
// so /metadata never claims more than the server does.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/json.h"

namespace ef::fhir {

struct Features {
  std::string base_url;
  std::string software_version;
  int64_t started_ms = 0;
  bool search = false;            // search-type / search-system (with the registry's params)
  bool transaction = false, batch = false;
  bool conditional_create = false, conditional_update = false, conditional_delete = false, conditional_patch = false;
  bool auth_required = false;
  json::Value security;           // CapabilityStatement.rest.security (null = none)
  std::vector<std::string> system_operations;    // e.g. "export"
  std::vector<std::pair<std::string, std::string>> type_operations;  // (type, op)
  // Search parameters per type: (code, type, definition url, documentation) — filled by search.
  std::function<json::Array(const std::string& type)> search_params;
};

json::Value capability_statement(const Features& f);

// CapabilityStatement.rest.resource.searchParam entries for `type` from the search-parameter
// registry (supported ones only: name, definition, type, documentation).
json::Array search_param_statements(const std::string& type);
// The registry's parameters of `type` that this server cannot evaluate, as extensions
// ("code: why") so that /metadata says so instead of ignoring them silently.
json::Array unsupported_param_extensions(const std::string& type);

}  // namespace ef::fhir
