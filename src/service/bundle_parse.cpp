// service/bundle_parse.cpp — part of BundleProcessor (bundle_processor.h): a transaction or
// batch Bundle checked and split into EntryRequests (parse(), parse_url()), and reference
// rewriting: fullUrl placeholders, absolute fullUrls and conditional references ("Type?search",
// resolved inside the caller's view) in every member named "reference", urn placeholders in
// narrative (rewrite_references(); rewrite_known_references() for the import path).
#include "service/bundle_processor.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "fhir/fhirpath_patch.h"
#include "fhir/json_patch.h"
#include "fhir/outcome.h"
#include "fhir/resource_types.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "service/reads.h"
#include "store/search.h"
#include "util/base64url.h"
#include "util/time.h"
#include "service/bundle_internal.h"

namespace ef::service {

using bundle_detail::at_entry;

// ---------------------------------------------------------------------------------------
// Parsing

Status BundleProcessor::parse_url(EntryRequest& e, const std::string& base_url) {
  std::string u = e.url;
  if (u.empty()) return Status(Err::invalid, "request.url is missing");
  if (u.find("://") != std::string::npos) {
    if (base_url.empty() || u.compare(0, base_url.size(), base_url) != 0 ||
        (u.size() > base_url.size() && u[base_url.size()] != '/' && u[base_url.size()] != '?'))
      return Status(Err::invalid, "request.url '" + u + "' is not on this server");
    u.erase(0, base_url.size());
  }
  while (!u.empty() && u[0] == '/') u.erase(0, 1);
  size_t q = u.find('?');
  std::string path = q == std::string::npos ? u : u.substr(0, q);
  e.query = q == std::string::npos ? std::string() : u.substr(q + 1);
  std::vector<std::string> seg;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) seg.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  const bool get = e.method == "GET" || e.method == "HEAD";
  if (get && (seg.empty() || (seg.size() == 1 && seg[0] == "_history"))) {
    // system search ("?_type=..." or no type) and system history
    e.history = !seg.empty();
    return Status();
  }
  if (seg.empty()) return Status(Err::invalid, "request.url '" + e.url + "' names no resource type");
  e.type = seg[0];
  if (!fhir::is_resource_type(e.type)) return Status(Err::invalid, "'" + e.type + "' is not a FHIR R4 resource type");
  if (get && seg.size() == 2 && seg[1] == "_history") {
    e.history = true;
    return Status();
  }
  if (seg.size() >= 2) e.id = seg[1];
  if (seg.size() == 4 && seg[2] == "_history") e.vid = seg[3];
  else if (get && seg.size() == 3 && seg[2] == "_history") e.history = true;
  else if (get && seg.size() == 3 && e.type == "Patient" && (seg[2] == "*" || fhir::is_resource_type(seg[2]))) {
    e.compartment_id = e.id;
    e.id.clear();
    e.type = seg[2] == "*" ? "" : seg[2];
    if (!fhir::valid_id(e.compartment_id))
      return Status(Err::invalid, "'" + e.compartment_id + "' is not a valid FHIR id");
    return Status();
  }
  else if (seg.size() > 2) return Status(Err::invalid, "request.url '" + e.url + "' is not a supported interaction");
  if (!e.id.empty() && !fhir::valid_id(e.id)) return Status(Err::invalid, "'" + e.id + "' is not a valid FHIR id");
  const std::string& m = e.method;
  if (m == "POST") {
    if (!e.id.empty() || !e.query.empty()) return Status(Err::invalid, "POST must name a type only (" + e.url + ")");
  } else if (m == "PUT" || m == "PATCH" || m == "DELETE") {
    if (!e.vid.empty()) return Status(Err::invalid, m + " cannot target a version (" + e.url + ")");
    if (e.id.empty() && e.query.empty())
      return Status(Err::invalid, m + " needs Type/id or Type?search (" + e.url + ")");
    if (!e.id.empty() && !e.query.empty())
      return Status(Err::invalid, m + " takes Type/id or Type?search, not both (" + e.url + ")");
  } else if (m == "GET" || m == "HEAD") {
    if (!e.id.empty() && !e.query.empty() && e.vid.empty() && !e.history) {
      // read with parameters such as _format: ignore them
      e.query.clear();
    }
  } else {
    return Status(Err::invalid, "request.method '" + m + "' is not GET, POST, PUT, PATCH or DELETE");
  }
  return Status();
}

static Status check_resource(const json::Value& r) {
  if (!json::is_object(r)) return Status(Err::invalid, "resource must be a JSON object");
  const std::string* rt = json::get_string(r, "resourceType");
  if (!rt) return Status(Err::invalid, "the resource has no resourceType", "resourceType");
  if (!fhir::is_resource_type(*rt)) return Status(Err::invalid, "'" + *rt + "' is not a FHIR R4 resource type");
  return fhir::check_json_rules(r);
}

Result<std::vector<EntryRequest>> BundleProcessor::parse(json::Value bundle, const BundleOptions& opt,
                                                         std::string* type) const {
  if (!json::is_object(bundle) || json::string_or(bundle, "resourceType") != "Bundle")
    return Status(Err::invalid, "the body must be a Bundle");
  std::string t = json::string_or(bundle, "type");
  if (t != "transaction" && t != "batch")
    return Status(Err::invalid, "Bundle.type must be 'transaction' or 'batch' (got '" + t + "')", "Bundle.type");
  *type = t;
  std::vector<EntryRequest> out;
  json::Value* entries = json::get_mut(bundle, "entry");
  if (!entries) return out;
  if (!json::is_array(*entries)) return Status(Err::invalid, "Bundle.entry must be an array", "Bundle.entry");
  auto& arr = entries->get<json::Array>();
  if (arr.size() > opt.max_entries)
    return Status(Err::too_large, "the Bundle has " + std::to_string(arr.size()) + " entries; the limit is " +
                                      std::to_string(opt.max_entries));
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    EntryRequest e;
    e.index = i;
    json::Value& ev = arr[i];
    if (!json::is_object(ev)) return at_entry(e, Status(Err::invalid, "an entry must be an object"));
    e.full_url = json::string_or(ev, "fullUrl");
    const json::Value* rq = json::get(ev, "request");
    if (!rq || !json::is_object(*rq)) return at_entry(e, Status(Err::invalid, "entry.request is missing"));
    e.method = json::string_or(*rq, "method");
    e.url = json::string_or(*rq, "url");
    e.if_none_exist = json::string_or(*rq, "ifNoneExist");
    e.if_match = json::string_or(*rq, "ifMatch");
    e.if_none_match = json::string_or(*rq, "ifNoneMatch");
    e.if_modified_since = json::string_or(*rq, "ifModifiedSince");
    Status st = parse_url(e, opt.base_url);
    if (!st) return at_entry(e, st);
    if (json::Value* r = json::get_mut(ev, "resource")) {
      e.resource = std::move(*r);
      // A PATCH entry may carry a FHIRPath Patch: a Parameters, which is never stored.
      st = e.method == "PATCH" && fhir::is_fhirpath_patch(e.resource) ? fhir::check_json_rules(e.resource)
                                                                       : check_resource(e.resource);
      if (!st) return at_entry(e, st);
    }
    if ((e.method == "POST" || e.method == "PUT" || e.method == "PATCH") && e.resource.is<picojson::null>())
      return at_entry(e, Status(Err::invalid, e.method + " needs entry.resource"));
    if ((e.method == "POST" || e.method == "PUT") && fhir::resource_type_of(e.resource) != e.type)
      return at_entry(e, Status(Err::invalid, "resource type " + fhir::resource_type_of(e.resource) +
                                                  " does not match request.url type " + e.type));
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// References

Result<std::string> BundleProcessor::resolve_one(store::Conn& c, const Access& a, const std::string& type,
                                                 const std::string& query, const char* what) {
  if (!resolve_) return Status(Err::not_supported, std::string(what) + " needs search, which is not available");
  // Only what the caller could find by searching: anything else is no match.
  auto m = resolve_(c, type, query, 2, a.view(auth::Interaction::search_type));
  if (!m) return m.status();
  if (m->size() != 1) {
    Status st(Err::precondition, std::string(what) + " '" + type + "?" + query + "' matches " +
                                     (m->empty() ? "no resource" : "more than one resource") +
                                     "; it must match exactly one");
    return st;
  }
  return (*m)[0].first + "/" + (*m)[0].second;
}

static bool is_placeholder(const std::string& s) { return s.rfind("urn:uuid:", 0) == 0 || s.rfind("urn:oid:", 0) == 0; }

// "Type?search": a conditional reference (resolved by search), as Rewriter::reference reads it.
static bool is_conditional_reference(const std::string& s) {
  size_t q = s.find('?');
  return q != std::string::npos && s.find('/') > q && fhir::is_resource_type(s.substr(0, q));
}

bool bundle_detail::has_conditional_reference(const json::Value& v) {
  if (const json::Object* o = json::as_object(v)) {
    for (const auto& kv : *o) {
      if (kv.first == "reference" && json::is_string(kv.second)) {
        if (is_conditional_reference(kv.second.get<std::string>())) return true;
      } else if ((kv.second.is<json::Object>() || kv.second.is<json::Array>()) && has_conditional_reference(kv.second)) {
        return true;
      }
    }
  } else if (v.is<json::Array>()) {
    for (const auto& x : v.get<json::Array>())
      if ((x.is<json::Object>() || x.is<json::Array>()) && has_conditional_reference(x)) return true;
  }
  return false;
}

namespace {
struct Rewriter {
  const std::map<std::string, std::string>& refs;
  std::map<std::string, std::string>* cache;
  std::string type;
  // Where the walk is (member names, or array positions as "[i]"), made into a FHIRPath-like
  // string only for messages: building it for every node cost more than the rest of the walk.
  std::vector<std::pair<const std::string*, size_t>> at;

  std::string where() const {
    std::string p = type;
    for (const auto& x : at) p += x.first ? "." + *x.first : "[" + std::to_string(x.second) + "]";
    return p;
  }

  Status reference(std::string& s) {
    if (s.empty() || s[0] == '#') return Status();
    auto it = refs.find(s);
    if (it != refs.end()) {
      s = it->second;
      return Status();
    }
    if (is_placeholder(s))
    {
      std::string p = where();
      return Status(Err::invalid, "reference '" + s + "' (at " + p + ") names no entry of the Bundle", p);
    }
    if (is_conditional_reference(s)) {
      size_t q = s.find('?');
      std::string type = s.substr(0, q);
      auto hit = cache->find(s);
      if (hit != cache->end()) {
        s = hit->second;
        return Status();
      }
      auto r = bp_resolve(type, s.substr(q + 1));
      if (!r) {
        Status st = r.status();
        st.message += " (at " + where() + ")";
        return st;
      }
      (*cache)[s] = *r;
      s = *r;
    }
    return Status();
  }
  std::function<Result<std::string>(const std::string&, const std::string&)> bp_resolve;

  // Narrative may carry <a href="urn:uuid:..."> links: replace the placeholders we know.
  void div(std::string& s) {
    if (s.find("urn:") == std::string::npos) return;
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t p = s.find("urn:", i);
      if (p == std::string::npos) break;
      size_t e = p;
      while (e < s.size() && s[e] != '"' && s[e] != '\'' && s[e] != '<' && !isspace(static_cast<unsigned char>(s[e]))) ++e;
      std::string tok = s.substr(p, e - p);
      auto it = refs.find(tok);
      out.append(s, i, p - i);
      out += it != refs.end() ? it->second : tok;
      i = e;
    }
    out.append(s, i, std::string::npos);
    s = std::move(out);
  }

  Status walk(json::Value& v) {
    if (json::Object* o = json::as_object_mut(v)) {
      for (auto& kv : *o) {
        at.emplace_back(&kv.first, 0);
        Status st;
        if (kv.first == "reference" && json::is_string(kv.second)) {
          st = reference(kv.second.get<std::string>());
        } else if (kv.first == "div" && json::is_string(kv.second)) {
          div(kv.second.get<std::string>());
        } else if (kv.second.is<json::Object>() || kv.second.is<json::Array>()) {
          st = walk(kv.second);
        }
        at.pop_back();
        if (!st) return st;
      }
    } else if (v.is<json::Array>()) {
      auto& a = v.get<json::Array>();
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is<json::Object>() && !a[i].is<json::Array>()) continue;
        at.emplace_back(nullptr, i);
        Status st = walk(a[i]);
        at.pop_back();
        if (!st) return st;
      }
    }
    return Status();
  }
};
}  // namespace

namespace bundle_detail {

Status rewrite_known_references(json::Value& res, const std::map<std::string, std::string>& refs,
                                std::map<std::string, std::string>* cache) {
  Rewriter w{refs, cache, fhir::resource_type_of(res), {}, {}};
  w.bp_resolve = [](const std::string&, const std::string&) -> Result<std::string> {
    return Status(Err::internal, "conditional reference");  // excluded by the caller
  };
  return w.walk(res);
}

}  // namespace bundle_detail


Status BundleProcessor::rewrite_references(store::Conn& c, const Access& a, json::Value& res,
                                           const std::map<std::string, std::string>& refs,
                                           std::map<std::string, std::string>* cond_cache) {
  std::map<std::string, std::string> local;
  Rewriter w{refs, cond_cache ? cond_cache : &local, fhir::resource_type_of(res), {}, {}};
  w.bp_resolve = [&](const std::string& type, const std::string& q) {
    return resolve_one(c, a, type, q, "conditional reference");
  };
  return w.walk(res);
}

}  // namespace ef::service
