// http/meta.cpp — $meta, $meta-add, $meta-delete:
// https://hl7.org/fhir/R4/resource-operation-meta.html , -meta-add.html , -meta-delete.html
//   GET|POST [base]/$meta, [base]/[type]/$meta    the profiles, tags and security labels in use
//                                                 in what the caller may search (no versionId)
//   GET|POST [base]/[type]/[id]/$meta,
//            [base]/[type]/[id]/_history/[vid]/$meta   that version's meta (authorized as read /
//                                                 vread)
//   POST [base]/[type]/[id]/$meta-add | $meta-delete  Parameters with one `meta` (valueMeta):
//                                                 its profiles, tags, security labels added to
//                                                 or removed from the current version, through
//                                                 the write path of PATCH (service layer:
//                                                 authorization, If-Match, validation); a
//                                                 change makes a new version, no change none
// Every answer is a Parameters with one `return` (valueMeta).  Parsing and formatting only.
#include "http/meta.h"

#include "fhir/fhirpath_patch.h"
#include "fhir/resource.h"
#include "service/service.h"

namespace ef::http {

namespace {

constexpr size_t kMaxMetaCodes = 1000;  // per kind (profiles, tags, security) at system/type level

void send_meta(Ctx& c, json::Value meta) {
  json::Object p;
  p["name"] = json::Value(std::string("return"));
  p["valueMeta"] = std::move(meta);
  json::Object out;
  out["resourceType"] = json::Value(std::string("Parameters"));
  out["parameter"] = json::Value(json::Array{json::Value(std::move(p))});
  send_json(c, 200, json::write(json::Value(std::move(out))));
}

json::Value codings(const std::vector<std::pair<std::string, std::string>>& v) {
  json::Array a;
  for (const auto& [sys, code] : v) {
    json::Object o;
    if (!sys.empty()) o["system"] = json::Value(sys);
    o["code"] = json::Value(code);
    a.push_back(json::Value(std::move(o)));
  }
  return json::Value(std::move(a));
}

}  // namespace

void handle_meta(Ctx& c, const std::string& type, const std::string& id, const std::string& vid) {
  c.interaction = "operation";
  if (id.empty()) {
    auto m = c.app.service->meta_summary(*c.access, type, kMaxMetaCodes);
    if (!m) return send_error(c, m.status());
    json::Object meta;
    if (!m->profiles.empty()) {
      json::Array a;
      for (const auto& p : m->profiles) a.push_back(json::Value(p));
      meta["profile"] = json::Value(std::move(a));
    }
    if (!m->tags.empty()) meta["tag"] = codings(m->tags);
    if (!m->security.empty()) meta["security"] = codings(m->security);
    return send_meta(c, json::Value(std::move(meta)));
  }
  int64_t version = 0;
  if (!vid.empty()) {
    auto e = parse_etag(vid);
    if (!e || !*e) return send_error(c, Status(Err::invalid, "'" + vid + "' is not a version id"));
    version = **e;
  }
  auto m = c.app.service->meta(*c.access, type, id, version);
  if (!m) return send_error(c, m.status());
  send_meta(c, std::move(*m));
}

void handle_meta_change(Ctx& c, const std::string& type, const std::string& id, bool add) {
  c.interaction = "operation";
  const char* op = add ? "$meta-add" : "$meta-delete";
  if (c.req.method != "POST") return send_error(c, Status(Err::method_not_allowed, std::string(op) + " needs POST"));
  if (!fhir::valid_id(id)) return send_error(c, Status(Err::invalid, "'" + id + "' is not a valid FHIR id"));
  if (Status st = check_json_body(c); !st) return send_error(c, st);
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = c.app.cfg.limits.max_json_depth;
  auto body = json::parse(c.req.body, po);
  if (!body) return send_error(c, body.status());
  if (!fhir::is_fhirpath_patch(*body))  // i.e. a Parameters
    return send_error(c, Status(Err::invalid, std::string(op) + " takes a Parameters resource"));
  if (Status st = fhir::check_json_rules(*body); !st) return send_error(c, st);
  const json::Array* ps = json::get_array(*body, "parameter");
  const json::Value* meta = ps && ps->size() == 1 && json::string_or((*ps)[0], "name") == "meta"
                                ? json::get((*ps)[0], "valueMeta")
                                : nullptr;
  if (!meta || !json::is_object(*meta))
    return send_error(c, Status(Err::invalid, std::string(op) + " takes exactly one parameter 'meta' with a valueMeta",
                                "Parameters.parameter"));
  if (auto m = parse_etag(c.header("If-Match")); !m) return send_error(c, m.status());
  service::EntryRequest e;
  e.method = "PATCH";
  e.type = type;
  e.id = id;
  e.url = type + "/" + id;
  e.if_match = c.header("If-Match");
  e.patch = *meta;
  e.meta_op = add ? "meta-add" : "meta-delete";
  service::BundleOptions opt(*c.access);
  opt.base_url = c.app.base_url;
  opt.limits.max_depth = c.app.cfg.limits.max_json_depth;
  opt.now_ms = c.app.clock->now_ms();
  auto r = c.app.service->execute(e, opt);
  if (!r) return send_error(c, r.status());
  auto doc = fhir::parse_resource(r->body);
  if (!doc) return send_error(c, Status(Err::internal, "stored resource cannot be parsed"));
  if (r->version > 0) c.res.set_header("ETag", etag(r->version));
  send_meta(c, fhir::meta_of(*doc, true));
}

}  // namespace ef::http
