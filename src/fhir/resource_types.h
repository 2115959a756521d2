// fhir/resource_types.h — the 145 resource types of FHIR R4 (derived from the official
// definitions; see data/README.md).  Lookup is a binary search over a sorted table.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ef::fhir {

bool is_resource_type(std::string_view name);
const std::vector<std::string>& all_resource_types();  // sorted

}  // namespace ef::fhir
