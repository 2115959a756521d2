// fhir/core_extensions.h — the value types of some extensions defined by the R4 core
// specification itself (http://hl7.org/fhir/R4/extensibility-registry.html).  The official
// extension-definitions bundle is not part of the definitions we derive the type model from
// (../shared/fhir-r4 has profiles-types/-resources only), so this is a short hand-kept table of
// well-known simple extensions, each checked against its StructureDefinition page
// (http://hl7.org/fhir/R4/extension-<name>.html).  Extensions not listed are not checked
// beyond the Extension type itself.  Pure: no I/O.
#pragma once

#include <string_view>

namespace ef::fhir {

// The one allowed value[x] type (FHIR type name, e.g. "string") of the core extension `url`,
// or nullptr when `url` is not in the table.
const char* core_extension_value_type(std::string_view url);
// The table is sorted (for the unit test).
bool core_extension_table_sorted();

}  // namespace ef::fhir
