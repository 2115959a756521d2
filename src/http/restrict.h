// http/restrict.h — applies the restrictions of an allowed authorization decision
// (auth::Decision::constraints: SMART patient/ compartments and v2 ?param constraints) to
// one resource.  Read-side checks look at the stored resource's search-index rows; write
// checks look at the resource being written (and the stored one it replaces).
// A constraint this code cannot evaluate yet (a ?param constraint outside search) does
// not match, so restricted tokens fail closed.
#pragma once
#include <string>

#include "http/context.h"
#include "util/json.h"

namespace ef::http {

// Whether restrictions of this interaction can be enforced here at all.
bool restriction_supported(const Ctx& c, auth::Interaction i);
// The stored resource type/id is permitted by c.decision (no-op when unrestricted).
Status enforce_stored(Ctx& c, const std::string& type, const std::string& id);
// A resource about to be written is permitted by c.decision.
Status enforce_proposed(Ctx& c, const json::Value& resource);

}  // namespace ef::http
