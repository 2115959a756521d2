// fhir/xml.h — the FHIR XML format (R4), converted to and from the FHIR JSON tree every other
// module works with, driven by the type model (fhir/type_model.h).
//
// Owns: both directions of the conversion and the budgets of an XML document from a client.
//  * XML -> JSON (parse): the root element is a resource in the namespace http://hl7.org/fhir;
//    the type model says which elements repeat (JSON arrays), the JSON type of each primitive
//    (boolean, integer and decimal become numbers keeping their exact text, see util/json.h),
//    the type of a choice element (valueQuantity), where a resource is wrapped (contained,
//    Bundle.entry.resource, Parameters.parameter.resource, ...).  Primitive `value`, `id`
//    attributes and extensions become `x` and `_x`; Element.id and Extension.url are
//    attributes; the narrative `div` (XHTML namespace) becomes its XHTML text.  Unknown
//    elements or attributes, text where FHIR has none, an element that does not repeat given
//    twice: Err::invalid naming the element path with line and column.
//  * JSON -> XML (write_text): the reverse, from the JSON text (no tree); elements in
//    definition order; members the model does not know are written generically (their
//    names as elements) so that nothing is dropped.
//
// Security.  pugixml (Debian libpugixml-dev) parses; it never loads anything and expands only
// the five predefined entities and character references.  Before it runs, one pass over the
// text refuses what XML attacks need or what pugixml would accept leniently: any DOCTYPE or
// other "<!" declaration (billion laughs, external entities), entity references other than
// the predefined ones, character references to characters XML forbids, control characters,
// invalid UTF-8, an encoding other than UTF-8; and it bounds the node count (markup
// characters) before the tree is built.  Element nesting is bounded by max_depth.
#pragma once
#include <string>
#include <string_view>

#include "util/json.h"
#include "util/status.h"

namespace ef::fhir::xml {

constexpr const char* kFhirNs = "http://hl7.org/fhir";
constexpr const char* kXhtmlNs = "http://www.w3.org/1999/xhtml";

struct ParseLimits {
  size_t max_depth = 64;                          // element nesting (limits.max_json_depth)
  size_t max_values = json::default_max_values();  // limits.max_json_values: '<' + '=' <= 2x this
};

// One FHIR resource in XML -> its FHIR JSON tree (numbers tagged as by a preserve_numbers
// parse).  Errors are Err::invalid with a message naming the problem, line and column.
Result<json::Value> parse(std::string_view text, const ParseLimits& limits = {});

// A resource's JSON text -> FHIR XML.  pretty = two-space indentation (the narrative div is
// written as it is).  Works on the text (no tree is built; numbers are copied verbatim);
// false when the text is not one JSON object.
bool write_text(std::string_view json, bool pretty, std::string* out);
// The same for a tree (from a preserve_numbers parse); "" when it is not an object.
std::string write(const json::Value& resource, bool pretty = false);

// Checks that `text` is one well-formed XML element (no DOCTYPE, predefined entities only):
// used for the narrative div before it is written verbatim.
bool well_formed_fragment(std::string_view text);

}  // namespace ef::fhir::xml
