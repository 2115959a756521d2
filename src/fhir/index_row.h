// fhir/index_row.h — one search-index entry extracted from a resource (CONTRACT between
// fhir/indexer.cpp, which extracts rows with the FHIRPath expressions of the official
// SearchParameter definitions, and store/, which writes them in the same SQLite
// transaction as the resource and queries them for search).
//
// Every value a search can match is pre-normalised here, so SQL only compares.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ef::fhir {

enum class ParamType { string, token, date, number, quantity, reference, uri, composite, special };

struct IndexRow {
  std::string param;  // search parameter code, e.g. "name", "subject", "_lastUpdated"
  ParamType type = ParamType::string;

  // string: `text` = normalised (lower case, accents removed, whitespace collapsed);
  //         `exact` = original text.
  // token:  `system`, `code`; `text` = normalised display/text for :text; for booleans
  //         code is "true"/"false"; for identifiers also `type_system`/`type_code` (:of-type).
  // uri:    `exact` = the uri.
  // reference: `ref_type` + `ref_id` for relative/resolvable refs, `exact` = the reference
  //         string as written (absolute URL or canonical), `system`/`code` = identifier
  //         (Reference.identifier) for :identifier.
  std::string text, exact, system, code, type_system, type_code, ref_type, ref_id;

  // date: [lo, hi) in ms since epoch.  number/quantity: [lo, hi] of the value implied by its
  // precision (1.5 -> [1.45, 1.55]) and `num` the value itself; quantity also `system`/`code`
  // (unit code) and `text` = the human unit.
  int64_t lo_ms = 0, hi_ms = 0;
  double num = 0, num_lo = 0, num_hi = 0;

  // composite: one row per combination; components in `parts` as "code=value" pairs is not
  // needed — composites are evaluated from their component rows sharing `group`.
  int group = 0;
};

using IndexRows = std::vector<IndexRow>;

}  // namespace ef::fhir
