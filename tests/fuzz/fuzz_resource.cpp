// tests/fuzz/fuzz_resource.cpp — the FHIR resource ingest path without storage:
// fhir::parse_resource, check_json_rules, check_type_and_id, stamp, search indexing
// (FHIRPath over hostile content), and JSON Patch application.
// Input: RESOURCE [NUL PATCH].
// Invariants: no crash/UB/exception; a stamped resource writes to text that parse_resource
// accepts again with the stamped id/versionId; a patched document always writes to JSON
// that parses again.
#include "fhir/indexer.h"
#include "fhir/json_patch.h"
#include "fhir/resource.h"
#include "fhir/resource_types.h"
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = fuzz::split(std::string_view(reinterpret_cast<const char*>(data), size), 2);
  fhir::ParseLimits lim;
  lim.max_depth = 64;
  auto r = fhir::parse_resource(parts[0], lim);
  if (!r) return 0;
  const std::string type = fhir::resource_type_of(*r);
  FUZZ_CHECK(fhir::is_resource_type(type), "parse_resource accepted unknown type " + type);
  Status rules = fhir::check_json_rules(*r);
  (void)fhir::check_type_and_id(*r, type, "", false);
  (void)fhir::check_type_and_id(*r, type, "some-id", true);
  (void)fhir::check_type_and_id(*r, "Patient", "", false);
  if (const std::string* id = json::get_string(*r, "id"))
    if (fhir::valid_id(*id)) FUZZ_CHECK(fhir::check_type_and_id(*r, type, *id, true).ok(), "own id refused");

  fhir::IndexRows rows;
  fhir::extract_index(*r, &rows);

  json::Value stamped = *r;
  fhir::stamp(stamped, "fuzz-1", 7, 1795860000123);
  std::string text = json::write(stamped);
  auto again = fhir::parse_resource(text, fhir::ParseLimits{66});
  FUZZ_CHECK(again.ok(), "stamped resource does not parse: " + (again.ok() ? "" : again.status().message));
  FUZZ_CHECK(json::string_or(*again, "id") == "fuzz-1", "stamped id lost");
  const json::Value* meta = json::get(*again, "meta");
  FUZZ_CHECK(meta && json::string_or(*meta, "versionId") == "7", "stamped versionId lost");
  if (rules.ok()) FUZZ_CHECK(fhir::check_json_rules(*again).ok(), "stamping broke the FHIR JSON rules");

  if (parts.size() > 1) {
    json::ParseOptions po;
    po.preserve_numbers = true;
    po.max_depth = 64;
    auto patch = json::parse(parts[1], po);
    if (patch) {
      json::Value doc = *r;
      Status st = fhir::apply_json_patch(doc, *patch);
      if (st.ok()) {
        std::string out = json::write(doc);
        json::ParseOptions deep = po;
        deep.max_depth = 100000;
        FUZZ_CHECK(json::parse(out, deep).ok(), "patched document does not re-parse");
        auto pr = fhir::parse_resource(out, lim);
        if (pr) {
          fhir::IndexRows rows2;
          fhir::extract_index(*pr, &rows2);
        }
      } else {
        FUZZ_CHECK(!st.message.empty(), "patch error without message");
      }
    }
  }
  return 0;
}
