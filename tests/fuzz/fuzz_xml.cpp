// tests/fuzz/fuzz_xml.cpp — fhir/xml: the XML reader on hostile documents and the writer on
// arbitrary JSON.  Byte 0 even: the input (after it) is an XML document for fhir::xml::parse;
// odd: JSON text for fhir::xml::write_text.
// Invariants: no crash/UB/exception; a document parse() accepts writes to XML that parse()
// accepts again with the same JSON (compact and pretty); XML written from any JSON object is
// well-formed enough for pugixml (parse() may refuse it as FHIR, never as malformed XML).
#include "fhir/xml.h"
#include "fuzz_util.h"
#include "util/json.h"

using namespace ef;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  fhir::xml::ParseLimits lim;
  lim.max_depth = 32;
  lim.max_values = 100000;
  if ((data[0] & 1) == 0) {
    auto v = fhir::xml::parse(in, lim);
    if (!v) {
      FUZZ_CHECK(v.status().code == Err::invalid && !v.status().message.empty(), "refusal without a message");
      return 0;
    }
    std::string j = json::write(*v);
    for (bool pretty : {false, true}) {
      std::string x;
      FUZZ_CHECK(fhir::xml::write_text(j, pretty, &x), "write_text refused parse()'s own JSON");
      fhir::xml::ParseLimits again = lim;
      again.max_depth = 64;
      auto back = fhir::xml::parse(x, again);
      FUZZ_CHECK(back.ok(), "own XML does not parse again: " + (back.ok() ? "" : back.status().message) + "\n" + x);
      FUZZ_CHECK(json::write(*back) == j, "XML round trip changed the JSON:\n" + j + "\n" + json::write(*back));
    }
    return 0;
  }
  std::string x;
  if (!fhir::xml::write_text(in, data[0] & 2, &x)) return 0;
  auto back = fhir::xml::parse(x, lim);
  if (!back)
    FUZZ_CHECK(back.status().message.find("malformed XML") == std::string::npos,
               "written XML is malformed: " + back.status().message + "\n" + x);
  return 0;
}
