// fhir/indexer.h — turns a resource into search-index rows (fhir/index_row.h) by evaluating
// the compiled expression of every supported search parameter of its type (the registry in
// fhir/search_params.h, common Resource parameters included) and normalising each result by
// parameter type:
//
//   string    string; HumanName family/given/prefix/suffix/text; Address line/city/district/
//             state/postalCode/country/text — one row per part: text = normalize_string(),
//             exact = as written.
//   token     Coding and each CodeableConcept.coding: system, code, text = normalised display
//             (CodeableConcept.text gets its own text-only row unless it equals a display);
//             Identifier: system, code = value, text = normalised type.text, type_system/
//             type_code per type.coding; ContactPoint: code = value; code/string/uri/id: code;
//             boolean: code "true"/"false".
//   date      date/dateTime/instant: the range its precision covers (util/time.h);
//             Period start..end with an open end = kDateMin / kDateMax; Timing: each event
//             (or repeat.boundsPeriod when there are no events).
//   number    value with the range its written precision implies ("1.5" -> [1.45, 1.55],
//             "100" -> [99.5, 100.5]); Range -> [low, high].
//   quantity  Quantity/Age/Duration/Distance/Count: num/num_lo/num_hi as number, system,
//             code (unit code), text = unit; Money: system "urn:iso:std:iso:4217", code =
//             currency; Range: num_lo = low, num_hi = high (open end = -/+ DBL_MAX).
//   reference "Type/id" (optionally /_history/n): ref_type + ref_id; absolute URL ending in
//             Type/id: ref_type + ref_id + exact; "urn:uuid:...", "#contained" and other strings
//             (canonical, uri): exact only; Reference.identifier: system + code; an inline
//             resource (Bundle.entry[0].resource): ref_type = resourceType, ref_id = id.
//   uri       exact.
//
// Composite parameters (e.g. Observation code-value-quantity): for each result of the
// composite's own expression (the "context", e.g. the Observation or one Observation.component)
// the indexer allocates a group number g (1, 2, ... unique within this resource; 0 is never
// used for composites) and evaluates each component k (0-based, in definition order) on that
// context, emitting rows typed by the component's type with
//     param = "<composite code>$<k>"     (e.g. "code-value-quantity$0", "code-value-quantity$1")
//     group = g
// A composite search value "a$b" matches when some group has a component-0 row matching a and
// a component-1 row matching b.  Non-composite rows have group 0.
//
// Rows are de-duplicated per parameter.  Parameters that are not supported are skipped.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fhir/index_row.h"
#include "fhir/search_params.h"
#include "util/json.h"

namespace ef::fhir {

constexpr int64_t kDateMin = std::numeric_limits<int64_t>::min();  // open Period start
constexpr int64_t kDateMax = std::numeric_limits<int64_t>::max();  // open Period end

// Appends the rows for `resource` (a parsed resource object; its resourceType selects the
// parameters).  Nothing is appended for a value that is not an object or has an unknown type.
void extract_index(const json::Value& resource, IndexRows* out);
void extract_index(const SearchParamRegistry& reg, const json::Value& resource, IndexRows* out);

// The string normalisation used for string parameters (search values must use it too):
// lower case (ASCII), accents removed from Latin-1 Supplement and Latin Extended-A letters
// ("Ordóñez" -> "ordonez", "ß" -> "ss", "Æ" -> "ae"), combining marks dropped, runs of
// whitespace collapsed to one space, leading/trailing whitespace removed.
std::string normalize_string(std::string_view s);

// Parses a FHIR decimal/integer text ("-1.50", "1e3") into its value and the half-open-ish
// interval [lo, hi] implied by its precision (half a unit of the last written digit).
// False when the text is not a number.
bool number_range(std::string_view text, double* value, double* lo, double* hi);

}  // namespace ef::fhir
