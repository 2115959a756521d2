// fhir/capability.cpp — see capability.h.  https://hl7.org/fhir/R4/capabilitystatement.html
#include "fhir/capability.h"

#include "fhir/resource_types.h"
#include "fhir/search_params.h"
#include "util/time.h"

namespace ef::fhir {

static json::Value code_obj(const std::string& c) {
  json::Object o;
  o["code"] = json::Value(c);
  return json::Value(o);
}

static const char* kUnsupportedParamUrl = "https://edgefhir.dev/fhir/StructureDefinition/unsupported-search-parameter";

json::Array search_param_statements(const std::string& type) {
  json::Array out;
  for (const SearchParam* p : registry().params_for(type)) {
    if (!p->supported) continue;
    json::Object o;
    o["name"] = json::Value(p->code);
    if (!p->url.empty()) o["definition"] = json::Value(p->url);
    o["type"] = json::Value(std::string(param_type_name(p->type)));
    out.push_back(json::Value(o));
  }
  return out;
}

json::Array unsupported_param_extensions(const std::string& type) {
  json::Array out;
  for (const SearchParam* p : registry().params_for(type)) {
    if (p->supported) continue;
    json::Object o;
    o["url"] = json::Value(std::string(kUnsupportedParamUrl));
    o["valueString"] = json::Value(p->code + ": " + (p->reason.empty() ? "not supported" : p->reason));
    out.push_back(json::Value(o));
  }
  return out;
}

json::Value capability_statement(const Features& f) {
  json::Object cs;
  cs["resourceType"] = json::Value(std::string("CapabilityStatement"));
  cs["status"] = json::Value(std::string("active"));
  cs["date"] = json::Value(timefmt::format_instant(f.started_ms));
  cs["kind"] = json::Value(std::string("instance"));
  cs["fhirVersion"] = json::Value(std::string("4.0.1"));
  cs["format"] = json::Value(json::Array{json::Value(std::string("application/fhir+json")), json::Value(std::string("json")),
                                         json::Value(std::string("application/fhir+xml")), json::Value(std::string("xml"))});
  // JSON Patch, and FHIRPath Patch (a Parameters resource, fhir/fhirpath_patch.h; JSON or XML)
  cs["patchFormat"] = json::Value(json::Array{json::Value(std::string("application/json-patch+json")),
                                              json::Value(std::string("application/fhir+json")),
                                              json::Value(std::string("application/fhir+xml"))});
  json::Object sw;
  sw["name"] = json::Value(std::string("edgefhir"));
  sw["version"] = json::Value(f.software_version);
  cs["software"] = json::Value(sw);
  json::Object impl;
  impl["description"] = json::Value(std::string("edgefhir: single-binary FHIR R4 server on SQLite"));
  impl["url"] = json::Value(f.base_url);
  cs["implementation"] = json::Value(impl);

  json::Object rest;
  rest["mode"] = json::Value(std::string("server"));
  if (!f.security.is<picojson::null>()) rest["security"] = f.security;
  json::Array resources;
  for (const std::string& t : all_resource_types()) {
    json::Object r;
    r["type"] = json::Value(t);
    json::Array ints;
    for (const char* i : {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create"})
      ints.push_back(code_obj(i));
    if (f.search) ints.push_back(code_obj("search-type"));
    r["interaction"] = json::Value(ints);
    r["versioning"] = json::Value(std::string("versioned-update"));
    r["readHistory"] = json::Value(true);
    r["updateCreate"] = json::Value(true);
    r["conditionalCreate"] = json::Value(f.conditional_create);
    r["conditionalUpdate"] = json::Value(f.conditional_update);
    r["conditionalRead"] = json::Value(std::string("full-support"));
    r["conditionalDelete"] = json::Value(std::string(f.conditional_delete ? "multiple" : "not-supported"));
    if (f.search && f.search_params) {
      json::Array sp = f.search_params(t);
      if (!sp.empty()) r["searchParam"] = json::Value(sp);
      json::Array ext = unsupported_param_extensions(t);
      if (!ext.empty()) r["extension"] = json::Value(ext);
    }
    json::Array ops;
    for (const auto& op : f.type_operations) {
      if (op.first != t) continue;
      json::Object o;
      o["name"] = json::Value(op.second);
      std::string def = "http://hl7.org/fhir/OperationDefinition/" + t + "-" + op.second;
      if (op.second == "validate" || op.second.rfind("meta", 0) == 0)
        def = "http://hl7.org/fhir/OperationDefinition/Resource-" + op.second;
      if (op.second == "export")
        def = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/" + std::string(t == "Group" ? "group" : "patient") + "-export";
      o["definition"] = json::Value(def);
      ops.push_back(json::Value(o));
    }
    if (!ops.empty()) r["operation"] = json::Value(ops);
    resources.push_back(json::Value(r));
  }
  rest["resource"] = json::Value(resources);
  json::Array sys;
  sys.push_back(code_obj("history-system"));
  if (f.transaction) sys.push_back(code_obj("transaction"));
  if (f.batch) sys.push_back(code_obj("batch"));
  if (f.search) sys.push_back(code_obj("search-system"));
  rest["interaction"] = json::Value(sys);
  if (!f.system_operations.empty()) {
    json::Array ops;
    for (const auto& op : f.system_operations) {
      json::Object o;
      o["name"] = json::Value(op);
      o["definition"] = json::Value(op == "meta" || op == "validate"
                                        ? "http://hl7.org/fhir/OperationDefinition/Resource-" + op
                                        : "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/" + op);
      ops.push_back(json::Value(o));
    }
    rest["operation"] = json::Value(ops);
  }
  cs["rest"] = json::Value(json::Array{json::Value(rest)});
  return json::Value(cs);
}

}  // namespace ef::fhir
