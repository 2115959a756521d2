// tests/fuzz/fuzz_validate.cpp — fhir/validate: the validator, with the R4 invariants evaluated
// by the general FHIRPath engine (fhir/fhirpath_eval.h, fhir/invariants.h), on arbitrary JSON
// resources.  This is what every write runs under validation.on_write (a client controls the
// resource; the invariant expressions come from the definitions).
// Invariants: no crash/UB/exception; every issue has a severity and a code; the issue budget
// holds; validating twice gives the same issues (no state leaks between validations: compiled
// invariants, regex caches, step budgets).
#include <string>

#include "fhir/validate.h"
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;

namespace {
std::string summary(const std::vector<fhir::Issue>& issues) {
  std::string s;
  for (const auto& i : issues) s += i.severity + "|" + i.code + "|" + i.expression + "|" + i.diagnostics + "\n";
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = 64;
  auto v = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), po);
  if (!v) return 0;
  fhir::ValidateOptions o;
  o.max_issues = 50;
  std::vector<fhir::Issue> first = fhir::validate_resource(*v, o);
  FUZZ_CHECK(first.size() <= o.max_issues + 1, "issue budget exceeded: " + std::to_string(first.size()));
  for (const auto& i : first) {
    FUZZ_CHECK(!i.severity.empty() && !i.code.empty(), "issue without severity or code: " + i.diagnostics);
  }
  std::vector<fhir::Issue> again = fhir::validate_resource(*v, o);
  FUZZ_CHECK(summary(first) == summary(again), "validation is not repeatable:\n" + summary(first) + "---\n" + summary(again));
  return 0;
}
