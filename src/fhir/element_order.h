// fhir/element_order.h — a resource written as compact JSON with its members in the order of
// the R4 definitions (resourceType, id, meta, implicitRules, ... as in the spec's examples), by
// the type model (fhir/type_model.h), instead of util/json's alphabetical order.  Repository
// stores this text, so reads serve definition order at no cost.  `_x` follows `x`; members the
// model does not know (stored under validation.on_write warn/off) come last, alphabetically.
// Numbers keep their exact text (preserve_numbers parses).
#pragma once
#include <string>

#include "util/json.h"

namespace ef::fhir {

std::string write_in_definition_order(const json::Value& resource);

}  // namespace ef::fhir
