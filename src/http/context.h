// http/context.h — one request in flight: the parsed route, the caller, response helpers.
// Every response leaves through send_*() here, so headers (request id, content type,
// compression, pretty printing) are set in one place.
#pragma once
#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "http/app.h"
#include "util/status.h"

namespace ef::http {

struct Ctx {
  const httplib::Request& req;
  httplib::Response& res;
  App& app;
  std::string request_id;
  std::vector<std::string> seg;  // URL-decoded path segments
  bool pretty = false;
  bool xml = false;          // answer in FHIR XML (negotiated; http/xml_body.h)
  bool format_open = true;   // neither _format nor Accept named a format: answer as the body came
  auth::PrincipalPtr principal;
  // What the request did, for the audit trail, log and metrics.
  std::string interaction = "unknown";
  auth::Decision decision;   // the authorization decision of the request's interaction (for messages)
  // The caller as the interaction layer sees it (service/access.h): every call into
  // app.service passes it.  Unrestricted unless a token was authenticated under a policy.
  const service::Access* access = &service::Access::unrestricted();
  std::unique_ptr<service::Access> own_access;
  std::string type, id;
  std::string auth_failure;  // reason when refused by auth
  // Bundle entries, audited each as its own interaction after the Bundle's own event.
  struct EntryAudit {
    std::string interaction, type, id, query, outcome;
    int status = 0;
  };
  std::vector<EntryAudit> entry_audits;

  Ctx(const httplib::Request& q, httplib::Response& s, App& a) : req(q), res(s), app(a) {}
  std::string param(const std::string& name) const;  // first value or ""
  bool has_param(const std::string& name) const { return req.has_param(name.c_str()); }
  std::string header(const std::string& name) const { return req.get_header_value(name.c_str()); }
};

// Sends a FHIR JSON body (already serialised, compact).  Converts it to FHIR XML when the
// client asked for XML (c.xml), pretty-prints when asked, gzips when the client accepts it
// and the body is large enough.
void send_json(Ctx& c, int status, const std::string& body);
// Sends the OperationOutcome of `st` with its HTTP code (the table is http/errors.h).
void send_error(Ctx& c, const Status& st);
// Sends a stored resource with ETag / Last-Modified / Location as appropriate.
void send_resource(Ctx& c, int status, const std::string& type, const std::string& id, int64_t version,
                   int64_t last_updated, const std::string& body, bool location);
// Returns an error when the request body is not FHIR JSON (415) or too large (413).  (An XML
// body was converted to JSON before the handler ran: http/xml_body.h.)
Status check_json_body(const Ctx& c, bool allow_json_patch = false);
// The media type of a Content-Type value: parameters dropped, lower case
// ("Application/FHIR+JSON; charset=utf-8" -> "application/fhir+json").
std::string media_type(const std::string& content_type);
// Parses W/"3", "3" or 3.  nullopt when absent; error when malformed.
Result<std::optional<int64_t>> parse_etag(const std::string& v);
std::string etag(int64_t version);

}  // namespace ef::http
