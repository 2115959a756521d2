// http/bundle.cpp — see bundle.h.
#include "http/bundle.h"

#include "auth/policy.h"
#include "fhir/outcome.h"
#include "http/restrict.h"
#include "store/search.h"
#include "util/time.h"

namespace ef::http {

fhir::MatchResolver match_resolver(App& app) {
  std::string base = app.base_url;
  return [base](store::Conn& c, const std::string& type, const std::string& q, size_t limit) {
    return store::resolve_matches(c, type, q, limit, base);
  };
}

std::function<Status(store::Conn&, const fhir::EntryAccess&)> entry_authorizer(Ctx& c) {
  if (!c.principal || !c.app.policy) return {};
  return [&c](store::Conn& conn, const fhir::EntryAccess& a) -> Status {
    auth::Request r;
    if (!auth::parse_interaction(a.interaction, &r.interaction))
      return Status(Err::forbidden, "forbidden: interaction '" + a.interaction + "' cannot be authorized");
    r.type = a.type;
    r.id = a.id;
    auth::Decision d = c.app.policy->decide(*c.principal, r);
    if (!d.allowed) return Status(Err::forbidden, "forbidden: " + d.reason);
    if (d.unrestricted()) return Status();
    // Restricted (SMART patient/ or ?param scopes): check the content involved.
    auth::Decision saved = c.decision;
    c.decision = d;
    Status st;
    if (!restriction_supported(c, r.interaction)) {
      st = Status(Err::forbidden, "forbidden: the token's scopes restrict access (" + d.reason + ") and " +
                                      a.interaction + " inside a Bundle cannot apply that restriction");
    } else {
      if (!a.id.empty() && !a.after_write && a.interaction != "create") {
        auto cur = c.app.resources->current(conn, a.type, a.id);
        if (cur && *cur && !(*cur)->deleted) st = enforce_stored(c, a.type, a.id);
      }
      if (st.ok() && a.resource) st = enforce_proposed(c, *a.resource);
    }
    c.decision = saved;
    return st;
  };
}

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

static int status_of(const fhir::EntryResult& r) {
  using O = fhir::Outcome;
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
  fhir::BundleOptions opt;
  opt.max_entries = c.app.cfg.limits.max_bundle_entries;
  opt.base_url = c.app.base_url;
  opt.limits.max_depth = c.app.cfg.limits.max_json_depth;
  opt.authorize = entry_authorizer(c);
  opt.now_ms = c.app.clock->now_ms();
  opt.max_response_bytes = c.app.cfg.limits.max_response_bytes;
  fhir::BundleProcessor bp(*c.app.repo, match_resolver(c.app));
  auto r = bp.process(std::move(*doc), opt);
  if (!r) return send_error(c, r.status());
  c.interaction = r->type;
  std::string prefer = c.header("Prefer");
  bool representation = prefer.find("return=representation") != std::string::npos;
  bool outcome = prefer.find("return=OperationOutcome") != std::string::npos;
  std::vector<fhir::BundleEntry> out;
  out.reserve(r->results.size());
  for (size_t i = 0; i < r->results.size(); ++i) {
    const fhir::EntryResult& x = r->results[i];
    fhir::BundleEntry be;
    int s = status_of(x);
    be.response_status = status_line(s);
    if (x.outcome == fhir::Outcome::failed) {
      be.response_outcome_json = outcome_json(x.error);
      out.push_back(std::move(be));
      continue;
    }
    bool has_version = x.version > 0 && !x.id.empty();
    bool written = x.outcome == fhir::Outcome::created || x.outcome == fhir::Outcome::updated ||
                   x.outcome == fhir::Outcome::unchanged || x.outcome == fhir::Outcome::exists;
    if (written) {
      be.full_url = c.app.base_url + "/" + x.type + "/" + x.id;
      be.response_location = x.type + "/" + x.id + "/_history/" + std::to_string(x.version);
    }
    if (has_version && x.outcome != fhir::Outcome::deleted) be.response_etag = etag(x.version);
    if (has_version && x.last_updated > 0 && x.outcome != fhir::Outcome::deleted)
      be.response_last_modified = timefmt::format_instant(x.last_updated);
    if (x.outcome == fhir::Outcome::read) {
      be.resource_json = x.body;
      if (!x.id.empty()) be.full_url = c.app.base_url + "/" + x.type + "/" + x.id;
    } else if (written && representation) {
      be.resource_json = x.body;
    }
    if (outcome && x.outcome != fhir::Outcome::read) {
      Status info(Err::ok, x.outcome == fhir::Outcome::unchanged ? "no change: identical to the current version"
                           : x.outcome == fhir::Outcome::exists   ? "ifNoneExist matched an existing resource"
                                                                    : "ok");
      be.response_outcome_json = outcome_json(info, "information");
    }
    out.push_back(std::move(be));
  }
  std::string body = fhir::write_bundle(r->type + "-response", -1, {}, out, c.app.clock->now_ms(), false,
                                        fhir::Repository::new_id());
  send_json(c, 200, body);
}

}  // namespace ef::http
