// Focused tests of the general FHIRPath engine (fhir/fhirpath_eval.h): precedence, empty
// propagation and three-valued logic, typed navigation (choice elements, primitive extensions,
// decimals kept exactly), errors, and the budgets.  The HL7 suite is fhirpath_suite_test.cpp.
#include <catch2/catch.hpp>

#include "fhir/fhirpath_eval.h"
#include "util/json.h"

using namespace ef;
using namespace ef::fhir;

namespace {

json::Value res(const std::string& text) {
  json::ParseOptions o;
  o.preserve_numbers = true;
  auto r = json::parse(text, o);
  REQUIRE(r.ok());
  return *r;
}

const json::Value& obs() {
  static json::Value v = res(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
    "valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},
    "component":[{"code":{"text":"a"},"valueString":"s"},{"code":{"text":"b"},"valueInteger":7}]})");
  return v;
}
const json::Value& pat() {
  static json::Value v = res(R"({"resourceType":"Patient","birthDate":"1974-12-25",
    "_birthDate":{"extension":[{"url":"http://x/t","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
    "name":[{"given":["Peter","James"],"family":"Chalmers"},{"given":["Jim"]}],"active":true})");
  return v;
}

// The result as "type:text" items joined by ", "; errors as "ERROR: ...".
std::string run(const std::string& expr, const json::Value& r = pat()) {
  auto e = fp::Expression::compile(expr);
  if (!e.ok()) return "COMPILE: " + e.status().message;
  auto v = fp::evaluate(*e, r);
  if (!v.ok()) return "ERROR: " + v.status().message;
  std::string out;
  for (const auto& i : *v) out += (out.empty() ? "" : ", ") + fp::type_name(i) + ":" + fp::to_text(i);
  return out;
}

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST_CASE("fhirpath_eval: operator precedence", "[fhirpath_eval]") {
  CHECK(run("1 + 2 * 3") == "integer:7");
  CHECK(run("(1 + 2) * 3") == "integer:9");
  CHECK(run("10 - 4 - 3") == "integer:3");           // left associative
  CHECK(run("7 div 2 * 2") == "integer:6");
  CHECK(run("true or false and false") == "boolean:true");  // and binds tighter than or
  CHECK(run("false and true or true") == "boolean:true");
  CHECK(run("true implies false or true") == "boolean:true");  // implies is lowest
  CHECK(run("1 < 2 = true") == "boolean:true");       // comparison before equality
  CHECK(run("(1 | 2 | 1).count()") == "integer:2");   // | is a union
  CHECK(run("1 | 2 = 1 | 2") == "boolean:true");      // | binds tighter than =
  CHECK(run("2 + 3 is Integer") == "boolean:true");   // is after +
  CHECK(run("'a' & 'b' + 'c'") == "string:abc");
  CHECK(run("-2.abs()") == "integer:-2");             // unary minus after invocation
  CHECK(run("(-2).abs()") == "integer:2");
  CHECK(run("Patient.name.given[1]") == "string:James");
  CHECK(run("2 in (1 | 2) and (1 | 2) contains 1") == "boolean:true");
}

TEST_CASE("fhirpath_eval: empty propagation and three-valued logic", "[fhirpath_eval]") {
  CHECK(run("{} = 1") == "");
  CHECK(run("{} + 1") == "");
  CHECK(run("{}.not()") == "");
  CHECK(run("{} and false") == "boolean:false");
  CHECK(run("{} and true") == "");
  CHECK(run("{} or true") == "boolean:true");
  CHECK(run("{} or false") == "");
  CHECK(run("{} implies false") == "");
  CHECK(run("false implies {}") == "boolean:true");
  CHECK(run("true xor {}") == "");
  CHECK(run("{} ~ {}") == "boolean:true");
  CHECK(run("Patient.deceased.exists() or Patient.active") == "boolean:true");
  CHECK(run("'x' & {}") == "string:x");
  CHECK(run("@2012-04-15 = @2012-04-15T10:00") == "");  // precisions differ: unknown
  CHECK(run("@2012-04-15 < @2012-05") == "boolean:true");  // decided before the precisions differ
}

TEST_CASE("fhirpath_eval: typed navigation over the R4 model", "[fhirpath_eval]") {
  CHECK(run("Observation.value.is(Quantity)", obs()) == "boolean:true");
  CHECK(run("Observation.value.unit", obs()) == "string:mg");
  CHECK(run("Observation.value.value", obs()) == "decimal:1.50");  // the exact text is kept
  CHECK(run("Observation.value > 1 'mg'", obs()) == "boolean:true");
  CHECK(run("Observation.value = 1500 'ug'", obs()) == "boolean:true");
  CHECK(run("Observation.component.value.ofType(integer)", obs()) == "integer:7");
  CHECK(run("Observation.component.value.ofType(string)", obs()) == "string:s");
  CHECK(starts(run("Observation.valueQuantity", obs()), "ERROR"));  // the JSON name is not an element
  CHECK(run("Patient.birthDate") == "date:1974-12-25");
  CHECK(run("Patient.birthDate.extension('http://x/t').value") == "dateTime:1974-12-25T14:35:45-05:00");
  CHECK(run("Patient.birthDate.hasValue() and Patient.name.hasValue().not()") == "boolean:true");
  CHECK(run("Patient.name.where(given = 'Jim').exists()") == "boolean:true");
  CHECK(run("Patient.name.select(given.first())") == "string:Peter, string:Jim");
  CHECK(run("Patient.active.is(boolean) and Patient.is(DomainResource)") == "boolean:true");
  CHECK(run("descendants().count() > 5") == "boolean:true");
  CHECK(run("Patient.name.given.matches('^J')") .find("ERROR") == 0);  // several items: an error
  CHECK(run("Patient.name.first().given.first().matches('^P')") == "boolean:true");
  CHECK(run("%resource.birthDate = @1974-12-25") == "boolean:true");
  // a focus made from a TypeDef (as the validator does) keeps its type name alive
  auto e = fp::Expression::compile("Patient.active and Patient.is(Patient)");
  REQUIRE(e.ok());
  fp::Env env;
  env.resource = &pat();
  auto r = fp::evaluate(*e, fp::Coll{fp::node(pat(), model::model().type("Patient"))}, env);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(fp::to_text((*r)[0]) == "true");
}

TEST_CASE("fhirpath_eval: errors", "[fhirpath_eval]") {
  CHECK(starts(run("1 +"), "COMPILE"));
  CHECK(starts(run("'abc"), "COMPILE"));
  CHECK(starts(run("/* open"), "COMPILE"));
  CHECK(starts(run("Patient.name.nosuch()"), "COMPILE"));
  CHECK(starts(run("Patient.name.first(1)"), "COMPILE"));  // wrong argument count
  CHECK(starts(run("@2012-13-01"), "COMPILE"));
  CHECK(starts(run("(1 | 2) + 1"), "ERROR"));
  CHECK(starts(run("'a' + 1"), "ERROR"));
  CHECK(starts(run("Patient.name.given.single()"), "ERROR"));
  CHECK(starts(run("Patient.name.nosuch"), "ERROR"));       // not an element of HumanName
  CHECK(starts(run("%nosuch"), "ERROR"));
  CHECK(starts(run("1.is(NoSuchType)"), "ERROR"));
  CHECK(starts(run("'a'.matches('(')"), "ERROR"));          // bad regex
  CHECK(run("1 / 0") == "");                                 // division by zero is empty
  CHECK(run("2147483647 + 1") == "");                        // integer overflow is empty
}

TEST_CASE("fhirpath_eval: budgets fail with an error, never a crash", "[fhirpath_eval]") {
  // nesting depth
  std::string deep(5000, '(');
  deep += "1" + std::string(5000, ')');
  auto d = fp::Expression::compile(deep);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code == Err::too_large);
  // long chains are deep trees: bounded too
  std::string chain = "1";
  for (int i = 0; i < 1000; i++) chain += "+1";
  auto ch = fp::Expression::compile(chain);
  REQUIRE_FALSE(ch.ok());
  CHECK(ch.status().code == Err::too_large);
  std::string path = "Patient";
  for (int i = 0; i < 1000; i++) path += ".name";
  CHECK_FALSE(fp::Expression::compile(path).ok());
  CHECK(run("1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1") == "integer:20");
  // expression length
  std::string longe = "1";
  for (int i = 0; i < 5000; i++) longe += " + 1";
  CHECK_FALSE(fp::Expression::compile(longe).ok());
  // collection size and steps: 400 identifiers -> 400^3 items
  std::string big = R"({"resourceType":"Patient","identifier":[)";
  for (int i = 0; i < 400; i++) big += std::string(i ? "," : "") + R"({"value":")" + std::to_string(i) + "\"}";
  big += "]}";
  json::Value b = res(big);
  std::string r = run("identifier.select(%resource.identifier.select(%resource.identifier)).count()", b);
  CHECK(starts(r, "ERROR"));
  CHECK(r.find("collection larger") != std::string::npos);
  r = run("identifier.where(%resource.identifier.where(%resource.identifier.where(value = 'x').exists()).exists()).count()", b);
  CHECK(starts(r, "ERROR"));
  CHECK(r.find("budget") != std::string::npos);
  // regex input length
  json::Value longname = res(R"({"resourceType":"Patient","name":[{"family":")" + std::string(2001, 'a') + "\"}]}");
  r = run("name.family.matches('a+')", longname);
  CHECK(starts(r, "ERROR"));
  CHECK(r.find("longer than") != std::string::npos);
  CHECK(run("'" + std::string(2000, 'a') + "'.matches('^a+$')") == "boolean:true");
}
