// fhir/json_patch.h — RFC 6902 JSON Patch (add, remove, replace, move, copy, test) with
// RFC 6901 pointers, applied to a parsed resource.  Used by the patch interaction.
#pragma once
#include "util/json.h"
#include "util/status.h"

namespace ef::fhir {

// Applies `patch` (a JSON array of operations) to `doc` in place.  On failure `doc` is
// unspecified; callers apply to a copy.  Errors name the failing operation index.
Status apply_json_patch(json::Value& doc, const json::Value& patch);

}  // namespace ef::fhir
