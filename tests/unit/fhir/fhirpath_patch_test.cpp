// FHIRPath Patch applier and the $meta-add/$meta-delete merge (fhir/fhirpath_patch.h).  The 33
// official cases run end to end in tests/e2e/test_fhirpath_patch.py; these check the edges.
#include <catch2/catch.hpp>

#include "fhir/fhirpath.h"
#include "fhir/fhirpath_patch.h"
#include "../testing.h"
#include "util/json.h"

using namespace ef;

namespace {

json::Value J(const std::string& text) { return testing::fhir_json(text); }

// One operation; parts given as raw JSON members after type and path.
std::string op(const std::string& type, const std::string& path, const std::string& extra = "") {
  return R"({"name":"operation","part":[{"name":"type","valueCode":")" + type + R"("},{"name":"path","valueString":")" +
         path + "\"}" + (extra.empty() ? "" : "," + extra) + "]}";
}
std::string params(const std::vector<std::string>& ops) {
  std::string s = R"({"resourceType":"Parameters","parameter":[)";
  for (size_t i = 0; i < ops.size(); ++i) s += (i ? "," : "") + ops[i];
  return s + "]}";
}

Status run_patch(json::Value& doc, const std::vector<std::string>& ops) {
  return fhir::apply_fhirpath_patch(doc, J(params(ops)));
}

}  // namespace

TEST_CASE("FHIRPath Patch: add uses the type model for arrays and choice members", "[fhir][fhirpath-patch]") {
  json::Value d = J(R"({"resourceType":"Patient"})");
  REQUIRE(run_patch(d, {op("add", "Patient", R"({"name":"name","valueString":"identifier"},{"name":"value","valueIdentifier":{"value":"1"}})"),
                    op("add", "Patient", R"({"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":true})"),
                    op("add", "Patient", R"({"name":"name","valueString":"contact"},{"name":"value","part":[{"name":"name","valueHumanName":{"text":"n"}},{"name":"telecom","valueContactPoint":{"value":"1"}}]})")})
              .ok());
  CHECK(json::write(d) ==
        R"({"resourceType":"Patient","contact":[{"name":{"text":"n"},"telecom":[{"value":"1"}]}],"deceasedBoolean":true,"identifier":[{"value":"1"}]})");
  // a single-valued element that has a value: add refuses (replace is the operation for that)
  Status st = run_patch(d, {op("add", "Patient", R"({"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":false})")});
  CHECK(st.code == Err::unprocessable);
  CHECK(st.message.find("Parameters.parameter[0]") != std::string::npos);
  // unknown element, choice without a type, type not allowed for the choice
  CHECK(run_patch(d, {op("add", "Patient", R"({"name":"name","valueString":"colour"},{"name":"value","valueString":"x"})")})
            .message.find("'colour' is not an element of Patient") != std::string::npos);
  CHECK(run_patch(d, {op("add", "Patient", R"({"name":"name","valueString":"multipleBirth"},{"name":"value","part":[{"name":"x","valueString":"y"}]})")})
            .message.find("choice element") != std::string::npos);
  CHECK(run_patch(d, {op("add", "Patient", R"({"name":"name","valueString":"multipleBirth"},{"name":"value","valueString":"y"})")})
            .message.find("'String' is not a type") != std::string::npos);
}

TEST_CASE("FHIRPath Patch: delete prunes emptied parents and keeps _element aligned", "[fhir][fhirpath-patch]") {
  json::Value d = J(R"({"resourceType":"Patient","name":[{"given":["a","b","c"],"_given":[null,{"id":"x"},null]}],
                       "contact":[{"name":{"text":"t"}}]})");
  REQUIRE(run_patch(d, {op("delete", "Patient.name[0].given[0]"), op("delete", "Patient.contact[0].name.text")}).ok());
  CHECK(json::write(d) == R"({"resourceType":"Patient","name":[{"_given":[{"id":"x"},null],"given":["b","c"]}]})");
  REQUIRE(run_patch(d, {op("delete", "Patient.name.given[0]")}).ok());  // the only _given entry goes with it
  CHECK(json::write(d) == R"({"resourceType":"Patient","name":[{"given":["c"]}]})");
  // nothing selected: nothing to do; several: refused; the resource itself: refused
  CHECK(run_patch(d, {op("delete", "Patient.birthDate")}).ok());
  CHECK(run_patch(d, {op("delete", "Patient")}).code == Err::unprocessable);
  json::Value two = J(R"({"resourceType":"Patient","name":[{"family":"a"},{"family":"b"}]})");
  CHECK(run_patch(two, {op("delete", "Patient.name.family")}).message.find("selects 2 elements") != std::string::npos);
}

TEST_CASE("FHIRPath Patch: insert, move, replace on lists and choices", "[fhir][fhirpath-patch]") {
  json::Value d = J(R"({"resourceType":"Observation","status":"final","code":{"text":"c"},"valueString":"s",
                       "category":[{"text":"1"},{"text":"2"}]})");
  REQUIRE(run_patch(d, {op("insert", "Observation.category", R"({"name":"index","valueInteger":2},{"name":"value","valueCodeableConcept":{"text":"3"}})"),
                    op("move", "Observation.category", R"({"name":"source","valueInteger":2},{"name":"destination","valueInteger":0})"),
                    op("replace", "Observation.value", R"({"name":"value","valueQuantity":{"value":1.50}})"),
                    op("insert", "Observation.note", R"({"name":"index","valueInteger":0},{"name":"value","valueAnnotation":{"text":"n"}})")})
            .ok());
  CHECK(json::write(d) ==
        R"({"resourceType":"Observation","category":[{"text":"3"},{"text":"1"},{"text":"2"}],"code":{"text":"c"},"note":[{"text":"n"}],"status":"final","valueQuantity":{"value":1.50}})");
  CHECK(run_patch(d, {op("insert", "Observation.category", R"({"name":"index","valueInteger":4},{"name":"value","valueCodeableConcept":{"text":"x"}})")})
            .message.find("index must be 0..3") != std::string::npos);
  CHECK(run_patch(d, {op("move", "Observation.category", R"({"name":"source","valueInteger":3},{"name":"destination","valueInteger":0})")})
            .code == Err::unprocessable);
  CHECK(run_patch(d, {op("insert", "Observation.code", R"({"name":"index","valueInteger":0},{"name":"value","valueCodeableConcept":{"text":"x"}})")})
            .message.find("one list") != std::string::npos);
  // replace needs something to replace; where() picks the element
  CHECK(run_patch(d, {op("replace", "Observation.issued", R"({"name":"value","valueInstant":"2020-01-01T00:00:00Z"})")})
            .message.find("No content found at Observation.issued") != std::string::npos);
  REQUIRE(run_patch(d, {op("replace", "Observation.category.where(text = '1').text", R"({"name":"value","valueString":"one"})")}).ok());
  CHECK(json::write(*json::get(d, "category")) == R"([{"text":"3"},{"text":"one"},{"text":"2"}])");
}

TEST_CASE("FHIRPath Patch: malformed Parameters are refused before anything is applied", "[fhir][fhirpath-patch]") {
  auto bad = [](const std::string& p) { return fhir::FhirPathPatch::parse(J(p)).status(); };
  CHECK(bad(R"({"resourceType":"Patient"})").code == Err::invalid);
  CHECK(bad(params({R"({"name":"op","part":[]})"})).message.find("'operation'") != std::string::npos);
  CHECK(bad(params({op("jump", "Patient")})).message.find("'jump'") != std::string::npos);
  CHECK(bad(params({op("add", "Patient")})).message.find("add needs name and value") != std::string::npos);
  CHECK(bad(params({op("insert", "Patient.name", R"({"name":"index","valueInteger":-1},{"name":"value","valueString":"x"})")}))
            .message.find("integer") != std::string::npos);
  CHECK(bad(params({op("delete", "Patient.name(")})).code == Err::invalid);
  CHECK(bad(params({op("delete", "Patient", R"({"name":"path","valueString":"Patient"})")})).message.find("twice") !=
        std::string::npos);
  CHECK(bad(params({op("delete", std::string(1001, 'a'))})).message.find("1000") != std::string::npos);
  std::vector<std::string> many(fhir::kMaxPatchOperations + 1, op("delete", "Patient.id"));
  CHECK(bad(params(many)).code == Err::too_large);
  CHECK(fhir::FhirPathPatch::parse(J(R"({"resourceType":"Parameters"})"))->size() == 0);
  // a path result that is not an element of the resource (a literal)
  json::Value d = J(R"({"resourceType":"Patient"})");
  CHECK(run_patch(d, {op("replace", "'x'", R"({"name":"value","valueString":"y"})")}).message.find("not elements") !=
        std::string::npos);
}

TEST_CASE("FHIRPath Patch leaves the search-parameter engine as it was", "[fhir][fhirpath-patch]") {
  // the patch compiles paths with the same engine: a search expression still evaluates the same
  auto fp = fhir::FhirPath::compile("Patient.name.where(use = 'official').family");
  REQUIRE(fp.ok());
  json::Value d = J(R"({"resourceType":"Patient","name":[{"use":"usual","family":"a"},{"use":"official","family":"b"}]})");
  fhir::PathNodes out;
  fp->evaluate(d, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].value->get<std::string>() == "b");
}

TEST_CASE("$meta-add / $meta-delete merge sets by system+code and URL", "[fhir][meta]") {
  json::Value r = J(R"({"resourceType":"Patient","meta":{"versionId":"3","tag":[{"system":"s","code":"a","display":"A"}]}})");
  REQUIRE(fhir::apply_meta_change(r, J(R"({"tag":[{"system":"s","code":"a"},{"system":"s","code":"b"}],"profile":["p"],"security":[{"code":"R"}]})"), true).ok());
  CHECK(json::write(*json::get(r, "meta")) ==
        R"({"profile":["p"],"security":[{"code":"R"}],"tag":[{"code":"a","display":"A","system":"s"},{"code":"b","system":"s"}],"versionId":"3"})");
  REQUIRE(fhir::apply_meta_change(r, J(R"({"tag":[{"system":"s","code":"a"},{"system":"other","code":"b"}],"profile":["p"],"security":[{"code":"R"}]})"), false).ok());
  CHECK(json::write(*json::get(r, "meta")) == R"({"tag":[{"code":"b","system":"s"}],"versionId":"3"})");
  CHECK(fhir::apply_meta_change(r, J(R"({"versionId":"9"})"), true).code == Err::invalid);
  CHECK(fhir::apply_meta_change(r, J(R"({"tag":[{"system":"s"}]})"), true).code == Err::invalid);
  CHECK(fhir::apply_meta_change(r, J(R"({"profile":[1]})"), false).code == Err::invalid);
  json::Value bare = J(R"({"resourceType":"Patient"})");
  REQUIRE(fhir::apply_meta_change(bare, J(R"({"tag":[{"code":"x"}]})"), false).ok());
  CHECK(json::write(bare) == R"({"resourceType":"Patient"})");
  CHECK(json::write(fhir::meta_of(r, false)) == R"({"tag":[{"code":"b","system":"s"}]})");
  CHECK(json::write(fhir::meta_of(r, true)) == R"({"tag":[{"code":"b","system":"s"}],"versionId":"3"})");
}

TEST_CASE("FHIRPath Patch: a path too costly for the resource is refused, not run", "[fhir][fhirpath-patch]") {
  std::string names;
  for (int i = 0; i < 300; ++i) names += std::string(i ? "," : "") + R"({"family":"f)" + std::to_string(i) + "\"}";
  json::Value d = J(R"({"resourceType":"Patient","name":[)" + names + "]}");
  // 300^4 steps without a budget
  std::string p = "Patient.name.where(%resource.name.where(%resource.name.where(%resource.name.exists()).exists())"
                  ".exists()).family";
  Status st = run_patch(d, {op("delete", p)});
  CHECK(st.code == Err::too_large);
  CHECK(st.message.find("units of work") != std::string::npos);
  // the same resource with a cheap path is fine
  CHECK(run_patch(d, {op("delete", "Patient.name[299]")}).ok());
  CHECK(json::get_array(d, "name")->size() == 299);
  // the budget is per patch: many cheap operations on a big resource run out too
  std::vector<std::string> ops(fhir::kMaxPatchOperations,
                               op("replace", "Patient.name.where(family = 'f0').family", R"({"name":"value","valueString":"f0"})"));
  json::Value big = J(R"({"resourceType":"Patient","name":[)" + [] {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += std::string(i ? "," : "") + R"({"family":"f)" + std::to_string(i) + "\"}";
    return s;
  }() + "]}");
  CHECK(run_patch(big, ops).code == Err::too_large);
}
