// Tests for fhir/type_model: the embedded R4 table loads, has the spec's shape (counts,
// definition order, choice members, backbone and contentReference types, bindings,
// invariants), and the native primitive rules agree with the spec's regexes.
#include <catch2/catch.hpp>

#include <regex>

#include "fhir/type_model.h"

using namespace ef;
using namespace ef::fhir::model;

TEST_CASE("type model: the embedded table loads with every R4 resource and data type", "[fhir][model]") {
  const TypeModel& m = model();
  REQUIRE(model_status().ok());
  size_t resources = 0, primitives = 0;
  for (const TypeDef* t : m.all_types()) {
    if (t->kind == Kind::resource) ++resources;
    if (t->kind == Kind::primitive) ++primitives;
  }
  CHECK(resources == 148);  // the 146 concrete R4 resource types + Resource and DomainResource
  CHECK(primitives == 20);
  CHECK(m.element_count() > 7000);
}

TEST_CASE("type model: Patient elements in definition order with flags", "[fhir][model]") {
  const TypeDef* p = model().type("Patient");
  REQUIRE(p);
  CHECK(p->kind == Kind::resource);
  std::vector<std::string> names;
  for (const auto& e : p->elements) names.push_back(e.name);
  std::vector<std::string> first = {"id", "meta", "implicitRules", "language", "text", "contained", "extension",
                                    "modifierExtension", "identifier", "active", "name", "telecom", "gender",
                                    "birthDate", "deceased"};
  REQUIRE(names.size() > first.size());
  CHECK(std::vector<std::string>(names.begin(), names.begin() + first.size()) == first);
  const ElementDef* gender = p->element("gender");
  REQUIRE(gender);
  CHECK(gender->summary);
  CHECK(gender->strength == Strength::required);
  CHECK(gender->value_set == "http://hl7.org/fhir/ValueSet/administrative-gender");  // codes: fhir/terminology
  const ElementDef* deceased = p->element("deceased");
  REQUIRE(deceased);
  CHECK(deceased->choice);
  CHECK(deceased->modifier);
  const TypeDef::Member* mb = p->member("deceasedDateTime");
  REQUIRE(mb);
  CHECK(p->elements[mb->element].name == "deceased");
  CHECK(p->elements[mb->element].types[mb->type].name == "dateTime");
  CHECK_FALSE(p->member("deceased"));
  CHECK_FALSE(p->member("deceasedString"));
  const ElementDef* contact = p->element("contact");
  REQUIRE(contact);
  CHECK(contact->max == kMany);
  REQUIRE(contact->types[0].type);
  CHECK(contact->types[0].type->name == "Patient.contact");
  CHECK(contact->types[0].type->kind == Kind::backbone);
  const ElementDef* mo = p->element("managingOrganization");
  REQUIRE(mo);
  CHECK(mo->types[0].targets == std::vector<std::string>{"Organization"});
  bool pat1 = false;
  for (const Invariant* i : contact->types[0].type->invariants) pat1 = pat1 || i->key == "pat-1";
  CHECK(pat1);
}

TEST_CASE("type model: contentReference and Extension's value[x]", "[fhir][model]") {
  const TypeDef* item = model().type("Questionnaire.item");
  REQUIRE(item);
  const ElementDef* sub = item->element("item");
  REQUIRE(sub);
  CHECK(sub->types[0].type == item);
  const TypeDef* ext = model().type("Extension");
  REQUIRE(ext);
  CHECK(ext->member("valueString"));
  CHECK(ext->member("valueCodeableConcept"));
  CHECK(ext->member("valueBase64Binary"));
  CHECK_FALSE(ext->member("valueFoo"));
  const TypeDef* obs = model().type("Observation");
  REQUIRE(obs);
  bool obs6 = false;
  for (const Invariant* i : obs->invariants) obs6 = obs6 || (i->key == "obs-6" && !i->expression.empty());
  CHECK(obs6);
}

namespace {
struct Case {
  const char* type;
  const char* text;
  bool ok;
};
}  // namespace

TEST_CASE("type model: native primitive rules agree with the spec's regexes", "[fhir][model]") {
  const Case cases[] = {
      {"integer", "0", true}, {"integer", "-12", true}, {"integer", "012", false}, {"integer", "+42", false},
      {"integer", "1.0", false}, {"decimal", "1.50", true}, {"decimal", "-0.5e10", true}, {"decimal", "01", false},
      {"decimal", ".5", false}, {"unsignedInt", "0", true}, {"unsignedInt", "-1", false},
      {"positiveInt", "1", true}, {"positiveInt", "0", false}, {"code", "a b", true}, {"code", " a", false},
      {"code", "a  b", false}, {"code", "a ", false}, {"id", "a-b.C9", true}, {"id", "a_b", false},
      {"oid", "urn:oid:1.2.3", true}, {"oid", "urn:oid:3.2", false}, {"oid", "urn:oid:1.02", false},
      {"uuid", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", true},
      {"uuid", "urn:uuid:C757873D-ec9a-4326-a141-556f43239520", false}, {"uri", "http://a/b", true},
      {"uri", "http://a b", false}, {"date", "2019", true}, {"date", "2019-02", true}, {"date", "2019-02-28", true},
      {"date", "2019-13", false}, {"date", "0000", false}, {"date", "2019-2-1", false},
      {"dateTime", "2015-02-07T13:28:17+14:00", true}, {"dateTime", "2015-02-07T13:28:17.239+02:00", true},
      {"dateTime", "2015-02-07T13:28:17", false}, {"dateTime", "2015-02-07T13:28Z", false},
      {"dateTime", "2015-02-07T24:00:00Z", false}, {"dateTime", "2015-02-07T13:28:17+14:30", false},
      {"instant", "2015-02-07T13:28:17.239Z", true}, {"instant", "2015-02-07", false},
      {"time", "13:28:17", true}, {"time", "13:28", false}, {"base64Binary", "aGVsbG8=", true},
      {"base64Binary", "aGVsbG8", false}, {"base64Binary", "a+/b", true}, {"boolean", "true", true},
      {"boolean", "True", false}};
  for (const Case& c : cases) {
    const TypeDef* t = model().type(c.type);
    REQUIRE(t);
    REQUIRE(t->kind == Kind::primitive);
    INFO(c.type << " '" << c.text << "'");
    CHECK(primitive_text_ok(t->prim, c.text) == c.ok);
    // Where the spec's regex has no known erratum, it must agree (base64Binary's omits '/').
    if (!t->regex.empty() && std::string(c.type) != "base64Binary") {
      bool re = std::regex_match(std::string(c.text), std::regex(t->regex));
      // integer ranges and real calendar days are beyond a regex: only check accepted cases
      // and the lexical rejections.
      if (c.ok) CHECK(re);
      else if (std::string(c.text) != "0" && std::string(c.text) != "-1") CHECK_FALSE(re);
    }
  }
  // Ranges and calendar checks the regexes cannot express.
  CHECK(primitive_text_ok(Prim::integer, "2147483647"));
  CHECK_FALSE(primitive_text_ok(Prim::integer, "2147483648"));
  CHECK(primitive_text_ok(Prim::integer, "-2147483648"));
  CHECK_FALSE(primitive_text_ok(Prim::integer, "-2147483649"));
  CHECK(primitive_text_ok(Prim::decimal, "2147483648"));
  CHECK_FALSE(primitive_text_ok(Prim::date, "1970-02-30"));
  CHECK(primitive_text_ok(Prim::date, "2000-02-29"));
  CHECK_FALSE(primitive_text_ok(Prim::date, "1900-02-29"));
  CHECK_FALSE(primitive_text_ok(Prim::date, "1970-13-45"));
}

TEST_CASE("type model: check_primitive checks the JSON type first", "[fhir][model]") {
  json::ParseOptions po;
  po.preserve_numbers = true;
  auto v = json::parse(R"({"a":"true","b":true,"c":42,"d":"42","e":2147483648,"f":1.50})", po);
  REQUIRE(v);
  std::string why;
  CHECK_FALSE(check_primitive(Prim::boolean, *json::get(*v, "a"), &why));
  CHECK(check_primitive(Prim::boolean, *json::get(*v, "b"), &why));
  CHECK(check_primitive(Prim::integer, *json::get(*v, "c"), &why));
  CHECK_FALSE(check_primitive(Prim::integer, *json::get(*v, "d"), &why));
  CHECK_FALSE(check_primitive(Prim::integer, *json::get(*v, "e"), &why));
  CHECK(check_primitive(Prim::decimal, *json::get(*v, "e"), &why));
  CHECK(check_primitive(Prim::decimal, *json::get(*v, "f"), &why));
  CHECK_FALSE(check_primitive(Prim::string, *json::get(*v, "c"), &why));
}
