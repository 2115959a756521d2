// fhir/xml_internal.h — internal to the fhir/xml*.cpp files (not an API): the lexical pieces
// both directions share.  where()/bad() turn a byte offset into "line L, column C" and an
// Err::invalid; prescan() is the security pass of xml.h (declarations, references, characters,
// UTF-8, the node bound) that parse() and well_formed_fragment() run first; escape() writes
// text or an attribute value (xml_read.cpp for the narrative div, xml_write.cpp everywhere).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "util/status.h"

namespace ef::fhir::xml::detail {

// 1-based line and column (in characters) of a byte offset.
std::string where(std::string_view s, size_t off);
// Err::invalid "XML: <what> (line L, column C)".
Status bad(std::string_view s, size_t off, const std::string& what);
// The security pass (see xml.h).  max_nodes bounds '<' + '=' (a bound on pugixml's nodes).
Status prescan(std::string_view s, size_t max_nodes);
// s XML-escaped onto out: text content, or (attr) a double-quoted attribute value.
void escape(std::string& out, std::string_view s, bool attr);

}  // namespace ef::fhir::xml::detail
