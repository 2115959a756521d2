// http/search.h — the search interactions: https://hl7.org/fhir/R4/http.html#search
//   GET  [base]/[type]?params          handle_search
//   POST [base]/[type]/_search         handle_search (application/x-www-form-urlencoded body,
//                                      merged after the URL's parameters)
//   GET  [base]?_type=A,B&params       handle_system_search (POST [base]/_search too)
//   GET  [base]/Patient/[id]/[type]    handle_compartment_search (type "*" = every type in the
//                                      Patient compartment)
// Parsing is fhir/search_query.h, execution store/search.h; this file maps the request to a
// query, applies the caller's restrictions (Ctx::decision.compartment_patient limits matches
// and included resources to that patient's compartment; included types the policy would not
// let the caller search are left out) and writes the searchset Bundle (stored JSON spliced
// in verbatim; parsed only for _summary/_elements).
// Unknown parameters: `Prefer: handling=strict` -> 400 naming them; otherwise ignored, listed
// in an OperationOutcome entry (search.mode = outcome) and left out of the links.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

void handle_search(Ctx& c, const std::string& type);
void handle_system_search(Ctx& c);
void handle_compartment_search(Ctx& c, const std::string& ctype, const std::string& cid, const std::string& type);

}  // namespace ef::http
