// tests/unit/fhir/xml_test.cpp — fhir/xml: XML -> JSON by the type model (arrays, primitive
// JSON types, exact decimals, `_x` ids and extensions, choice types, contained and Bundle
// resources, the narrative div), JSON -> XML (definition order, attributes, escaping,
// members the model does not know), round trips, and the refusals of hostile documents.
#include <catch2/catch.hpp>

#include "fhir/xml.h"
#include "../testing.h"
#include "util/json.h"

using namespace ef;
namespace fx = ef::fhir::xml;

namespace {

json::Value J(const std::string& text) { return testing::fhir_json(text); }

std::string to_json(const std::string& xml) {
  auto v = fx::parse(xml);
  INFO(v.status().message);
  REQUIRE(v.ok());
  return json::write(*v);
}

std::string error_of(const std::string& xml, fx::ParseLimits lim = {}) {
  auto v = fx::parse(xml, lim);
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().code == Err::invalid);
  return v.status().message;
}

const std::string kNs = "<Patient xmlns=\"http://hl7.org/fhir\">";

}  // namespace

TEST_CASE("xml -> json: primitives take their JSON type from the model, decimals keep their text", "[fhir][xml]") {
  std::string j = to_json(
      "<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"/><code><text value=\"w\"/></code>"
      "<valueQuantity><value value=\"72.50\"/><unit value=\"kg\"/></valueQuantity>"
      "<component><code><text value=\"c\"/></code><valueInteger value=\"-3\"/></component>"
      "<component><code><text value=\"d\"/></code><valueBoolean value=\"false\"/></component></Observation>");
  CHECK(j == "{\"resourceType\":\"Observation\",\"code\":{\"text\":\"w\"},\"component\":[{\"code\":{\"text\":\"c\"},"
             "\"valueInteger\":-3},{\"code\":{\"text\":\"d\"},\"valueBoolean\":false}],\"status\":\"final\","
             "\"valueQuantity\":{\"unit\":\"kg\",\"value\":72.50}}");
}

TEST_CASE("xml -> json: repeating elements are arrays, ids and extensions of primitives go to _x, aligned", "[fhir][xml]") {
  std::string j = to_json(kNs +
                          "<name id=\"n1\"><given value=\"A\"/><given id=\"g2\"><extension url=\"http://x/e\">"
                          "<valueString value=\"e\"/></extension></given><given value=\"C\"/></name>"
                          "<birthDate value=\"1970-01-02\"><extension url=\"http://x/t\"><valueDateTime "
                          "value=\"1970-01-02T10:00:00Z\"/></extension></birthDate></Patient>");
  CHECK(j == "{\"resourceType\":\"Patient\",\"_birthDate\":{\"extension\":[{\"url\":\"http://x/t\",\"valueDateTime\":"
             "\"1970-01-02T10:00:00Z\"}]},\"birthDate\":\"1970-01-02\",\"name\":[{\"_given\":[null,{\"extension\":[{"
             "\"url\":\"http://x/e\",\"valueString\":\"e\"}],\"id\":\"g2\"},null],\"given\":[\"A\",null,\"C\"],\"id\":\"n1\"}]}");
}

TEST_CASE("xml -> json: contained and Bundle resources, the narrative div as XHTML text", "[fhir][xml]") {
  std::string j = to_json(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment -->\n"
      "<Bundle xmlns=\"http://hl7.org/fhir\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:schemaLocation=\"http://hl7.org/fhir x.xsd\">\n  <type value=\"collection\"/>\n"
      "  <entry><resource><Patient><id value=\"p\"/><text><status value=\"generated\"/>"
      "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"a\">x &amp; <b>y</b> &lt; z</p></div></text>"
      "<contained><Organization><id value=\"o\"/></Organization></contained></Patient></resource></entry></Bundle>");
  CHECK(j == "{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\",\"contained\":[{"
             "\"resourceType\":\"Organization\",\"id\":\"o\"}],\"id\":\"p\",\"text\":{\"div\":\"<div xmlns=\\\"http://"
             "www.w3.org/1999/xhtml\\\"><p class=\\\"a\\\">x &amp; <b>y</b> &lt; z</p></div>\",\"status\":\"generated\"}}}],"
             "\"type\":\"collection\"}");
}

TEST_CASE("xml -> json: a prefixed FHIR namespace and character references", "[fhir][xml]") {
  CHECK(to_json("<f:Patient xmlns:f=\"http://hl7.org/fhir\"><f:gender value=\"m&#97;le\"/></f:Patient>") ==
        "{\"resourceType\":\"Patient\",\"gender\":\"male\"}");
  // attribute whitespace: a literal newline is a space (XML), &#10; is a newline
  CHECK(to_json(kNs + "<name><text value=\"a&#10;b\nc\"/></name></Patient>") ==
        "{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"a\\nb c\"}]}");
}

TEST_CASE("xml -> json: what is not FHIR XML is refused with the element path, line and column", "[fhir][xml]") {
  std::string e = error_of(kNs + "\n  <foo value=\"1\"/></Patient>");
  CHECK(e.find("unknown element 'foo' in Patient") != std::string::npos);
  CHECK(e.find("line 2, column 3") != std::string::npos);
  CHECK(error_of(kNs + "<name><given value=\"a\"/><bogus/></name></Patient>").find("unknown element 'bogus' in Patient.name") !=
        std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"male\"/><gender value=\"female\"/></Patient>").find("more than once") != std::string::npos);
  CHECK(error_of(kNs + "<active value=\"1\"/></Patient>").find("not a boolean") != std::string::npos);
  CHECK(error_of(kNs + "<multipleBirthInteger value=\"2.0\"/></Patient>").find("not a valid integer") != std::string::npos);
  CHECK(error_of(kNs + "<multipleBirthInteger value=\"1e400\"/></Patient>").find("integer") != std::string::npos);
  CHECK(error_of(kNs + "<gender>male</gender></Patient>").find("text content") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"male\" foo=\"x\"/></Patient>").find("unknown attribute 'foo'") != std::string::npos);
  CHECK(error_of(kNs + "<name><id value=\"x\"/></name></Patient>").find("'id' is an attribute") != std::string::npos);
  CHECK(error_of(kNs + "<deceasedBoolean value=\"true\"/><deceasedDateTime value=\"2020\"/></Patient>").find("deceased[x]") !=
        std::string::npos);
  CHECK(error_of("<Patient><gender value=\"male\"/></Patient>").find("FHIR namespace") != std::string::npos);
  CHECK(error_of("<Resource xmlns=\"http://hl7.org/fhir\"/>").find("not a FHIR R4 resource type") != std::string::npos);
  CHECK(error_of(kNs + "</Patient><Patient xmlns=\"http://hl7.org/fhir\"/>").find("root") != std::string::npos);
  CHECK(error_of(kNs + "<contained/></Patient>").find("holds no resource") != std::string::npos);
  CHECK(error_of(kNs + "<text><status value=\"generated\"/><div>x</div></text></Patient>").find("XHTML namespace") !=
        std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"male\">\n</Patient>").find("malformed XML") != std::string::npos);
  CHECK(error_of("").find("malformed XML") != std::string::npos);
}

TEST_CASE("xml: hostile documents are refused before pugixml builds anything", "[fhir][xml]") {
  CHECK(error_of("<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" + kNs + "<gender value=\"&x;\"/></Patient>")
            .find("DOCTYPE") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"&x;\"/></Patient>").find("undefined entity &x;") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"a & b\"/></Patient>").find("'&'") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"&#x0;\"/></Patient>").find("character reference") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"&#xD800;\"/></Patient>").find("character reference") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"\xC3\x28\"/></Patient>").find("not valid UTF-8") != std::string::npos);
  CHECK(error_of(kNs + "<gender value=\"a\x01\"/></Patient>").find("control character U+0001") != std::string::npos);
  CHECK(error_of("<?xml version=\"1.0\" encoding=\"UTF-16\"?>" + kNs + "</Patient>").find("encoding 'utf-16'") !=
        std::string::npos);
  // a DOCTYPE inside a comment or CDATA is text, not a declaration
  CHECK(to_json("<!-- <!DOCTYPE x> &bogus; -->" + kNs + "</Patient>") == "{\"resourceType\":\"Patient\"}");
  fx::ParseLimits lim;
  lim.max_depth = 10;
  std::string deep = kNs;
  for (int i = 0; i < 20; ++i) deep += "<extension url=\"u\">";
  for (int i = 0; i < 20; ++i) deep += "</extension>";
  CHECK(error_of(deep + "</Patient>", lim).find("nesting deeper than 10") != std::string::npos);
  lim = {};
  lim.max_values = 50;
  std::string many = kNs;
  for (int i = 0; i < 101; ++i) many += "<name/>";
  CHECK(error_of(many + "</Patient>", lim).find("more than 100 elements and attributes") != std::string::npos);
}

TEST_CASE("json -> xml: definition order, attributes, x and _x in one element, decimals verbatim", "[fhir][xml]") {
  json::Value p = J(
      "{\"resourceType\":\"Patient\",\"birthDate\":\"1970-01-02\",\"_birthDate\":{\"id\":\"b\",\"extension\":[{\"url\":"
      "\"http://x/t\",\"valueDecimal\":1.50}]},\"name\":[{\"id\":\"n\",\"given\":[\"A\",null],\"_given\":[null,{"
      "\"extension\":[{\"url\":\"u\",\"valueBoolean\":true}]}]}],\"id\":\"p1\",\"active\":true}");
  CHECK(fx::write(p) ==
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/><active value=\"true\"/><name id=\"n\"><given value=\"A\"/>"
        "<given><extension url=\"u\"><valueBoolean value=\"true\"/></extension></given></name>"
        "<birthDate id=\"b\" value=\"1970-01-02\"><extension url=\"http://x/t\"><valueDecimal value=\"1.50\"/></extension>"
        "</birthDate></Patient>");
  CHECK(fx::write(p, true) ==
        "<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"p1\"/>\n  <active value=\"true\"/>\n  <name id=\"n\">\n"
        "    <given value=\"A\"/>\n    <given>\n      <extension url=\"u\">\n        <valueBoolean value=\"true\"/>\n"
        "      </extension>\n    </given>\n  </name>\n  <birthDate id=\"b\" value=\"1970-01-02\">\n"
        "    <extension url=\"http://x/t\">\n      <valueDecimal value=\"1.50\"/>\n    </extension>\n  </birthDate>\n"
        "</Patient>\n");
}

TEST_CASE("json -> xml: escaping, the div verbatim, contained resources, unknown members kept", "[fhir][xml]") {
  json::Value p = J(
      "{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/"
      "xhtml\\\">a &amp; <b>b</b></div>\"},\"contained\":[{\"resourceType\":\"Organization\",\"id\":\"o\"}],"
      "\"name\":[{\"text\":\"q\\\"<&>\\n\\t\\u0001\"}],\"zz\":{\"k\":1}}");
  CHECK(fx::write(p) ==
        "<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">"
        "a &amp; <b>b</b></div></text><contained><Organization><id value=\"o\"/></Organization></contained>"
        "<name><text value=\"q&quot;&lt;&amp;&gt;&#10;&#9;\xEF\xBF\xBD\"/></name><zz><k value=\"1\"/></zz></Patient>");
  // a div that is not well-formed XHTML is written as its text, never as broken XML
  json::Value bad = J("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":\"<div>a &nbsp; <b></div>\"}}");
  std::string x = fx::write(bad);
  CHECK(x.find("<div xmlns=\"http://www.w3.org/1999/xhtml\">&lt;div&gt;a &amp;nbsp; &lt;b&gt;&lt;/div&gt;</div>") !=
        std::string::npos);
  CHECK(fx::parse(x).ok());
}

TEST_CASE("xml: JSON -> XML -> JSON gives the same JSON", "[fhir][xml]") {
  const char* docs[] = {
      "{\"resourceType\":\"Observation\",\"id\":\"o\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
      "\"code\":\"1\"}]},\"valueQuantity\":{\"value\":1.000000000000000000E-245,\"unit\":\"g\"},\"component\":[{\"code\":{"
      "\"text\":\"c\"},\"valueSampledData\":{\"origin\":{\"value\":0},\"period\":0.10,\"dimensions\":1,\"data\":\"1 2\"}}]}",
      "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueDecimal\":-0.0},{\"name\":\"r\",\"resource\":{"
      "\"resourceType\":\"Patient\",\"active\":false}},{\"name\":\"p\",\"part\":[{\"name\":\"q\",\"valueString\":\"x\"}]}]}",
      "{\"resourceType\":\"Questionnaire\",\"status\":\"draft\",\"item\":[{\"linkId\":\"1\",\"type\":\"group\",\"item\":[{"
      "\"linkId\":\"1.1\",\"type\":\"string\",\"_text\":{\"extension\":[{\"url\":\"u\",\"valueCode\":\"c\"}]}}]}]}",
  };
  for (const char* d : docs) {
    INFO(d);
    json::Value v = J(d);
    std::string x = fx::write(v);
    auto back = fx::parse(x);
    INFO(x);
    REQUIRE(back.ok());
    CHECK(json::write(*back) == json::write(v));
    auto pretty = fx::parse(fx::write(v, true));
    REQUIRE(pretty.ok());
    CHECK(json::write(*pretty) == json::write(v));
  }
}

TEST_CASE("xml: well_formed_fragment accepts one balanced element and nothing else", "[fhir][xml]") {
  for (const char* ok : {"<div/>", "<div xmlns=\"http://www.w3.org/1999/xhtml\">a <b>b</b> &amp; c</div>",
                         "<div a='1' b = \"2\"><p/><!-- c > --><![CDATA[<x>]]></div>", " <div>\n</div> ",
                         "<div><div><br/></div></div>", "<div>a > b</div>"}) {
    INFO(ok);
    CHECK(fx::well_formed_fragment(ok));
  }
  for (const char* bad : {"", "text", "<div>", "<div></p>", "<div><p></div></p>", "<div/><div/>", "x<div/>",
                          "<div a=1/>", "<div a=\"1\"b=\"2\"/>", "<div a=\"<\"/>", "<div>&nbsp;</div>",
                          "<!DOCTYPE div><div/>", "<div>a &b</div>", "<div><</div>", "<div a=\"1/>"}) {
    INFO(bad);
    CHECK_FALSE(fx::well_formed_fragment(bad));
  }
}

TEST_CASE("xml: duplicate attributes are refused; JSON member names that are not XML names are left out", "[fhir][xml]") {
  CHECK(error_of(kNs + "<gender value=\"male\" value=\"female\"/></Patient>").find("given twice") != std::string::npos);
  std::string x;
  REQUIRE(fx::write_text("{\"resourceType\":\"Patient\",\"a b\":1,\"1x\":{\"k\":2},\"ok\":[true],\"xmlfoo\":1}", false, &x));
  CHECK(x == "<Patient xmlns=\"http://hl7.org/fhir\"><ok value=\"true\"/></Patient>");
  CHECK_FALSE(fx::write_text("{\"resourceType\":\"Patient\"", false, &x));
  CHECK_FALSE(fx::write_text("[1]", false, &x));
}

TEST_CASE("xml: write_text refuses JSON whose scalars are not JSON (never writes them into an attribute)", "[fhir][xml]") {
  std::string x;
  CHECK_FALSE(fx::write_text("{\"resourceType\":\"Patient\",\"id\":0\"x\"}", false, &x));
  CHECK_FALSE(fx::write_text("{\"resourceType\":\"Patient\",\"active\":tru}", false, &x));
  CHECK(fx::write_text("{\"resourceType\":\"Patient\",\"active\":true,\"multipleBirthInteger\":-2e3}", false, &x));
  CHECK(x == "<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/><multipleBirthInteger value=\"-2e3\"/></Patient>");
}
