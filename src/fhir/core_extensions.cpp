// fhir/core_extensions.cpp — see core_extensions.h.  The table: StructureDefinition id (the
// part of the canonical URL after http://hl7.org/fhir/StructureDefinition/) and the type of
// its value[x], as given by each extension's definition in R4 (4.0.1).
#include "fhir/core_extensions.h"

#include <algorithm>
#include <iterator>

namespace ef::fhir {

namespace {

struct Entry {
  std::string_view id;
  const char* type;
};

// Sorted by id (binary search); a unit test checks the order.
constexpr Entry kTable[] = {
    {"data-absent-reason", "code"},
    {"display", "string"},
    {"elementdefinition-profile-element", "string"},
    {"humanname-assembly-order", "code"},
    {"humanname-fathers-family", "string"},
    {"humanname-mothers-family", "string"},
    {"humanname-own-name", "string"},
    {"humanname-own-prefix", "string"},
    {"humanname-partner-name", "string"},
    {"humanname-partner-prefix", "string"},
    {"iso21090-EN-qualifier", "code"},
    {"iso21090-EN-use", "code"},
    {"iso21090-nullFlavor", "code"},
    {"iso21090-preferred", "boolean"},
    {"language", "code"},
    {"originalText", "string"},
    {"patient-birthTime", "dateTime"},
    {"patient-cadavericDonor", "boolean"},
    {"patient-congregation", "string"},
    {"patient-interpreterRequired", "boolean"},
    {"patient-mothersMaidenName", "string"},
    {"patient-religion", "CodeableConcept"},
    {"questionnaire-fhirType", "string"},
    {"questionnaire-itemControl", "CodeableConcept"},
    {"questionnaire-maxOccurs", "integer"},
    {"questionnaire-minOccurs", "integer"},
    {"rendered-value", "string"},
};

constexpr std::string_view kPrefix = "http://hl7.org/fhir/StructureDefinition/";

}  // namespace

bool core_extension_table_sorted() {
  return std::is_sorted(std::begin(kTable), std::end(kTable),
                        [](const Entry& a, const Entry& b) { return a.id < b.id; });
}

const char* core_extension_value_type(std::string_view url) {
  if (url.substr(0, kPrefix.size()) != kPrefix) return nullptr;
  std::string_view id = url.substr(kPrefix.size());
  auto it = std::lower_bound(std::begin(kTable), std::end(kTable), id,
                             [](const Entry& e, std::string_view k) { return e.id < k; });
  if (it == std::end(kTable) || it->id != id) return nullptr;
  return it->type;
}

}  // namespace ef::fhir
