// http/write.cpp — create, update, patch, delete:
// https://hl7.org/fhir/R4/http.html#create #update #patch #delete
// Bodies are checked (media type, size, strict JSON, FHIR JSON rules, type/id agreement)
// before anything is written; a refused request changes nothing.
#include "fhir/resource.h"
#include "fhir/json_patch.h"
#include "http/handlers.h"
#include "http/restrict.h"

namespace ef::http {

static Result<json::Value> body_resource(Ctx& c) {
  Status st = check_json_body(c);
  if (!st) return st;
  fhir::ParseLimits lim;
  lim.max_depth = c.app.cfg.limits.max_json_depth;
  return fhir::parse_resource(c.req.body, lim);
}

static Result<service::WriteOptions> write_options(Ctx& c) {
  service::WriteOptions o;
  auto e = parse_etag(c.header("If-Match"));
  if (!e) return e.status();
  o.if_match = *e;
  return o;
}

static void send_write(Ctx& c, const service::WriteResult& w) {
  int status = w.created ? 201 : 200;
  send_resource(c, status, w.type, w.id, w.version, w.last_updated, w.body, w.created);
}

void handle_create(Ctx& c, const std::string& type) {
  c.interaction = "create";
  auto r = body_resource(c);
  if (!r) return send_error(c, r.status());
  Status st = fhir::check_type_and_id(*r, type, "", false);
  if (!st) return send_error(c, st);
  st = enforce_proposed(c, *r);
  if (!st) return send_error(c, st);
  auto w = c.app.repo->create(std::move(*r));
  if (!w) return send_error(c, w.status());
  c.id = w->id;
  send_write(c, *w);
}

void handle_update(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "update";
  if (!fhir::valid_id(id)) return send_error(c, Status(Err::invalid, "'" + id + "' is not a valid FHIR id"));
  auto r = body_resource(c);
  if (!r) return send_error(c, r.status());
  auto o = write_options(c);
  if (!o) return send_error(c, o.status());
  Status st = enforce_proposed(c, *r);
  if (!st) return send_error(c, st);
  auto w = c.app.repo->update(type, id, std::move(*r), *o);
  if (!w) return send_error(c, w.status());
  send_write(c, *w);
}

void handle_patch(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "patch";
  Status st = check_json_body(c, true);
  if (!st) return send_error(c, st);
  std::string ct = c.header("Content-Type");
  if (ct.find("json-patch") == std::string::npos)
    return send_error(c, Status(Err::unsupported_media, "PATCH needs Content-Type application/json-patch+json"));
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = c.app.cfg.limits.max_json_depth;
  auto p = json::parse(c.req.body, po);
  if (!p) return send_error(c, p.status());
  auto o = write_options(c);
  if (!o) return send_error(c, o.status());
  if (!c.decision.unrestricted()) {
    // Restricted token: the patched result must still be permitted.  Patch a copy of the
    // current version, check it, then patch for real pinned to that version.
    auto cur = c.app.resources->read(c.app.db->reader(), type, id);
    if (!cur) return send_error(c, cur.status());
    auto doc = fhir::parse_resource(cur->body);
    if (!doc) return send_error(c, Status(Err::internal, "stored resource cannot be parsed"));
    Status ps = fhir::apply_json_patch(*doc, *p);
    if (!ps) return send_error(c, ps);
    ps = enforce_proposed(c, *doc);
    if (!ps) return send_error(c, ps);
    if (!o->if_match) o->if_match = cur->version;
  }
  auto w = c.app.repo->patch(type, id, *p, *o);
  if (!w) return send_error(c, w.status());
  send_write(c, *w);
}

void handle_delete(Ctx& c, const std::string& type, const std::string& id) {
  c.interaction = "delete";
  auto o = write_options(c);
  if (!o) return send_error(c, o.status());
  auto w = c.app.repo->remove(type, id, *o);
  if (!w) return send_error(c, w.status());
  if (w->version > 0 && !w->unchanged) c.res.set_header("ETag", etag(w->version));
  c.res.status = 204;
}

}  // namespace ef::http
