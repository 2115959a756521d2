// http/validate.cpp — $validate (https://hl7.org/fhir/R4/resource-operation-validate.html):
//   POST [type]/$validate            body: the resource, or Parameters{resource, mode, profile}
//   POST [type]/[id]/$validate       the same; mode defaults to update (id must match)
//   GET  [type]/[id]/$validate       validates the stored resource
//   POST /$validate                  system level: the type is the posted resource's (or that of
//                                    the Parameters' `resource`); decided as [type]/$validate
// A Parameters body is the operation's input Parameters (resource, mode, profile) on every
// type; on Parameters/$validate only when it has a `resource` parameter holding a resource and
// no other parameter than resource, mode and profile -- any other Parameters posted there is the
// resource to validate itself.
// The checks are fhir/validate.h (the R4 type model; every resource type, also Parameters,
// which server.cpp routes here although it is never stored).  The answer is an
// OperationOutcome with 200 whenever the validation could be performed, valid or not
// ("All OK" as one information issue when nothing was found); a body that is not JSON
// at all is reported the same way, as a structure error.  4xx only when the request itself
// is unusable (unsupported media type, unknown mode, no resource in Parameters).
#include "fhir/resource.h"
#include "fhir/validate.h"
#include "http/operations.h"
#include "service/access.h"

namespace ef::http {

namespace {

void send_issues(Ctx& c, std::vector<fhir::Issue> issues) {
  if (issues.empty()) {
    fhir::Issue ok;
    ok.severity = "information";
    ok.code = "informational";
    ok.diagnostics = "All OK";
    issues.push_back(ok);
  }
  send_json(c, 200, json::write(fhir::operation_outcome(issues)));
}

Status check_mode(const std::string& mode, const std::string& id) {
  if (mode.empty() || mode == "create" || mode == "update") {
    if (mode == "update" && id.empty())
      return Status(Err::invalid, "mode 'update' needs an instance: POST [type]/[id]/$validate", "mode");
    return Status();
  }
  if (mode == "delete") {
    if (id.empty()) return Status(Err::invalid, "mode 'delete' needs an instance: [type]/[id]/$validate", "mode");
    return Status();
  }
  return Status(Err::invalid, "mode '" + mode + "' is not one of create, update, delete", "mode");
}

// Parameters shaped as the input of $validate: one or more `resource` parameters with a
// resource, and nothing but resource, mode and profile.
bool is_validate_input(const json::Value& body) {
  const json::Array* ps = json::get_array(body, "parameter");
  if (!ps) return false;
  bool has_resource = false;
  for (const auto& p : *ps) {
    std::string name = json::string_or(p, "name");
    if (name == "resource") {
      if (!json::get(p, "resource")) return false;
      has_resource = true;
    } else if (name != "mode" && name != "profile") {
      return false;
    }
  }
  return has_resource;
}

}  // namespace

std::string system_validate_type(const Ctx& c) {
  json::ParseOptions po;
  po.max_depth = c.app.cfg.limits.max_json_depth > 0 ? size_t(c.app.cfg.limits.max_json_depth) : 64;
  auto body = json::parse(c.req.body, po);
  if (!body) return "";
  std::string type = json::string_or(*body, "resourceType");
  if (type == "Parameters" && is_validate_input(*body)) {
    for (const auto& p : *json::get_array(*body, "parameter"))
      if (json::string_or(p, "name") == "resource") type = json::string_or(*json::get(p, "resource"), "resourceType");
  }
  return fhir::is_validatable_type(type) ? type : "";
}

void handle_system_validate(Ctx& c) {
  if (c.req.method != "POST") return send_error(c, Status(Err::method_not_allowed, "$validate takes POST"));
  Status st = check_json_body(c);
  if (!st) return send_error(c, st);
  std::string type = system_validate_type(c);
  if (type.empty())
    return send_error(c, Status(Err::invalid,
                                "POST /$validate takes a resource (or Parameters with a 'resource') whose resourceType "
                                "is an R4 resource type; use [type]/$validate otherwise"));
  // The route was admitted on the type read from the body before an XML body became JSON (or
  // on no type): the caller must be allowed on the type actually validated.
  if (type != c.type) {
    st = c.access->require(auth::Interaction::validate, type);
    if (!st) return send_error(c, st);
    c.type = type;
  }
  handle_validate(c, type, "");
}

void handle_validate(Ctx& c, const std::string& type, const std::string& id) {
  const std::string& m = c.req.method;
  if (m != "GET" && m != "POST")
    return send_error(c, Status(Err::method_not_allowed, "$validate takes POST (or GET on an instance)"));
  auto params = operation_params(c);
  if (!params) return send_error(c, params.status());
  std::string mode;
  std::vector<fhir::Issue> notes;
  auto profile_note = [&](const std::string& p) {
    fhir::Issue i;
    i.severity = "warning";
    i.code = "not-supported";
    i.diagnostics = "validation against profile '" + p + "' is not supported; only the base R4 structure was checked";
    i.expression = "profile";
    notes.push_back(i);
  };
  for (const auto& kv : *params) {
    if (kv.first == "mode") mode = kv.second;
    else if (kv.first == "profile") profile_note(kv.second);
  }
  json::ParseOptions po;
  po.preserve_numbers = true;
  po.max_depth = c.app.cfg.limits.max_json_depth > 0 ? size_t(c.app.cfg.limits.max_json_depth) : 64;

  if (m == "GET") {
    if (id.empty())
      return send_error(c, Status(Err::method_not_allowed, "POST the resource to " + type + "/$validate"));
    Status st = check_mode(mode, id);
    if (!st) return send_error(c, st);
    auto v = c.app.service->read(*c.access, type, id);
    if (!v) return send_error(c, v.status());
    if (mode == "delete") return send_issues(c, notes);
    auto res = json::parse(v->body, po);
    if (!res) return send_error(c, Status(Err::internal, "the stored resource cannot be parsed"));
    fhir::ValidateOptions vo;
    vo.expected_type = type;
    vo.expected_id = id;
    auto issues = fhir::validate_resource(*res, vo);
    issues.insert(issues.end(), notes.begin(), notes.end());
    return send_issues(c, issues);
  }

  // POST
  if (mode == "delete") {
    Status st = check_mode(mode, id);
    if (!st) return send_error(c, st);
    auto cur = c.app.service->read(*c.access, type, id);
    if (!cur) return send_error(c, cur.status());
    return send_issues(c, notes);
  }
  if (c.req.body.empty()) {
    if (!id.empty()) return send_error(c, Status(Err::invalid, "POST the resource to validate (or GET " + type + "/" + id + "/$validate)"));
    return send_error(c, Status(Err::invalid, "POST the resource to validate in the body"));
  }
  Status st = check_json_body(c);
  if (!st) return send_error(c, st);
  auto body = json::parse(c.req.body, po);
  if (!body) {
    fhir::Issue i;
    i.severity = "error";
    i.code = "structure";
    i.diagnostics = "the body is not well-formed JSON: " + body.status().message;
    notes.insert(notes.begin(), i);
    return send_issues(c, notes);
  }
  const json::Value* resource = &*body;
  if (json::string_or(*body, "resourceType") == "Parameters" && (type != "Parameters" || is_validate_input(*body))) {
    resource = nullptr;
    if (const json::Array* ps = json::get_array(*body, "parameter")) {
      for (const auto& p : *ps) {
        std::string name = json::string_or(p, "name");
        if (name == "resource") resource = json::get(p, "resource");
        else if (name == "mode") mode = json::string_or(p, "valueCode");
        else if (name == "profile") profile_note(json::string_or(p, "valueUri", json::string_or(p, "valueCanonical")));
      }
    }
    if (mode == "delete") {  // nothing to validate in the body: the stored instance must exist
      Status st = check_mode(mode, id);
      if (!st) return send_error(c, st);
      auto cur = c.app.service->read(*c.access, type, id);
      if (!cur) return send_error(c, cur.status());
      return send_issues(c, notes);
    }
    if (!resource)
      return send_error(c, Status(Err::invalid, "the Parameters have no 'resource' parameter to validate", "Parameters.parameter"));
  }
  st = check_mode(mode, id);
  if (!st) return send_error(c, st);
  fhir::ValidateOptions vo;
  vo.expected_type = type;
  if (!id.empty() && mode != "create") {
    vo.expected_id = id;
    vo.require_id = true;
  }
  auto issues = fhir::validate_resource(*resource, vo);
  issues.insert(issues.end(), notes.begin(), notes.end());
  send_issues(c, issues);
}

}  // namespace ef::http
