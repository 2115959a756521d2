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
// `budget` (optional): steps left for all the invariants of one resource, shared and
// decremented (kResourceSteps to start); at 0 every further check is skipped.
Outcome check(const model::Invariant& inv, const json::Value& v, const model::TypeDef* t,
              const json::Value* resource, const json::Value* root, uint64_t* budget = nullptr);

// FHIRPath steps the invariants may take: kResourceSteps for one resource (its contained
// resources included; a Bundle entry is a resource of its own), kWalkSteps for everything one
// validation evaluates (a Bundle and all its entries).  At ~130 ns a step that is ~0.13 s and
// ~1 s of CPU.  For scale: a Synthea resource takes a few hundred steps, a StructureDefinition
// of the R4 core up to a few hundred thousand, a 1 MB Questionnaire of 20,000 items ~3.5 million.
constexpr uint64_t kResourceSteps = 1'000'000;
constexpr uint64_t kWalkSteps = 8'000'000;

// True when the validator handles this invariant itself (or deliberately not at all).
bool native(const model::Invariant& inv);

struct Stats {
  size_t total = 0, native = 0, compiled = 0;
  std::vector<std::string> not_compiled;  // "key: why"
  uint64_t runtime_errors = 0;
};
Stats stats();

}  // namespace ef::fhir::invariants
