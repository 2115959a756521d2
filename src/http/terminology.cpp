// http/terminology.cpp — the terminology operations over HTTP (issue 21), type and instance
// level, GET (query parameters) and POST (a Parameters body, JSON or XML — XML bodies arrive
// here as JSON, http/xml_body.h — or a form):
//   ValueSet/$expand, ValueSet/[id]/$expand              https://hl7.org/fhir/R4/valueset-operation-expand.html
//   ValueSet/$validate-code, ValueSet/[id]/$validate-code
//   CodeSystem/$validate-code, CodeSystem/[id]/$validate-code
//   CodeSystem/$lookup, CodeSystem/[id]/$lookup          https://hl7.org/fhir/R4/codesystem-operation-lookup.html
//   CodeSystem/$subsumes, CodeSystem/[id]/$subsumes
//   ConceptMap/$translate, ConceptMap/[id]/$translate    https://hl7.org/fhir/R4/conceptmap-operation-translate.html
// This file parses the parameters into a service::TermRequest and formats the answer; the
// work and the authorization of stored content are service/terminology.h.
#include "auth/policy.h"
#include "http/operations.h"
#include "http/terminology.h"
#include "service/terminology.h"

namespace ef::http {

namespace {

using service::TermRequest;

Status bad(const std::string& name, const std::string& why) { return Status(Err::invalid, name + ": " + why, name); }

Status set_int(const std::string& name, const std::string& v, int64_t* out) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return bad(name, "'" + v + "' is not a non-negative integer");
  *out = std::stoll(v);
  return Status();
}

Status set_bool(const std::string& name, const std::string& v, bool* out) {
  if (v != "true" && v != "false") return bad(name, "'" + v + "' is not true or false");
  *out = v == "true";
  return Status();
}

fhir::term::CodeRef coding_of(const json::Value& c) {
  fhir::term::CodeRef r;
  r.system = json::string_or(c, "system");
  r.version = json::string_or(c, "version");
  r.code = json::string_or(c, "code");
  r.display = json::string_or(c, "display");
  return r;
}

// One simple (name, text) parameter into the request.
Status apply(const std::string& op, const std::string& name, const std::string& v, TermRequest* r) {
  if (name == "url") r->url = v;
  else if (name == "valueSetVersion" || name == "conceptMapVersion") r->version = v;
  else if (name == "filter") r->expand.filter = v;
  else if (name == "count") return set_int(name, v, &r->expand.count);
  else if (name == "offset") return set_int(name, v, &r->expand.offset);
  else if (name == "activeOnly") return set_bool(name, v, &r->expand.active_only);
  else if (name == "includeDesignations") return set_bool(name, v, &r->expand.include_designations);
  else if (name == "displayLanguage") r->expand.display_language = v;
  else if (name == "code") r->code.code = v;
  else if (name == "system") r->code.system = v;
  else if (name == "version" || name == "systemVersion") {
    if (op == "$validate-code" && name == "version") r->version = v;  // CodeSystem/$validate-code
    else r->code.version = v;
  } else if (name == "display") r->code.display = v;
  else if (name == "codeA") r->code_a = v;
  else if (name == "codeB") r->code_b = v;
  else if (name == "targetsystem") r->target_system = v;
  else if (name == "target") r->target = v;
  else if (name == "source") r->source = v;
  else if (name == "reverse") return set_bool(name, v, &r->reverse);
  else if (name == "property") r->properties.push_back(v);
  else if (name == "_format" || name == "_pretty" || name == "context" || name == "date" || name == "abstract" ||
           name == "excludeNested" || name == "includeDefinition" || name == "limitedExpansion" || name == "profile" ||
           name == "lenient")
    ;  // accepted, no effect here
  else
    return bad(name, "unknown parameter of " + op);
  return Status();
}

// A Parameters body.
Status from_parameters(const std::string& op, const json::Value& body, TermRequest* r) {
  if (json::string_or(body, "resourceType") != "Parameters")
    return Status(Err::invalid, "POST a Parameters resource to " + op);
  const json::Array* ps = json::get_array(body, "parameter");
  if (!ps) return Status();
  for (const auto& p : *ps) {
    std::string name = json::string_or(p, "name");
    if (const json::Value* res = json::get(p, "resource")) {
      if (name != "valueSet" && name != "conceptMap" && name != "codeSystem")
        return bad(name, "a resource is not expected in this parameter");
      r->resource = *res;
      continue;
    }
    const json::Object* o = json::as_object(p);
    if (!o) continue;
    const json::Value* val = nullptr;
    std::string member;
    for (const auto& kv : *o)
      if (kv.first.compare(0, 5, "value") == 0) val = &kv.second, member = kv.first;
    if (!val) return bad(name, "has no value");
    if (member == "valueCoding") {
      auto c = coding_of(*val);
      if (name == "coding") r->code = c;
      else if (name == "codingA") r->code_a = c.code, r->code.system = c.system;
      else if (name == "codingB") r->code_b = c.code, r->code.system = c.system.empty() ? r->code.system : c.system;
      else return bad(name, "a Coding is not expected here");
      continue;
    }
    if (member == "valueCodeableConcept") {
      if (name != "codeableConcept") return bad(name, "a CodeableConcept is not expected here");
      if (const json::Array* cs = json::get_array(*val, "coding"))
        for (const auto& c : *cs) r->codings.push_back(coding_of(c));
      continue;
    }
    std::string text;
    if (const std::string* s = json::as_string(*val)) text = *s;
    else if (val->is<bool>()) text = val->get<bool>() ? "true" : "false";
    else if (json::is_number(*val)) text = json::number_text(*val);
    else return bad(name, "unexpected value type " + member);
    Status st = apply(op, name, text, r);
    if (!st) return st;
  }
  return Status();
}

}  // namespace

bool is_terminology_operation(const std::string& type, const std::string& op) {
  if (type == "ValueSet") return op == "$expand" || op == "$validate-code";
  if (type == "CodeSystem") return op == "$lookup" || op == "$subsumes" || op == "$validate-code";
  if (type == "ConceptMap") return op == "$translate";
  return false;
}

void handle_terminology(Ctx& c, const std::string& type, const std::string& id, const std::string& op) {
  const std::string& m = c.req.method;
  if (m != "GET" && m != "HEAD" && m != "POST")
    return send_error(c, Status(Err::method_not_allowed, op + " takes GET or POST"));
  // Bundled content needs no permission, but a caller whose claims do not parse (a malformed
  // scope, an unreadable fhirUser) is refused here as everywhere: fail closed.
  if (const auth::Principal* who = c.access->principal())
    if (std::string why = auth::Policy::unreadable_claims(*who); !why.empty())
      return send_error(c, Status(Err::forbidden, "forbidden: " + op + " requires readable claims; " + why));
  TermRequest r;
  r.id = id;
  auto params = operation_params(c);
  if (!params) return send_error(c, params.status());
  for (const auto& kv : *params) {
    Status st = apply(op, kv.first, kv.second, &r);
    if (!st) return send_error(c, st);
  }
  if (m == "POST" && !c.req.body.empty() &&
      media_type(c.header("Content-Type")) != "application/x-www-form-urlencoded") {
    Status st = check_json_body(c);
    if (!st) return send_error(c, st);
    json::ParseOptions po;
    po.preserve_numbers = true;
    po.max_depth = c.app.cfg.limits.max_json_depth > 0 ? size_t(c.app.cfg.limits.max_json_depth) : 64;
    auto body = json::parse(c.req.body, po);
    if (!body) return send_error(c, body.status());
    st = from_parameters(op, *body, &r);
    if (!st) return send_error(c, st);
  }
  if (r.resource && !id.empty())
    return send_error(c, Status(Err::invalid, op + " on " + type + "/" + id + " takes no inline resource"));
  service::Terminology& t = c.app.service->terminology();
  Result<json::Value> out = Status(Err::internal, "not run");
  if (op == "$expand") out = t.expand(*c.access, r);
  else if (op == "$validate-code") out = t.validate_code(*c.access, type, r);
  else if (op == "$lookup") out = t.lookup(*c.access, r);
  else if (op == "$subsumes") out = t.subsumes(*c.access, r);
  else if (op == "$translate") out = t.translate(*c.access, r);
  if (!out) return send_error(c, out.status());
  send_json(c, 200, json::write(*out));
}

}  // namespace ef::http
