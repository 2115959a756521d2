// fhir/validate.h — structural validation of one resource for $validate
// (https://hl7.org/fhir/R4/resource-operation-validate.html), without StructureDefinitions.
//
// What is checked (every problem reported, each with a FHIRPath-like expression):
//   - resourceType: present, a known R4 type, equal to the expected type;
//   - id: the FHIR id rule; required and equal to the URL id in mode update;
//   - FHIR JSON rules: no null, empty string, empty object or empty array;
//   - meta: versionId (id), lastUpdated (instant), profile (canonical), tag/security (arrays);
//   - primitive formats where the element name identifies the type: dates (birthDate,
//     value/…Date), dateTimes (…DateTime, authoredOn, recordedDate, date, Period.start/end),
//     instants (issued, lastUpdated, …Instant), uris (system, url, Coding/Identifier system),
//     booleans (active, …Boolean), integers (…Integer, …PositiveInt, …UnsignedInt), codes
//     (status, gender: no surrounding or repeated whitespace), narrative div;
//   - Reference.reference format: Type/id[/_history/v] with a known type, an absolute URL,
//     urn:uuid:/urn:oid:, or #local;
//   - arrays where R4 always repeats (coding, extension, modifierExtension, contained, meta
//     profile/tag/security) and single values where it never does (Reference.reference);
//   - required elements (min cardinality 1) and a few required code bindings of common core
//     resources, hard-coded from the R4 spec (see kRequired in validate.cpp).
// Not checked: profiles, terminology beyond the hard-coded codes, invariants, cardinality of
// elements outside the table.
#pragma once
#include <string>
#include <vector>

#include "fhir/outcome.h"
#include "util/json.h"

namespace ef::fhir {

struct ValidateOptions {
  std::string expected_type;  // "" = any known type
  std::string expected_id;    // mode update: the id the resource must carry
  bool require_id = false;
};

// Issues found (severity error or warning); empty = valid.
std::vector<Issue> validate_resource(const json::Value& resource, const ValidateOptions& opt = {});

}  // namespace ef::fhir
