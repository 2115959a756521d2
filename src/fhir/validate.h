// fhir/validate.h — validation of one resource against the R4 type model
// (fhir/type_model.h, from the official StructureDefinitions), for $validate
// (https://hl7.org/fhir/R4/resource-operation-validate.html) and for writes (validation.on_write).
//
// What is checked (every problem reported, each with a FHIRPath expression with indexes and
// .ofType(type) for choice elements, e.g. Patient.name[0].given[0] or
// Parameters.parameter[0].value.ofType(decimal)):
//   - resourceType: present, a concrete R4 type, equal to the expected type; id rules
//     (required and equal to the URL id in mode update);
//   - every member is an element of its type (unknown elements), arrays exactly where the
//     element repeats, minimum and maximum cardinality, the JSON type of every value;
//   - primitives: the spec's lexical rules and ranges (integer range, decimal, date/dateTime/
//     instant/time with real calendar days, id, oid, uuid, uri, code, base64Binary, positiveInt,
//     unsignedInt, markdown, xhtml narrative);
//   - choice elements: one type among the allowed ones, at most one member per choice;
//   - primitive extensions (_birthDate): where allowed, shape, alignment of repeating ones,
//     and an element with neither value nor extension is an error; null only in arrays of
//     primitives whose _element has an extension at that index;
//   - FHIR JSON rules: no empty strings, objects or arrays (ele-1), no null;
//   - contained resources (dom-2, dom-3, dom-4, dom-5) and local references ("#id" must name
//     a contained resource of the container: ref-1);
//   - Reference.reference: its format, and for Type/id references the type against the
//     element's targetProfile;
//   - required (errors), extensible and preferred (warnings) bindings on code, Coding and
//     CodeableConcept against the bundled value sets as the terminology engine enumerates them
//     (fhir/terminology.h bundled_code_set: expanded once per value set, then hash lookups);
//   - a few invariants checked natively: ext-1, inv-1 (Parameters), the Bundle rules bdl-1,
//     2, 3, 4, 5, 7, 8, 9, 10, 11, 12; every Bundle entry and Parameters resource is validated;
//   - every other invariant of the type model with the FHIRPath engine (fhir/invariants.h), at
//     each instance of its type or element (code "invariant", the definition's severity).
//   - required bindings whose value set the bundled content cannot enumerate against a STORED
//     ValueSet of that URL, through the hook set_stored_binding_lookup (the interaction layer
//     installs it: service/terminology.h; issue 21);
// Not checked: profiles (meta.profile), dom-6 (best practice), value sets neither enumerable
// from the bundled content nor stored.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fhir/outcome.h"
#include "util/json.h"

namespace ef::fhir {

struct ValidateOptions {
  std::string expected_type;  // "" = any known type
  std::string expected_id;    // mode update: the id the resource must carry
  bool require_id = false;
  size_t max_issues = 500;    // stop collecting after this many
};

// Issues found (severity error or warning); empty = valid.  `resource` should come from a
// parse with preserve_numbers (numbers are checked on their exact text).
std::vector<Issue> validate_resource(const json::Value& resource, const ValidateOptions& opt = {});

// A concrete R4 resource type of the type model (also those the server never stores: Parameters).
bool is_validatable_type(const std::string& type);

// Is system|code ("" system: any) in the stored ValueSet `url`?  nullopt: no such stored value
// set (or it cannot be expanded): not checked.  Set once at start-up (before serving).
using StoredBindingLookup =
    std::function<std::optional<bool>(const std::string& url, const std::string& system, const std::string& code)>;
void set_stored_binding_lookup(StoredBindingLookup f);

// True when any issue has severity error or fatal.
bool has_errors(const std::vector<Issue>& issues);

// validation.on_write: strict refuses a resource with errors (Err::unprocessable, the message
// listing the first issues with their expressions); warn lets it through, logs the issues and
// appends them to *kept; off checks nothing.  The function Repository::set_check takes.
enum class OnWrite { strict, warn, off };
Status check_on_write(const json::Value& resource, OnWrite mode, std::vector<Issue>* kept);

}  // namespace ef::fhir
