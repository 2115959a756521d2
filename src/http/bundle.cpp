// http/bundle.cpp — see bundle.h.
#include "http/bundle.h"

#include "http/errors.h"

#include "auth/policy.h"
#include "fhir/outcome.h"
#include "util/time.h"

namespace ef::http {

static int status_of(const service::EntryResult& r) {
  using O = service::Outcome;
  switch (r.outcome) {
    case O::created: return 201;
    case O::updated: case O::unchanged: case O::exists: case O::read: return 200;
    case O::deleted: return 204;
    case O::not_modified: return 304;
    case O::failed: return http_status(r.error);
  }
  return 500;
}

// The audit record of one entry: the interaction it was decided as, its target and status.
static void audit_entry(Ctx& c, const service::EntryRequest* e, const service::EntryResult& x) {
  Ctx::EntryAudit a;
  if (e) {
    const std::string& m = e->method;
    a.interaction = m == "POST"    ? "create"
                    : m == "PUT"   ? "update"
                    : m == "PATCH" ? "patch"
                    : m == "DELETE" ? "delete"
                    : !e->vid.empty() ? "vread"
                    : !e->id.empty()  ? "read"
                                      : "search-type";
    a.type = e->type;
    a.id = e->id;
    a.query = e->query;
  }
  if (a.id.empty()) a.id = x.id;
  a.status = status_of(x);
  if (x.outcome == service::Outcome::failed) a.outcome = x.error.message;
  c.entry_audits.push_back(std::move(a));
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
  opt.max_response_bytes = c.app.cfg.limits.max_response_bytes;
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
    audit_entry(c, i < r->requests.size() ? &r->requests[i] : nullptr, x);
    fhir::BundleEntry be;
    int s = status_of(x);
    be.response_status = status_line(s);
    if (x.outcome == service::Outcome::failed) {
      be.response_outcome_json = outcome_json(x.error, c.request_id);
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
      be.response_outcome_json = outcome_json(info, c.request_id, "information");
    }
    out.push_back(std::move(be));
  }
  std::string body = fhir::write_bundle(r->type + "-response", -1, {}, out, c.app.clock->now_ms(), false,
                                        service::Repository::new_id());
  send_json(c, 200, body);
}

}  // namespace ef::http
