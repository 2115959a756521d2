// http/write.cpp — create, update, patch, delete and their conditional forms:
// https://hl7.org/fhir/R4/http.html#create #update #patch #delete #cond-update #cdelete #ccreate
// Each handler parses the request (media type, size, strict JSON, FHIR JSON rules, type/id
// agreement, preconditions; a PATCH body is a JSON Patch or a FHIRPath Patch Parameters)
// into one service::EntryRequest and runs it through the
// interaction layer (service::Service::execute): the same code a Bundle entry runs, inside
// one write transaction, so a condition and the write it guards see the same state and the
// caller's authorization is applied the same way.  A refused request changes nothing.
#include "fhir/fhirpath_patch.h"
#include "fhir/outcome.h"
#include "fhir/resource.h"
#include "http/conditional.h"
#include "http/handlers.h"

namespace ef::http {

namespace {

Result<json::Value> body_resource(Ctx& c) {
  Status st = check_json_body(c);
  if (!st) return st;
  fhir::ParseLimits lim;
  lim.max_depth = c.app.cfg.limits.max_json_depth;
  return fhir::parse_resource(c.req.body, lim);
}

// The patch document: a JSON Patch (application/json-patch+json) or a FHIRPath Patch, a
// Parameters resource (application/fhir+json or application/json).
Result<json::Value> body_patch(Ctx& c) {
  Status st = check_json_body(c, true);
  if (!st) return st;
  if (media_type(c.header("Content-Type")) != "application/json-patch+json") {
    json::ParseOptions po;
    po.preserve_numbers = true;
    po.max_depth = c.app.cfg.limits.max_json_depth;
    auto r = json::parse(c.req.body, po);
    if (!r) return r.status();
    if (!fhir::is_fhirpath_patch(*r))
      return Status(Err::unsupported_media, "a PATCH with Content-Type " + media_type(c.header("Content-Type")) +
                                                " must be a FHIRPath Patch (a Parameters resource); send a JSON Patch as "
                                                "application/json-patch+json");
    if (Status rules = fhir::check_json_rules(*r); !rules) return rules;
    return r;
  }
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = c.app.cfg.limits.max_json_depth;
  auto r = json::parse(c.req.body, po);
  if (r && !json::is_array(*r)) return Status(Err::invalid, "a JSON Patch must be an array of operations");
  return r;
}

// The query string without the parameters that are not search criteria.
std::string condition(const Ctx& c, std::string* count) {
  const std::string& t = c.req.target;
  size_t q = t.find('?');
  if (q == std::string::npos) return {};
  std::string out;
  size_t i = q + 1;
  while (i <= t.size()) {
    size_t j = t.find('&', i);
    if (j == std::string::npos) j = t.size();
    std::string part = t.substr(i, j - i);
    std::string name = part.substr(0, part.find('='));
    if (name == "_count" && count) {
      *count = part.size() > name.size() ? part.substr(name.size() + 1) : std::string();
    } else if (!part.empty() && name != "_format" && name != "_pretty") {
      if (!out.empty()) out += '&';
      out += part;
    }
    i = j + 1;
  }
  return out;
}

Result<service::EntryResult> run(Ctx& c, service::EntryRequest& e) {
  service::BundleOptions opt(*c.access);
  opt.base_url = c.app.base_url;
  opt.limits.max_depth = c.app.cfg.limits.max_json_depth;
  opt.now_ms = c.app.clock->now_ms();
  return c.app.service->execute(e, opt);
}

void send_result(Ctx& c, const service::EntryResult& r) {
  if (!r.id.empty()) c.id = r.id;
  int status = r.outcome == service::Outcome::created ? 201 : 200;
  send_resource(c, status, r.type, r.id, r.version, r.last_updated, r.body, r.outcome == service::Outcome::created);
}

// The entry of a write on Type/id (id set) or Type?query (query set).
service::EntryRequest entry(Ctx& c, const char* method, const std::string& type, const std::string& id,
                            const std::string& query) {
  service::EntryRequest e;
  e.method = method;
  e.type = type;
  e.id = id;
  e.query = query;
  e.url = !id.empty() ? type + "/" + id : !query.empty() ? type + "?" + query : type;
  e.if_match = c.header("If-Match");
  return e;
}

void execute_and_send(Ctx& c, service::EntryRequest& e) {
  auto r = run(c, e);
  if (!r) return send_error(c, r.status());
  send_result(c, *r);
}

void send_deleted(Ctx& c, const service::EntryResult& r) {
  if (!r.deleted.empty() && r.version > 0) c.res.set_header("ETag", etag(r.version));
  c.res.status = 204;
}

}  // namespace

void handle_create(Ctx& c, const std::string& type) {
  c.interaction = "create";
  auto res = body_resource(c);
  if (!res) return send_error(c, res.status());
  Status st = fhir::check_type_and_id(*res, type, "", false);
  if (!st) return send_error(c, st);
  service::EntryRequest e = entry(c, "POST", type, "", "");
  e.if_match.clear();
  e.resource = std::move(*res);
  e.if_none_exist = c.header("If-None-Exist");
  execute_and_send(c, e);
}

void handle_create_conditional(Ctx& c, const std::string& type) { handle_create(c, type); }

void handle_update(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "update";
  if (!fhir::valid_id(id)) return send_error(c, Status(Err::invalid, "'" + id + "' is not a valid FHIR id"));
  auto res = body_resource(c);
  if (!res) return send_error(c, res.status());
  if (auto m = parse_etag(c.header("If-Match")); !m) return send_error(c, m.status());
  service::EntryRequest e = entry(c, "PUT", type, id, "");
  e.resource = std::move(*res);
  e.if_none_match = c.header("If-None-Match");
  execute_and_send(c, e);
}

void handle_conditional_update(Ctx& c, const std::string& type) {
  c.interaction = "update";
  std::string q = condition(c, nullptr);
  if (q.empty()) return send_error(c, Status(Err::invalid, "PUT on a type needs search parameters (conditional update)"));
  auto res = body_resource(c);
  if (!res) return send_error(c, res.status());
  if (fhir::resource_type_of(*res) != type)
    return send_error(c, Status(Err::invalid, "resourceType '" + fhir::resource_type_of(*res) +
                                                  "' does not match the URL type '" + type + "'"));
  service::EntryRequest e = entry(c, "PUT", type, "", q);
  e.resource = std::move(*res);
  e.if_none_match = c.header("If-None-Match");
  execute_and_send(c, e);
}

void handle_patch(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "patch";
  auto p = body_patch(c);
  if (!p) return send_error(c, p.status());
  if (auto m = parse_etag(c.header("If-Match")); !m) return send_error(c, m.status());
  service::EntryRequest e = entry(c, "PATCH", type, id, "");
  e.patch = std::move(*p);
  execute_and_send(c, e);
}

void handle_conditional_patch(Ctx& c, const std::string& type) {
  c.interaction = "patch";
  std::string q = condition(c, nullptr);
  if (q.empty()) return send_error(c, Status(Err::invalid, "PATCH on a type needs search parameters (conditional patch)"));
  auto p = body_patch(c);
  if (!p) return send_error(c, p.status());
  service::EntryRequest e = entry(c, "PATCH", type, "", q);
  e.patch = std::move(*p);
  execute_and_send(c, e);
}

void handle_delete(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "delete";
  if (auto m = parse_etag(c.header("If-Match")); !m) return send_error(c, m.status());
  service::EntryRequest e = entry(c, "DELETE", type, id, "");
  auto r = run(c, e);
  if (!r) return send_error(c, r.status());
  send_deleted(c, *r);
}

void handle_conditional_delete(Ctx& c, const std::string& type) {
  c.interaction = "delete";
  std::string count;
  std::string q = condition(c, &count);
  if (q.empty())
    return send_error(c, Status(Err::invalid, "DELETE on a type needs search parameters (conditional delete)"));
  service::EntryRequest e = entry(c, "DELETE", type, "", q);
  bool multiple = !count.empty();
  if (multiple) {
    if (count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos || std::stoul(count) < 1 ||
        std::stoul(count) > kMaxConditionalDeletes)
      return send_error(c, Status(Err::invalid, "_count of a conditional delete must be 1.." +
                                                    std::to_string(kMaxConditionalDeletes)));
    e.max_deletes = std::stoul(count);
  }
  auto r = run(c, e);
  if (!r) return send_error(c, r.status());
  if (!multiple) {
    if (r->deleted.size() == 1) c.id = r->id;
    return send_deleted(c, *r);
  }
  fhir::Issue i;
  i.severity = "information";
  i.code = "informational";
  i.diagnostics = "deleted " + std::to_string(r->deleted.size()) + " resource(s)";
  for (size_t k = 0; k < r->deleted.size() && k < 100; ++k)
    i.diagnostics += (k ? ", " : ": ") + r->deleted[k].first + "/" + r->deleted[k].second;
  if (r->deleted.size() > 100) i.diagnostics += ", ...";
  send_json(c, 200, json::write(fhir::operation_outcome(i)));
}

}  // namespace ef::http
