// http/xml_body.h — FHIR XML at the HTTP edge: the one place where an XML request body becomes
// the JSON the handlers and the interaction layer get (they never see XML), and where a JSON
// response body becomes XML (send_json in http/context.cpp calls json_to_xml).  The
// conversion itself is fhir/xml.h.
#pragma once
#include <string>

#include "http/context.h"

namespace ef::http {

// When the request's Content-Type is FHIR XML (application/fhir+xml, application/xml,
// text/xml) and it has a body: parses it (limits.max_json_depth, limits.max_json_values) and
// replaces req.body by the same resource as FHIR JSON and the Content-Type by
// application/fhir+json.  When neither _format nor Accept named a format, the answer will be
// XML too (c.xml).  A malformed or hostile document is Err::invalid naming line and column.
// Runs after admission (authentication and authorization), before the handler.
Status xml_request_body(Ctx& c);

// A FHIR JSON body (a resource, Bundle, OperationOutcome ...) as FHIR XML; false when `json`
// is not a JSON object (then the caller sends it as it is).  cache: `json` is a stored resource
// version (a read); its rendering comes from or goes to fhir::xml::read_cache()
// (limits.xml_cache_bytes).
bool json_to_xml(const std::string& json, bool pretty, std::string* out, bool cache = false);

}  // namespace ef::http
