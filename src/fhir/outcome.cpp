// fhir/outcome.cpp — see outcome.h.  Bundles are written as text so that stored resource
// JSON is copied into responses as-is (no parse/re-serialise on the read path).
#include "fhir/outcome.h"

#include "util/time.h"

namespace ef::fhir {

json::Value operation_outcome(const std::vector<Issue>& issues) {
  json::Object oo;
  oo["resourceType"] = json::Value(std::string("OperationOutcome"));
  json::Array arr;
  for (const Issue& i : issues) {
    json::Object o;
    o["severity"] = json::Value(i.severity);
    o["code"] = json::Value(i.code);
    // messages may quote request bytes (a URL, a parameter): never invalid UTF-8 in the JSON
    if (!i.diagnostics.empty()) o["diagnostics"] = json::Value(json::to_valid_utf8(i.diagnostics));
    if (!i.expression.empty()) o["expression"] = json::Value(json::Array{json::Value(json::to_valid_utf8(i.expression))});
    arr.push_back(json::Value(o));
  }
  if (arr.empty()) {
    json::Object o;
    o["severity"] = json::Value(std::string("information"));
    o["code"] = json::Value(std::string("informational"));
    o["diagnostics"] = json::Value(std::string("ok"));
    arr.push_back(json::Value(o));
  }
  oo["issue"] = json::Value(arr);
  return json::Value(oo);
}

json::Value operation_outcome(const Issue& issue) { return operation_outcome(std::vector<Issue>{issue}); }


static void str(std::string& out, const std::string& s) { json::write_to(out, json::Value(s)); }

std::string write_bundle(const std::string& type, int64_t total, const std::vector<BundleLink>& links,
                         const std::vector<BundleEntry>& entries, int64_t timestamp_ms, bool pretty,
                         const std::string& id) {
  std::string out;
  out.reserve(256 + entries.size() * 512);
  out += "{\"resourceType\":\"Bundle\"";
  if (!id.empty()) { out += ",\"id\":"; str(out, id); }
  out += ",\"meta\":{\"lastUpdated\":";
  str(out, timefmt::format_instant(timestamp_ms));
  out += "},\"type\":";
  str(out, type);
  if (total >= 0) out += ",\"total\":" + std::to_string(total);
  if (!links.empty()) {
    out += ",\"link\":[";
    for (size_t i = 0; i < links.size(); ++i) {
      if (i) out += ',';
      out += "{\"relation\":";
      str(out, links[i].relation);
      out += ",\"url\":";
      str(out, links[i].url);
      out += '}';
    }
    out += ']';
  }
  if (!entries.empty()) {
    out += ",\"entry\":[";
    for (size_t i = 0; i < entries.size(); ++i) {
      const BundleEntry& e = entries[i];
      if (i) out += ',';
      out += '{';
      bool first = true;
      auto sep = [&] { if (!first) out += ','; first = false; };
      if (!e.full_url.empty()) { sep(); out += "\"fullUrl\":"; str(out, e.full_url); }
      if (!e.resource_json.empty()) { sep(); out += "\"resource\":"; out += e.resource_json; }
      if (!e.search_mode.empty()) { sep(); out += "\"search\":{\"mode\":"; str(out, e.search_mode); out += '}'; }
      if (!e.request_method.empty()) {
        sep();
        out += "\"request\":{\"method\":";
        str(out, e.request_method);
        out += ",\"url\":";
        str(out, e.request_url);
        out += '}';
      }
      if (!e.response_status.empty()) {
        sep();
        out += "\"response\":{\"status\":";
        str(out, e.response_status);
        if (!e.response_location.empty()) { out += ",\"location\":"; str(out, e.response_location); }
        if (!e.response_etag.empty()) { out += ",\"etag\":"; str(out, e.response_etag); }
        if (!e.response_last_modified.empty()) { out += ",\"lastModified\":"; str(out, e.response_last_modified); }
        if (!e.response_outcome_json.empty()) { out += ",\"outcome\":"; out += e.response_outcome_json; }
        out += '}';
      }
      out += '}';
    }
    out += ']';
  }
  out += '}';
  if (pretty) {
    json::ParseOptions o;
    o.preserve_numbers = true;
    o.max_depth = 1000;
    auto v = json::parse(out, o);
    if (v) return json::write(*v, true);
  }
  return out;
}

}  // namespace ef::fhir
