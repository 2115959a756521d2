// fhir/invariants.h — the FHIRPath invariants (constraint[]) of the R4 type model, compiled once
// with the general engine (fhir/fhirpath_eval.h) and evaluated for the validator (fhir/validate.cpp).
//
// Owns: the table of compiled invariants (built on first use, thread-safe, one entry per
// invariant of model::TypeModel::invariants()), the list of invariants the validator checks
// natively instead (ele-1, ext-1, ref-1, dom-2..5, inv-1, bdl-*) or leaves out (dom-6, a
// best-practice rule: "a resource should have narrative"), and the bookkeeping of invariants
// that do not compile or fail at run time: those never refuse anything (an engine limit is not
// the resource's fault); each is logged once (validation.invariant) and counted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fhir/type_model.h"
#include "util/json.h"

namespace ef::fhir::invariants {

// Outcome of one invariant on one element.
enum class Outcome { pass, fail, skipped };

// Evaluates `inv` with `v` (of type `t`) as its context, %resource = resource and
// %rootResource = root.  skipped: checked natively, not compiled, or a run-time error.
Outcome check(const model::Invariant& inv, const json::Value& v, const model::TypeDef* t,
              const json::Value* resource, const json::Value* root);

// True when the validator handles this invariant itself (or deliberately not at all).
bool native(const model::Invariant& inv);

struct Stats {
  size_t total = 0, native = 0, compiled = 0;
  std::vector<std::string> not_compiled;  // "key: why"
  uint64_t runtime_errors = 0;
};
Stats stats();

}  // namespace ef::fhir::invariants
