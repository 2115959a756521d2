// Tests for fhir/validate: the structural checks of $validate, one rule per section, each
// asserting the issue's expression so that a client can find the broken element.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fhir/core_extensions.h"
#include "fhir/validate.h"

using namespace ef;

namespace {

std::vector<fhir::Issue> check(const std::string& text, fhir::ValidateOptions opt = {}) {
  json::ParseOptions po;
  po.preserve_numbers = true;
  auto v = json::parse(text, po);
  REQUIRE(v);
  return fhir::validate_resource(*v, opt);
}

bool has(const std::vector<fhir::Issue>& issues, const std::string& expr) {
  return std::any_of(issues.begin(), issues.end(),
                     [&](const fhir::Issue& i) { return i.severity == "error" && i.expression == expr; });
}

std::string dump(const std::vector<fhir::Issue>& issues) {
  std::string s;
  for (const auto& i : issues) s += i.severity + " " + i.expression + ": " + i.diagnostics + "\n";
  return s;
}

}  // namespace

TEST_CASE("validate: a correct resource has no issues") {
  auto is = check(R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
    "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-02-29T10:00:00+01:00",
    "valueQuantity":{"value":1.50,"unit":"mg"},"meta":{"lastUpdated":"2024-01-01T00:00:00Z"}})");
  INFO(dump(is));
  CHECK(is.empty());
}

TEST_CASE("validate: resourceType, id and the expected type") {
  CHECK(has(check(R"({"id":"x"})"), "resourceType"));
  CHECK(has(check(R"({"resourceType":"NoSuchThing"})"), "resourceType"));
  fhir::ValidateOptions o;
  o.expected_type = "Patient";
  CHECK(has(check(R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", o), "resourceType"));
  auto bad_id = check(R"({"resourceType":"Patient","id":"has space"})");
  CHECK(has(bad_id, "Patient.id"));
  o.expected_id = "p1";
  o.require_id = true;
  CHECK(has(check(R"({"resourceType":"Patient","id":"p2"})", o), "Patient.id"));
  CHECK(has(check(R"({"resourceType":"Patient"})", o), "Patient.id"));
  CHECK(check(R"({"resourceType":"Patient","id":"p1"})", o).empty());
}

TEST_CASE("validate: primitive formats by element") {
  auto is = check(R"({"resourceType":"Patient","birthDate":"1990-13-45","active":"yes",
    "gender":" female","deceasedDateTime":"yesterday"})");
  INFO(dump(is));
  CHECK(has(is, "Patient.birthDate"));
  CHECK(has(is, "Patient.active"));
  CHECK(has(is, "Patient.gender"));
  CHECK(has(is, "Patient.deceased.ofType(dateTime)"));
  CHECK(check(R"({"resourceType":"Patient","birthDate":"1990","active":true,"gender":"female"})").empty());
}

TEST_CASE("validate: FHIR JSON rules (no null, empty string, empty array or object)") {
  auto is = check(R"({"resourceType":"Patient","name":[],"telecom":[{}],"language":"","photo":null})");
  INFO(dump(is));
  CHECK(is.size() >= 4);
  CHECK(std::all_of(is.begin(), is.end(), [](const fhir::Issue& i) { return i.severity == "error"; }));
}

TEST_CASE("validate: required elements and references") {
  auto is = check(R"({"resourceType":"Observation","subject":{"reference":"Nope/1"}})");
  INFO(dump(is));
  CHECK(has(is, "Observation.status"));
  CHECK(has(is, "Observation.code"));
  CHECK(std::any_of(is.begin(), is.end(), [](const fhir::Issue& i) {
    return i.severity == "error" && i.expression.find("subject") != std::string::npos;
  }));
  CHECK(check(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "subject":{"reference":"urn:uuid:8f7521f4-3f51-42c5-baa5-2fcebc83e4f5"}})").empty());
}

// ---- driven by the type model (issue 18) ----

namespace {
std::vector<fhir::Issue> param(const std::string& member_json) {
  return check(R"({"resourceType":"Parameters","parameter":[{"name":"p",)" + member_json + "}]}");
}
}  // namespace

TEST_CASE("validate: primitive JSON values accepted and rejected (Parameters.parameter.value[x])", "[validate]") {
  struct P {
    const char* member;
    const char* type;
    bool ok;
  };
  const P cases[] = {
      {R"("valueInteger":42)", "integer", true},
      {R"("valueInteger":-2147483648)", "integer", true},
      {R"("valueInteger":2147483648)", "integer", false},
      {R"("valueInteger":1.0)", "integer", false},
      {R"("valueInteger":"42")", "integer", false},
      {R"("valueInteger":1e2)", "integer", false},
      {R"("valueDecimal":2147483648)", "decimal", true},
      {R"("valueDecimal":1.50)", "decimal", true},
      {R"("valueDecimal":"1.5")", "decimal", false},
      {R"("valueBoolean":true)", "boolean", true},
      {R"("valueBoolean":"true")", "boolean", false},
      {R"("valueBoolean":1)", "boolean", false},
      {R"("valueString":"+42")", "string", true},
      {R"("valueString":42)", "string", false},
      {R"("valueString":"")", "string", false},
      {R"("valuePositiveInt":1)", "positiveInt", true},
      {R"("valuePositiveInt":0)", "positiveInt", false},
      {R"("valueUnsignedInt":0)", "unsignedInt", true},
      {R"("valueUnsignedInt":-1)", "unsignedInt", false},
      {R"("valueDate":"2015-02-07")", "date", true},
      {R"("valueDate":"2015-02-30")", "date", false},
      {R"("valueDate":"2015-02-07T13:28:17Z")", "date", false},
      {R"("valueDateTime":"2015-02-07T13:28:17+14:00")", "dateTime", true},
      {R"("valueDateTime":"2015-02-07T13:28:17")", "dateTime", false},
      {R"("valueDateTime":"2015")", "dateTime", true},
      {R"("valueInstant":"2015-02-07T13:28:17.239+02:00")", "instant", true},
      {R"("valueInstant":"2015-02-07")", "instant", false},
      {R"("valueTime":"13:28:17")", "time", true},
      {R"("valueTime":"25:00:00")", "time", false},
      {R"("valueCode":"a b")", "code", true},
      {R"("valueCode":" a")", "code", false},
      {R"("valueId":"a.b-C")", "id", true},
      {R"("valueId":"a_b")", "id", false},
      {R"("valueOid":"urn:oid:1.2.3.4")", "oid", true},
      {R"("valueOid":"1.2.3.4")", "oid", false},
      {R"("valueUuid":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520")", "uuid", true},
      {R"("valueUuid":"c757873d-ec9a-4326-a141-556f43239520")", "uuid", false},
      {R"("valueUri":"http://x/y")", "uri", true},
      {R"("valueUri":"http://x y")", "uri", false},
      {R"("valueBase64Binary":"aGVsbG8/")", "base64Binary", true},
      {R"("valueBase64Binary":"aGVsbG8")", "base64Binary", false},
      {R"("valueMarkdown":"# hi\n")", "markdown", true},
  };
  for (const P& c : cases) {
    auto is = param(c.member);
    INFO(c.member << "\n" << dump(is));
    std::string expr = std::string("Parameters.parameter[0].value.ofType(") + c.type + ")";
    if (c.ok) CHECK(is.empty());
    else CHECK(has(is, expr));
  }
}

TEST_CASE("validate: shapes with Patient expressions", "[validate]") {
  auto is = check(R"({"resourceType":"Patient","foo":1,"name":{"family":"x"},"gender":"f",
    "birthDate":["1970"],"telecom":[{"system":"phone","value":"1","rank":0}],
    "address":[{"line":["a",42]}],"contact":[{"name":[{"family":"y"}]}]})");
  INFO(dump(is));
  CHECK(has(is, "Patient.foo"));                      // unknown element
  CHECK(has(is, "Patient.name"));                     // not an array
  CHECK(has(is, "Patient.gender"));                   // required binding
  CHECK(has(is, "Patient.birthDate"));                // array for a single value
  CHECK(has(is, "Patient.telecom[0].rank"));          // positiveInt range
  CHECK(has(is, "Patient.address[0].line[1]"));       // JSON type in an array
  CHECK(has(is, "Patient.contact[0].name"));          // max 1 in a backbone element
  auto ok = check(R"({"resourceType":"Patient","name":[{"family":"x","given":["a","b"]}],"gender":"female"})");
  CHECK(ok.empty());
  CHECK(has(check(R"({"resourceType":"Patient","name":[{"given":["a",7]}]})"), "Patient.name[0].given[1]"));
  CHECK(has(check(R"({"resourceType":"Patient","name":[{"family":{"x":1}}]})"), "Patient.name[0].family"));
  CHECK(has(check(R"({"resourceType":"Patient","link":[{"type":"seealso"}]})"), "Patient.link[0].other"));
  // two types of one choice element
  CHECK(has(check(R"({"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"})"), "Patient.deceased"));
  CHECK(has(check(R"({"resourceType":"Patient","deceasedString":"x"})"), "Patient.deceasedString"));
}

TEST_CASE("validate: primitive extensions", "[validate]") {
  const std::string ext = R"({"extension":[{"url":"http://x","valueString":"y"}]})";
  CHECK(check(R"({"resourceType":"Patient","_birthDate":)" + ext + "}").empty());
  CHECK(check(R"({"resourceType":"Patient","birthDate":"1970","_birthDate":)" + ext + "}").empty());
  CHECK(check(R"({"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"a"}})").empty());
  CHECK(has(check(R"({"resourceType":"Patient","_birthDate":{"id":"a"}})"), "Patient.birthDate"));
  CHECK(has(check(R"({"resourceType":"Patient","_birthDate":{}})"), "Patient.birthDate"));
  CHECK(has(check(R"({"resourceType":"Patient","birthDate":"1970","_birthDate":{"foo":1}})"), "Patient.birthDate.foo"));
  CHECK(has(check(R"({"resourceType":"Patient","_name":{}})"), "Patient.name"));  // not a primitive
  // repeating primitives: null where the extension carries the element
  CHECK(check(R"({"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,)" + ext + "]}]}").empty());
  CHECK(has(check(R"({"resourceType":"Patient","name":[{"given":["a",null]}]})"), "Patient.name[0].given[1]"));
  // _given longer than given: only by nulls (they describe nothing; see the test further down)
  CHECK(check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[null,null]}]})").empty());
  CHECK(has(check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[null,)" + ext + "]}]}"),
            "Patient.name[0].given"));
  // an extension with both a value and extensions
  CHECK(has(check(R"({"resourceType":"Patient","extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}]})"),
            "Patient.extension[0]"));
  CHECK(has(check(R"({"resourceType":"Patient","extension":[{"valueString":"a"}]})"), "Patient.extension[0].url"));
}

TEST_CASE("validate: contained resources and references", "[validate]") {
  // (the contained Organization has a name: org-1 wants a name or an identifier)
  CHECK(check(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"O"}],
    "managingOrganization":{"reference":"#o"}})").empty());
  CHECK(has(check(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}]})"),
            "Patient.contained[0]"));  // dom-3
  CHECK(has(check(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}],
    "managingOrganization":{"reference":"#x"}})"), "Patient.managingOrganization.reference"));
  CHECK(has(check(R"({"resourceType":"Patient","managingOrganization":{"reference":"Patient/1"}})"),
            "Patient.managingOrganization.reference"));  // target type
  CHECK(check(R"({"resourceType":"Patient","managingOrganization":{"reference":"Organization/1"}})").empty());
  CHECK(has(check(R"({"resourceType":"Patient","contained":[{"resourceType":"Nope","id":"o"}],
    "managingOrganization":{"reference":"#o"}})"), "Patient.contained[0]"));
  CHECK(has(check(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","foo":1}],
    "managingOrganization":{"reference":"#o"}})"), "Patient.contained[0].foo"));
}

TEST_CASE("validate: Bundle rules and every entry", "[validate]") {
  auto is = check(R"({"resourceType":"Bundle","type":"transaction","total":1,"entry":[
    {"resource":{"resourceType":"Patient","birthDate":"1970-13-45"},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Patient"}}]})");
  INFO(dump(is));
  CHECK(has(is, "Bundle.total"));                                 // bdl-1
  CHECK(has(is, "Bundle.entry[0].resource.birthDate"));           // the entry's resource
  CHECK(has(is, "Bundle.entry[1].request"));                      // bdl-3
  CHECK(check(R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]})").empty());
  CHECK(has(check(R"({"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Patient"}}]})"),
            "Bundle.entry[0].resource"));                          // bdl-11
  CHECK(has(check(R"({"resourceType":"Bundle","type":"nope"})"), "Bundle.type"));  // required binding
}

TEST_CASE("validate: Parameters with resources and parts", "[validate]") {
  CHECK(check(R"({"resourceType":"Parameters","parameter":[{"name":"r","resource":{"resourceType":"Patient"}},
    {"name":"p","part":[{"name":"q","valueString":"x"}]}]})").empty());
  CHECK(has(check(R"({"resourceType":"Parameters","parameter":[{"name":"r","resource":{"resourceType":"Patient","x":1}}]})"),
            "Parameters.parameter[0].resource.x"));
  CHECK(has(check(R"({"resourceType":"Parameters","parameter":[{"name":"p","part":[{"name":"q","valueInteger":"x"}]}]})"),
            "Parameters.parameter[0].part[0].value.ofType(integer)"));
  CHECK(has(check(R"({"resourceType":"Parameters","parameter":[{"name":"p","valueString":"a","part":[{"name":"q"}]}]})"),
            "Parameters.parameter[0]"));  // inv-1
}

TEST_CASE("validate: repeating primitive extensions align by index; trailing nulls in _x carry nothing", "[validate]") {
  // _given longer than given only by nulls: accepted
  auto i = check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[{"id":"t"},null]}]})");
  CHECK(i.empty());
  i = check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[null,null]}]})");
  CHECK(i.empty());
  // an entry past the end of given that is not null describes no element: refused
  i = check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[null,{"id":"t"}]}]})");
  CHECK(has(i, "Patient.name[0].given"));
  // given longer than _given: still refused, as before
  i = check(R"({"resourceType":"Patient","name":[{"given":["a","b"],"_given":[{"id":"t"}]}]})");
  CHECK(has(i, "Patient.name[0].given"));
  // a null value needs an extension at its index, an id alone does not fill it
  i = check(R"({"resourceType":"Patient","name":[{"given":[null,"t"],"_given":[{"id":"t"},null]}]})");
  CHECK(has(i, "Patient.name[0].given[0]"));
}

TEST_CASE("validate: core extensions' value types", "[validate]") {
  REQUIRE(fhir::core_extension_table_sorted());
  CHECK(std::string(fhir::core_extension_value_type("http://hl7.org/fhir/StructureDefinition/patient-birthTime")) == "dateTime");
  CHECK(fhir::core_extension_value_type("http://example.org/patient-birthTime") == nullptr);
  CHECK(fhir::core_extension_value_type("http://hl7.org/fhir/StructureDefinition/no-such") == nullptr);
  auto i = check(R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[{"extension":[
      {"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueCode":"code"}]}]}]})");
  CHECK(has(i, "Patient.name[0].given[0].extension[0].value.ofType(code)"));
  i = check(R"({"resourceType":"Patient","name":[{"family":"x","_family":{"extension":[
      {"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueString":"van"}]}}]})");
  CHECK(i.empty());
  i = check(R"({"resourceType":"Patient","extension":[
      {"url":"http://hl7.org/fhir/StructureDefinition/patient-religion","valueString":"x"}]})");
  CHECK(has(i, "Patient.extension[0].value.ofType(string)"));
  i = check(R"({"resourceType":"Patient","extension":[
      {"url":"http://hl7.org/fhir/StructureDefinition/patient-religion","valueCodeableConcept":{"text":"x"}}]})");
  CHECK(i.empty());
}
