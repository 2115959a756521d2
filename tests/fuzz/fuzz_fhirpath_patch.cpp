// tests/fuzz/fuzz_fhirpath_patch.cpp — FHIRPath Patch and the $meta-add/$meta-delete merge
// (fhir/fhirpath_patch.h) on hostile resources and Parameters, as PATCH and $meta-add feed
// them (parsed with preserve_numbers, FHIR JSON rules checked).
// Input: RESOURCE NUL PARAMETERS.
// Invariants: no crash/UB/exception; the work budget holds (a patch returns); a patched or
// meta-changed document is still an object with the same resourceType and writes to JSON that
// parses again; applying the operations one by one gives what applying them all gives.
#include "fhir/fhirpath_patch.h"
#include "fhir/resource.h"
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = fuzz::split(std::string_view(reinterpret_cast<const char*>(data), size), 2);
  if (parts.size() < 2) return 0;  // no NUL: no Parameters
  fhir::ParseLimits lim;
  lim.max_depth = 64;
  auto r = fhir::parse_resource(parts[0], lim);
  if (!r) return 0;
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = 64;
  auto p = json::parse(parts[1], po);
  if (!p || !fhir::check_json_rules(*p).ok()) return 0;
  const std::string type = fhir::resource_type_of(*r);
  auto check = [&](const json::Value& d, const char* what) {
    FUZZ_CHECK(json::is_object(d) && fhir::resource_type_of(d) == type, std::string(what) + ": not the resource any more");
    auto again = json::parse(json::write(d), po);
    FUZZ_CHECK(again.ok(), std::string(what) + ": result does not parse");
  };
  auto fp = fhir::FhirPathPatch::parse(*p);
  if (fp) {
    json::Value all = *r;
    Status st = fp->apply(all);
    if (st) check(all, "patch");
    auto fp2 = fhir::FhirPathPatch::parse(*p);
    FUZZ_CHECK(fp2.ok(), "parse is not deterministic");
    json::Value step = *r;
    Status st2;
    for (size_t i = 0; i < fp2->size() && st2.ok(); ++i) st2 = fp2->apply(step, i);
    FUZZ_CHECK(st.ok() == st2.ok(), "one by one differs from all at once");
    if (st.ok()) FUZZ_CHECK(json::write(all) == json::write(step), "one by one gives another result");
  }
  if (const json::Array* ps = json::get_array(*p, "parameter"))
    if (!ps->empty())
      if (const json::Value* meta = json::get((*ps)[0], "valueMeta"))
        for (bool add : {true, false}) {
          json::Value d = *r;
          if (fhir::apply_meta_change(d, *meta, add).ok()) check(d, "meta");
        }
  return 0;
}
