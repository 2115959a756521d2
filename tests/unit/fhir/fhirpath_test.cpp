// Tests for fhir/fhirpath: each supported construct on small hand-written resources.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fhir/fhirpath.h"

using namespace ef;
using namespace ef::fhir;

namespace {

json::Value res(const char* text) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto r = json::parse(text, o);
  REQUIRE(r.ok());
  return *r;
}

PathNodes eval(const char* expr, const json::Value& v) {
  auto p = FhirPath::compile(expr);
  INFO(expr << ": " << p.status().message);
  REQUIRE(p.ok());
  static std::vector<FhirPath> keep;  // results may point at literals inside the compiled path
  keep.push_back(*p);
  PathNodes out;
  keep.back().evaluate(v, &out);
  return out;
}

// Results written back as compact JSON, for easy comparison.
std::vector<std::string> texts(const PathNodes& nodes) {
  std::vector<std::string> out;
  for (const PathNode& n : nodes) out.push_back(json::write(*n.value));
  return out;
}

using Strs = std::vector<std::string>;

const char* kPatient = R"({
  "resourceType": "Patient", "id": "p1", "active": true,
  "name": [{"family": "Ordóñez", "given": ["Bernardo", "José"], "use": "official"},
           {"family": "Smith", "given": ["Bob"], "use": "nickname"}],
  "telecom": [{"system": "phone", "value": "555-1"}, {"system": "email", "value": "a@b.c"}],
  "deceasedBoolean": false,
  "extension": [{"url": "http://x/ext", "valueString": "hello"}, {"url": "http://x/other", "valueInteger": 3}],
  "contained": [{"resourceType": "Practitioner", "id": "pr1"}],
  "generalPractitioner": [{"reference": "Practitioner/9"}, {"reference": "#pr1"},
                          {"reference": "http://example.org/fhir/Organization/o1/_history/2"},
                          {"reference": "urn:uuid:1234"}, {"type": "Patient", "identifier": {"value": "x"}}]
})";

}  // namespace

TEST_CASE("fhirpath: paths flatten arrays and a leading type name selects the resource", "[fhir]") {
  json::Value p = res(kPatient);
  CHECK(texts(eval("Patient.name.given", p)) == Strs{"\"Bernardo\"", "\"José\"", "\"Bob\""});
  CHECK(texts(eval("name.family", p)) == Strs{"\"Ordóñez\"", "\"Smith\""});
  CHECK(texts(eval("Resource.id", p)) == Strs{"\"p1\""});
  CHECK(texts(eval("DomainResource.id", p)) == Strs{"\"p1\""});
  CHECK(eval("Observation.id", p).empty());  // another type: nothing
  CHECK(eval("Patient.nothing.here", p).empty());
  auto self = eval("Patient", p);
  REQUIRE(self.size() == 1);
  CHECK(self[0].value == &p);
  CHECK(self[0].type == "Patient");
}

TEST_CASE("fhirpath: choice elements match their typed members and carry the type", "[fhir]") {
  json::Value o = res(R"({"resourceType":"Observation","status":"final","statusReason":{"text":"x"},
      "valueQuantity":{"value":1.50,"unit":"mg"},"effectivePeriod":{"start":"2020"},
      "component":[{"valueString":"s"},{"valueCodeableConcept":{"text":"c"}},{"valueDateTime":"2021-01-01"}]})");
  auto v = eval("Observation.value", o);
  REQUIRE(v.size() == 1);
  CHECK(v[0].type == "Quantity");
  CHECK(json::write(*v[0].value) == R"({"unit":"mg","value":1.50})");
  CHECK(eval("(Observation.value as Quantity)", o).size() == 1);
  CHECK(eval("(Observation.value as CodeableConcept)", o).empty());
  CHECK(eval("Observation.value.as(Quantity)", o).size() == 1);
  CHECK(eval("Observation.effective", o)[0].type == "Period");
  auto comps = eval("Observation.component.value", o);
  REQUIRE(comps.size() == 3);
  CHECK(comps[0].type == "string");
  CHECK(comps[1].type == "CodeableConcept");
  CHECK(comps[2].type == "dateTime");
  CHECK(texts(eval("Observation.component.value.as(DateTime)", o)) == Strs{"\"2021-01-01\""});
  CHECK(texts(eval("(Observation.component.value as string)", o)) == Strs{"\"s\""});
  CHECK(texts(eval("(Observation.component.value as CodeableConcept).text", o)) == Strs{"\"c\""});
  CHECK(texts(eval("Observation.component.value.ofType(CodeableConcept).text", o)) == Strs{"\"c\""});
  // an existing element is not mistaken for a choice: status stays status, and a missing
  // element never matches a longer non-choice name (statusReason's suffix is not a type)
  CHECK(texts(eval("Observation.status", o)) == Strs{"\"final\""});
  json::Value no_status = res(R"({"resourceType":"Observation","statusReason":{"text":"x"}})");
  CHECK(eval("Observation.status", no_status).empty());
}

TEST_CASE("fhirpath: union removes duplicates; indexer and first()", "[fhir]") {
  json::Value p = res(kPatient);
  CHECK(texts(eval("Patient.name.family | Patient.name.given.first()", p)) ==
        Strs{"\"Ordóñez\"", "\"Smith\"", "\"Bernardo\""});
  CHECK(eval("Patient.name.family | Patient.name.family", p).size() == 2);
  CHECK(texts(eval("Patient.name[1].family", p)) == Strs{"\"Smith\""});
  CHECK(eval("Patient.name[5]", p).empty());
  CHECK(texts(eval("Patient.name.given.last()", p)) == Strs{"\"Bob\""});
  CHECK(texts(eval("Patient.name.given.tail()", p)) == Strs{"\"José\"", "\"Bob\""});
}

TEST_CASE("fhirpath: where with = != and or, exists, not, hasValue", "[fhir]") {
  json::Value p = res(kPatient);
  CHECK(texts(eval("Patient.telecom.where(system='email').value", p)) == Strs{"\"a@b.c\""});
  CHECK(texts(eval("Patient.telecom.where(system!='email').value", p)) == Strs{"\"555-1\""});
  CHECK(eval("Patient.telecom.where(system='email' and value='555-1')", p).empty());
  CHECK(eval("Patient.telecom.where(system='email' or value='555-1')", p).size() == 2);
  CHECK(texts(eval("Patient.name.where(use='nickname').given", p)) == Strs{"\"Bob\""});
  CHECK(texts(eval("Patient.name.exists()", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.photo.exists()", p)) == Strs{"false"});
  CHECK(texts(eval("Patient.photo.empty()", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.name.exists(use='official')", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.active.not()", p)) == Strs{"false"});
  CHECK(texts(eval("Patient.active.hasValue()", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.name.first().hasValue()", p)) == Strs{"false"});
  CHECK(texts(eval("Patient.name.where($this.use = 'official').family", p)) == Strs{"\"Ordóñez\""});
  CHECK(texts(eval("'a\\'b\\u00e9\\\\'", p)) == Strs{"\"a'bé\\\\\""});  // string literal escapes
}

TEST_CASE("fhirpath: the R4 Patient-deceased expression", "[fhir]") {
  const char* e = "Patient.deceased.exists() and Patient.deceased != false";
  CHECK(texts(eval(e, res(R"({"resourceType":"Patient","deceasedBoolean":true})"))) == Strs{"true"});
  CHECK(texts(eval(e, res(R"({"resourceType":"Patient","deceasedBoolean":false})"))) == Strs{"false"});
  CHECK(texts(eval(e, res(R"({"resourceType":"Patient","deceasedDateTime":"2020-01-01"})"))) == Strs{"true"});
  CHECK(texts(eval(e, res(R"({"resourceType":"Patient"})"))) == Strs{"false"});
}

TEST_CASE("fhirpath: resolve() is X reads the type from the reference", "[fhir]") {
  json::Value p = res(kPatient);
  CHECK(eval("Patient.generalPractitioner.where(resolve() is Practitioner)", p).size() == 2);  // Practitioner/9, #pr1
  auto org = eval("Patient.generalPractitioner.where(resolve() is Organization)", p);
  REQUIRE(org.size() == 1);
  CHECK(json::write(*org[0].value) == R"({"reference":"http://example.org/fhir/Organization/o1/_history/2"})");
  auto typed = eval("Patient.generalPractitioner.where(resolve() is Patient)", p);  // via Reference.type
  REQUIRE(typed.size() == 1);
  CHECK(json::get(*typed[0].value, "identifier") != nullptr);
  // urn:uuid cannot be resolved without the bundle: resolve() drops it
  CHECK(eval("Patient.generalPractitioner.resolve()", p).size() == 4);
  CHECK(eval("Patient.generalPractitioner.resolve() is Practitioner", p).empty());  // not a singleton
}

TEST_CASE("fhirpath: extension('url'), %resource, is, booleans and comparisons", "[fhir]") {
  json::Value p = res(kPatient);
  CHECK(texts(eval("Patient.extension('http://x/ext').value", p)) == Strs{"\"hello\""});
  auto ext = eval("extension('http://x/other').value", p);
  REQUIRE(ext.size() == 1);
  CHECK(ext[0].type == "integer");
  CHECK(eval("Patient.extension('http://x/none')", p).empty());
  CHECK(texts(eval("%resource.id", p)) == Strs{"\"p1\""});
  CHECK(texts(eval("Patient.name.where(%resource.id = 'p1').family.first()", p)) == Strs{"\"Ordóñez\""});
  CHECK(texts(eval("Patient.active is boolean", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.deceased is boolean", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.deceased.is(dateTime)", p)) == Strs{"false"});
  CHECK(texts(eval("Patient.extension('http://x/other').value > 2", p)) == Strs{"true"});
  CHECK(texts(eval("Patient.extension('http://x/other').value <= 2", p)) == Strs{"false"});
  CHECK(texts(eval("Patient.active = true", p)) == Strs{"true"});
  CHECK(texts(eval("true xor false", p)) == Strs{"true"});
  CHECK(texts(eval("false implies Patient.nothing", p)) == Strs{"true"});
  CHECK(eval("{}", p).empty());
}

TEST_CASE("fhirpath: composite components evaluate relative to a focus", "[fhir]") {
  json::Value o = res(R"({"resourceType":"Observation","component":[
      {"code":{"text":"a"},"valueQuantity":{"value":1}},{"code":{"text":"b"},"valueQuantity":{"value":2}}]})");
  auto comps = eval("Observation.component", o);
  REQUIRE(comps.size() == 2);
  auto code = FhirPath::compile("code.text");
  REQUIRE(code.ok());
  PathNodes out;
  code->evaluate(o, comps[1], &out);
  CHECK(texts(out) == Strs{"\"b\""});
  out.clear();
  auto chrom = FhirPath::compile("%resource.resourceType");
  REQUIRE(chrom.ok());
  chrom->evaluate(o, comps[0], &out);
  CHECK(texts(out) == Strs{"\"Observation\""});
}

TEST_CASE("fhirpath: compile rejects what the subset does not cover, with a position", "[fhir]") {
  struct Case {
    const char* expr;
    Err code;
  } cases[] = {
      {"Patient.name.substring(1)", Err::not_supported},
      {"Patient.name.family + 'x'", Err::not_supported},
      {"Patient.name ~ 'x'", Err::not_supported},
      {"%ucum", Err::not_supported},
      {"Patient.", Err::invalid},
      {"Patient.name.where(", Err::invalid},
      {"'unterminated", Err::invalid},
      {"Patient.name)", Err::invalid},
      {"Patient.name.where()", Err::invalid},
      {"Patient ! name", Err::invalid},
  };
  for (const Case& c : cases) {
    auto r = FhirPath::compile(c.expr);
    INFO(c.expr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code == c.code);
    CHECK(r.status().message.find("offset") != std::string::npos);
  }
}

TEST_CASE("fhirpath: type helpers", "[fhir]") {
  CHECK(choice_suffix_type("Quantity") == "Quantity");
  CHECK(choice_suffix_type("DateTime") == "dateTime");
  CHECK(choice_suffix_type("Base64Binary") == "base64Binary");
  CHECK(choice_suffix_type("Reason").empty());
  CHECK(choice_suffix_type("quantity").empty());
  CHECK(canonical_type_name("System.String") == "string");
  CHECK(canonical_type_name("FHIR.Period") == "Period");
  CHECK(type_is("Age", "Quantity"));
  CHECK(type_is("code", "string"));
  CHECK(type_is("Patient", "Resource"));
  CHECK_FALSE(type_is("Quantity", "Age"));
  CHECK_FALSE(type_is("Period", "Resource"));
  CHECK(shape_type(res(R"({"coding":[{"code":"a"}]})")) == "CodeableConcept");
  CHECK(shape_type(res(R"({"value":1.5,"unit":"mg"})")) == "Quantity");
  CHECK(shape_type(res(R"({"value":1.5,"currency":"EUR"})")) == "Money");
  CHECK(shape_type(res(R"({"system":"phone","value":"555"})")) == "ContactPoint");
  CHECK(shape_type(res(R"({"system":"urn:oid:1.2","value":"555"})")) == "Identifier");
  CHECK(shape_type(res(R"({"start":"2020"})")) == "Period");
  CHECK(shape_type(res(R"({"family":"X"})")) == "HumanName");
  CHECK(shape_type(res(R"({"city":"X"})")) == "Address");
  CHECK(shape_type(res(R"({"reference":"Patient/1"})")) == "Reference");
  CHECK(shape_type(res(R"({"system":"s","code":"c"})")) == "Coding");
}
