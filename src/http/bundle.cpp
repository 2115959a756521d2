// http/bundle.cpp — see bundle.h.
#include "http/bundle.h"

#include "auth/policy.h"
#include "fhir/outcome.h"
#include "util/time.h"

namespace ef::http {

std::string status_line(int s) {
  const char* t = "";
  switch (s) {
    case 200: t = "OK"; break;
    case 201: t = "Created"; break;
    case 204: t = "No Content"; break;
    case 304: t = "Not Modified"; break;
    case 400: t = "Bad Request"; break;
    case 401: t = "Unauthorized"; break;
    case 403: t = "Forbidden"; break;
    case 404: t = "Not Found"; break;
    case 405: t = "Method Not Allowed"; break;
    case 409: t = "Conflict"; break;
    case 410: t = "Gone"; break;
    case 412: t = "Precondition Failed"; break;
    case 413: t = "Payload Too Large"; break;
    case 415: t = "Unsupported Media Type"; break;
    case 422: t = "Unprocessable Entity"; break;
    case 429: t = "Too Many Requests"; break;
    case 500: t = "Internal Server Error"; break;
    case 501: t = "Not Implemented"; break;
    case 503: t = "Service Unavailable"; break;
  }
  return std::to_string(s) + (*t ? std::string(" ") + t : std::string());
}

static std::string outcome_json(const Status& st, const char* severity = nullptr) {
  fhir::Issue i;
  i.severity = severity ? severity : st.code == Err::internal ? "fatal" : "error";
  i.code = st.ok() ? "informational" : fhir::issue_code_for(st);
  i.diagnostics = st.message;
  i.expression = st.expression;
  return json::write(fhir::operation_outcome(i));
}

static int status_of(const service::EntryResult& r) {
  using O = service::Outcome;
  switch (r.outcome) {
    case O::created: return 201;
    case O::updated: case O::unchanged: case O::exists: case O::read: return 200;
    case O::deleted: return 204;
    case O::not_modified: return 304;
    case O::failed: return http_status_for(r.error);
  }
  return 500;
}

void handle_bundle(Ctx& c) {
  c.interaction = "transaction";
  Status st = check_json_body(c);
  if (!st) return send_error(c, st);
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = c.app.cfg.limits.max_json_depth + 4;  // Bundle.entry[].resource
  auto doc = json::parse(c.req.body, po);
  if (!doc) return send_error(c, doc.status());
  service::BundleOptions opt(*c.access);
  opt.max_entries = c.app.cfg.limits.max_bundle_entries;
  opt.base_url = c.app.base_url;
  opt.limits.max_depth = c.app.cfg.limits.max_json_depth;
  opt.now_ms = c.app.clock->now_ms();
  auto r = c.app.service->bundle(std::move(*doc), opt);
  if (!r) return send_error(c, r.status());
  c.interaction = r->type;
  std::string prefer = c.header("Prefer");
  bool representation = prefer.find("return=representation") != std::string::npos;
  bool outcome = prefer.find("return=OperationOutcome") != std::string::npos;
  std::vector<fhir::BundleEntry> out;
  out.reserve(r->results.size());
  for (size_t i = 0; i < r->results.size(); ++i) {
    const service::EntryResult& x = r->results[i];
    fhir::BundleEntry be;
    int s = status_of(x);
    be.response_status = status_line(s);
    if (x.outcome == service::Outcome::failed) {
      be.response_outcome_json = outcome_json(x.error);
      out.push_back(std::move(be));
      continue;
    }
    bool has_version = x.version > 0 && !x.id.empty();
    bool written = x.outcome == service::Outcome::created || x.outcome == service::Outcome::updated ||
                   x.outcome == service::Outcome::unchanged || x.outcome == service::Outcome::exists;
    if (written) {
      be.full_url = c.app.base_url + "/" + x.type + "/" + x.id;
      be.response_location = x.type + "/" + x.id + "/_history/" + std::to_string(x.version);
    }
    if (has_version && x.outcome != service::Outcome::deleted) be.response_etag = etag(x.version);
    if (has_version && x.last_updated > 0 && x.outcome != service::Outcome::deleted)
      be.response_last_modified = timefmt::format_instant(x.last_updated);
    if (x.outcome == service::Outcome::read) {
      be.resource_json = x.body;
      if (!x.id.empty()) be.full_url = c.app.base_url + "/" + x.type + "/" + x.id;
    } else if (written && representation) {
      be.resource_json = x.body;
    }
    if (outcome && x.outcome != service::Outcome::read) {
      Status info(Err::ok, x.outcome == service::Outcome::unchanged ? "no change: identical to the current version"
                           : x.outcome == service::Outcome::exists   ? "ifNoneExist matched an existing resource"
                                                                    : "ok");
      be.response_outcome_json = outcome_json(info, "information");
    }
    out.push_back(std::move(be));
  }
  std::string body = fhir::write_bundle(r->type + "-response", -1, {}, out, c.app.clock->now_ms(), false,
                                        service::Repository::new_id());
  send_json(c, 200, body);
}

}  // namespace ef::http
