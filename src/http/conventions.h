// http/conventions.h — small HTTP conventions every request passes through, kept out of the
// router (http/server.cpp) so they are testable alone: which response format a request
// asks for (_format, Accept with quality values and its fhirVersion parameter: JSON or XML), a UTF-8 byte-order mark at the
// start of a request body, the Preference-Applied header for the Prefer preferences that were
// honoured, _summary / _elements on read and vread, and the one log line per request.  Also the listening-address probe `serve` runs
// before it creates anything.
#pragma once
#include <cstdint>
#include <string>

#include "fhir/search_query.h"
#include "http/context.h"

namespace ef::http {

// The response format asked for: `_format` (a '+' typed without URL-encoding arrives as a
// space: "application/fhir json" is accepted, as HAPI does) or else Accept, with quality
// values: FHIR JSON (application/fhir+json, application/json, anything with "json") or FHIR
// XML (application/fhir+xml, application/xml, text/xml; _format=xml); the higher q wins, at
// equal q a named type beats a wildcard and then the earlier range.  *chosen is Format::any
// when nothing (no Accept, only wildcards) names a format.  not_acceptable (406) when neither
// format is acceptable, or every acceptable media range names a fhirVersion other than R4
// (4.0 / 4.0.1), e.g. "application/fhir+json; fhirVersion=3.0".
enum class Format { json, xml, any };
Status check_format(const std::string& format_param, const std::string& accept, Format* chosen = nullptr);
// application/fhir+xml, application/xml, text/xml (a media type from media_type()).
bool is_xml_media(const std::string& media_type);

// Drops a UTF-8 byte-order mark (EF BB BF) at the start of `body`; true when there was one.
bool strip_utf8_bom(std::string& body);

// Sets Preference-Applied to the preferences of the request's Prefer header that the
// interaction that ran (c.interaction, c.res.status) honours: return=minimal |
// representation | OperationOutcome on create / update / patch / transaction / batch,
// handling=strict | lenient on searches, $everything and $export, respond-async when the
// answer is 202 Accepted.  Nothing when none applies.
void set_preference_applied(Ctx& c);

// The request log line (info, event "request"): method, path (no query values: only the
// parameter names, in "params"), status and duration_us (JSON numbers), request id,
// interaction and caller (the token's oid or subject, or "anonymous").  Off when the config
// says "log_requests": false.
void log_request(const Ctx& c, int64_t duration_us);

// The request's _summary (true, text, data, false; count is a search-only value and refused)
// and _elements (element names, "Patient.name" or "name"), for read, vread, history and
// $everything (search parses its own in fhir/search_query.h).  A malformed value is 400.
struct Subset {
  fhir::Summary summary = fhir::Summary::none;
  std::vector<std::string> elements;
  fhir::QueryParams link_params;  // the two parameters as given, for paging links
  bool any() const { return summary != fhir::Summary::none || !elements.empty(); }
  // Reduces one stored resource (fhir::subset_resource, with the SUBSETTED tag); an empty
  // body (a deletion in a history) stays empty.
  void apply(std::string& body) const;
};
Result<Subset> parse_subset(const Ctx& c);

// Sends a stored resource for read / vread (as send_resource) reduced by the request's
// _summary (true, text, data, false; count is a search-only value and refused) and _elements
// (element names, "Patient.name" or "name"), with the SUBSETTED tag (fhir::subset_resource,
// as on search).  A malformed value is 400.
void send_read(Ctx& c, const std::string& type, const std::string& id, int64_t version, int64_t last_updated,
               const std::string& body);

// Tries to bind host:port (port > 0) as the server will, without SO_REUSEPORT, and releases
// it: unavailable "cannot listen on H:P: address already in use ..." when another process
// holds it.  `serve` runs it before it opens (and so creates) the database.
Status probe_listen(const std::string& host, int port);

}  // namespace ef::http
