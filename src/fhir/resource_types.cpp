// fhir/resource_types.cpp — see resource_types.h.  The list comes from the embedded
// search-parameter registry (data/compartment-patient.tsv lists every R4 type).
#include "fhir/resource_types.h"

#include "fhir/search_params.h"

namespace ef::fhir {

const std::vector<std::string>& all_resource_types() { return registry().all_resource_types(); }
bool is_resource_type(std::string_view name) { return registry().is_resource_type(name); }

}  // namespace ef::fhir
