// http/conditional.h — the conditional interactions
// (https://hl7.org/fhir/R4/http.html#ccreate , #cond-update , #cdelete , #cpatch):
//   POST   [base]/[type]  with If-None-Exist   handle_create_conditional (plain create without it)
//   PUT    [base]/[type]?search               handle_conditional_update
//   DELETE [base]/[type]?search[&_count=N]    handle_conditional_delete
//   PATCH  [base]/[type]?search               handle_conditional_patch
// Matches come from store::resolve_matches (strict: unknown parameters are a 400).  One match
// is required where the spec says so; several matches give 412.  Conditional delete deletes
// a single match by default; `_count=N` (N <= kMaxConditionalDeletes) deletes up to N matches
// in one transaction and answers 412 when more than N match (nothing is deleted then).
// _format and _pretty are not search criteria and are left out of the condition.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

constexpr size_t kMaxConditionalDeletes = 1000;

void handle_create_conditional(Ctx& c, const std::string& type);
void handle_conditional_update(Ctx& c, const std::string& type);
void handle_conditional_delete(Ctx& c, const std::string& type);
void handle_conditional_patch(Ctx& c, const std::string& type);

}  // namespace ef::http
