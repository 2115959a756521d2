// service/bundle_processor.cpp — see bundle_processor.h.  Order of the file: parsing entries,
// reference rewriting, one entry (assign an id, write, delete, get), then the transaction and
// batch drivers.
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

namespace ef::service {

std::string entry_name(const EntryRequest& e) {
  std::string s = "entry " + std::to_string(e.index);
  if (!e.full_url.empty()) s += " (" + e.full_url + ")";
  else if (!e.method.empty()) s += " (" + e.method + " " + e.url + ")";
  return s;
}

static Status at_entry(const EntryRequest& e, Status st) {
  st.message = entry_name(e) + ": " + st.message;
  return st;
}


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

static bool has_conditional_reference(const json::Value& v) {
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

// ---------------------------------------------------------------------------------------
// One entry

static Result<std::optional<int64_t>> version_of(const std::string& etag, const char* what) {
  if (etag.empty()) return std::optional<int64_t>();
  std::string v = etag;
  if (v.rfind("W/", 0) == 0) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return Status(Err::invalid, std::string(what) + " '" + etag + "' is not a version ETag such as W/\"3\"");
  return std::optional<int64_t>(std::stoll(v));
}

static void set_id(json::Value& res, const std::string& id) {
  if (json::Object* o = json::as_object_mut(res)) (*o)["id"] = json::Value(id);
}

using auth::Interaction;

// The stored target of a write must be inside the caller's view for that interaction; outside
// it, it behaves as absent (`visible` false).  Unrestricted callers see everything that exists.
Status BundleProcessor::check_target(store::Conn& c, const Access& a, Interaction i, const std::string& type,
                                     const std::string& id, bool* visible) {
  if (Status st = a.require(i, type, id); !st) return st;
  if (!a.restricted(i, type)) {  // no view to check: the repository handles absence
    *visible = true;
    return Status();
  }
  auto v = store::visible(c, type, id, a.view(i));
  if (!v) return v.status();
  *visible = *v;
  return Status();
}

Status BundleProcessor::check_content(const Access& a, Interaction i, const json::Value& res, const std::string& id,
                                      bool creating) const {
  const std::string& type = fhir::resource_type_of(res);
  if (!a.restricted(i, type)) return a.require(i, type, id);
  fhir::IndexRows rows;
  repo_.index(res, &rows);
  return a.check_write(i, type, id, rows, creating);
}

// The id an import derives from a urn:uuid fullUrl (lower-case uuid), "" when there is none.
static std::string urn_id(const EntryRequest& e) {
  if (e.full_url.rfind("urn:uuid:", 0) != 0) return {};
  std::string id = e.full_url.substr(9);
  if (!fhir::valid_id(id)) return {};
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return id;
}

// Decides the id a writing entry (POST/PUT/PATCH) will write, resolving conditions.
// `exists`: POST whose ifNoneExist matched (nothing is written).
Status BundleProcessor::assign(store::Conn& c, EntryRequest& e, const BundleOptions& opt, std::string* target,
                               bool* exists) {
  const Access& a = *opt.access;
  *exists = false;
  const Interaction wi = e.method == "POST" ? Interaction::create : e.method == "PATCH" ? Interaction::patch
                                                                                        : Interaction::update;
  if (Status st = a.require(wi, e.type); !st) return st;
  if (e.method == "POST") {
    if (!e.if_none_exist.empty()) {
      std::string q = e.if_none_exist;
      size_t p = q.find('?');
      if (p != std::string::npos) q = q.substr(p + 1);  // "Patient?identifier=x" or "identifier=x"
      if (!resolve_) return Status(Err::not_supported, "ifNoneExist needs search, which is not available");
      auto m = resolve_(c, e.type, q, 2, a.view(wi));  // matches outside the caller's view do not count
      if (!m) return m.status();
      if (m->size() > 1)
        return Status(Err::precondition, "ifNoneExist '" + e.if_none_exist + "' matches more than one resource");
      if (m->size() == 1) {
        *target = (*m)[0].second;
        *exists = true;
        return Status();
      }
    }
    std::string id = opt.ids_from_urn ? urn_id(e) : std::string();
    if (!id.empty()) {
      // Import: the create already happened when Type/<uuid> exists (a previous run, or the
      // same entity in another Bundle): leave it as it is, so re-running writes nothing.
      *target = id;
      auto cur = repo_.resources().current(c, e.type, id);
      if (!cur) return cur.status();
      if (*cur && !(*cur)->deleted) *exists = true;
    } else {
      *target = Repository::new_id();
    }
    return Status();
  }
  if (!e.conditional()) {
    *target = e.id;
    return Status();
  }
  if (!resolve_) return Status(Err::not_supported, "conditional " + e.method + " needs search, which is not available");
  auto m = resolve_(c, e.type, e.query, 2, a.view(wi));
  if (!m) return m.status();
  if (m->size() > 1)
    return Status(Err::precondition, "the condition '" + e.type + "?" + e.query + "' matches more than one resource");
  const std::string* body_id = json::get_string(e.resource, "id");
  if (e.method == "PATCH") {
    if (m->empty()) return Status(Err::not_found, "the condition '" + e.type + "?" + e.query + "' matches no resource");
    *target = (*m)[0].second;
    return Status();
  }
  // Conditional update.
  if (m->empty()) {
    e.new_id = !body_id;
    *target = body_id ? *body_id : Repository::new_id();
    if (!fhir::valid_id(*target)) return Status(Err::invalid, "'" + *target + "' is not a valid FHIR id");
    if (body_id) {  // update as create, but never of a resource the condition did not match
      auto cur = repo_.resources().current(c, e.type, *target);
      if (!cur) return cur.status();
      if (*cur && !(*cur)->deleted) {
        if (a.restricted(wi, e.type)) {
          // The caller must not learn whether an id outside its view exists.
          bool vis = false;
          if (Status st = check_target(c, a, wi, e.type, *target, &vis); !st) return st;
          if (!vis) return not_known(e.type, *target);
        }
        return Status(Err::conflict, e.type + "/" + *target + " exists but does not match the condition '" + e.type +
                                         "?" + e.query + "'");
      }
    }
    return Status();
  }
  *target = (*m)[0].second;
  if (body_id && *body_id != *target)
    return Status(Err::invalid, "the resource id '" + *body_id + "' differs from the id of the resource the condition "
                                "matched (" + e.type + "/" + *target + ")");
  return Status();
}

static EntryResult from_write(const WriteResult& w) {
  EntryResult r;
  r.outcome = w.created ? Outcome::created : w.unchanged ? Outcome::unchanged : Outcome::updated;
  r.type = w.type;
  r.id = w.id;
  r.version = w.version;
  r.last_updated = w.last_updated;
  r.body = w.body;
  return r;
}

Result<EntryResult> BundleProcessor::write(store::Conn& c, EntryRequest& e, const BundleOptions& opt,
                                           const std::string& target, bool exists,
                                           const std::map<std::string, std::string>& refs,
                                           std::map<std::string, std::string>* cache) {
  store::Resources& res = repo_.resources();
  const Access& a = *opt.access;
  if (exists) {  // ifNoneExist matched (inside the caller's view): report the existing resource
    auto v = res.read(c, e.type, target);
    if (!v) return v.status();
    EntryResult r;
    r.outcome = Outcome::exists;
    r.type = e.type;
    r.id = target;
    r.version = v->version;
    r.last_updated = v->last_updated;
    r.body = v->body;
    return r;
  }
  auto im = version_of(e.if_match, "ifMatch");
  if (!im) return im.status();
  WriteOptions wo;
  wo.if_match = *im;
  if (e.method == "PATCH") {
    json::Value patch_doc;
    if (!e.patch.is<picojson::null>()) {
      patch_doc = e.patch;
    } else if (fhir::is_fhirpath_patch(e.resource)) {
      patch_doc = e.resource;  // FHIRPath Patch
    } else if (fhir::resource_type_of(e.resource) == "Binary") {
      std::string ct = json::string_or(e.resource, "contentType");
      if (ct.find("json-patch") == std::string::npos)
        return Status(Err::unsupported_media, "a PATCH Binary must have contentType application/json-patch+json");
      auto raw = b64::std_decode(json::string_or(e.resource, "data"));
      if (!raw) return Status(Err::invalid, "the PATCH Binary's data is not valid base64");
      json::ParseOptions po;
      po.preserve_numbers = true;
      po.max_depth = opt.limits.max_depth;
      auto p = json::parse(*raw, po);
      if (!p) return Status(Err::invalid, "the JSON Patch document is not valid JSON: " + p.status().message);
      if (!json::is_array(*p)) return Status(Err::invalid, "the JSON Patch document must be an array of operations");
      patch_doc = std::move(*p);
    } else {
      return Status(Err::invalid, "PATCH entries must carry a Parameters (FHIRPath Patch) or a Binary with a "
                                  "JSON Patch");
    }
    bool vis = false;
    if (Status st = check_target(c, a, Interaction::patch, e.type, target, &vis); !st) return st;
    if (!vis) return not_known(e.type, target);
    wo.method = "PATCH";
    auto w = e.meta_op.empty() ? repo_.patch(c, e.type, target, patch_doc, wo)
                               : repo_.change_meta(c, e.type, target, patch_doc, e.meta_op == "meta-add", wo);
    if (!w) return w.status();
    if (a.restricted(Interaction::patch, e.type) && !w->unchanged) {
      // The result must still be the caller's to write (else the caller's transaction rolls back).
      auto after = fhir::parse_resource(w->body);
      if (!after) return Status(Err::internal, "patched resource cannot be parsed");
      if (Status st = check_content(a, Interaction::patch, *after, target, false); !st) return st;
    }
    return from_write(*w);
  }
  Status st = rewrite_references(c, a, e.resource, refs, cache);
  if (!st) return st;
  if (e.method == "POST") {
    st = check_content(a, Interaction::create, e.resource, target, true);
    if (!st) return st;
    if (opt.ids_from_urn && !urn_id(e).empty() && target == urn_id(e)) {
      // Import: Type/<uuid> as update-or-create, so a second run finds it unchanged.
      set_id(e.resource, target);
      wo.method = "POST";
      auto w = repo_.update(c, e.type, target, std::move(e.resource), wo);
      if (!w) return w.status();
      return from_write(*w);
    }
    auto w = repo_.create(c, std::move(e.resource), target);
    if (!w) return w.status();
    return from_write(*w);
  }
  // PUT
  if (!e.if_none_match.empty()) {
    if (e.if_none_match != "*" && e.if_none_match != "W/\"*\"")
      return Status(Err::invalid, "ifNoneMatch on PUT must be '*' (create only)");
    auto cur = res.current(c, e.type, target);
    if (!cur) return cur.status();
    if (*cur && !(*cur)->deleted)
      return Status(Err::precondition, e.type + "/" + target + " already exists (ifNoneMatch: *)");
  }
  if (e.conditional()) set_id(e.resource, target);
  {
    bool vis = false;
    st = check_target(c, a, Interaction::update, e.type, target, &vis);
    if (!st) return st;
    if (!vis && !e.new_id) {
      // No update-as-create for a caller limited by scopes (so the answer cannot tell an id
      // outside its view from an unused one), except the patient's own Patient record.
      bool own = e.type == "Patient" && target == a.only_patient(Interaction::update, "Patient");
      auto cur = res.current(c, e.type, target);
      if (!cur) return cur.status();
      if (!own || (*cur && !(*cur)->deleted)) return not_known(e.type, target);
    }
    st = check_content(a, Interaction::update, e.resource, target, e.new_id);
    if (!st) return st;
  }
  auto w = repo_.update(c, e.type, target, std::move(e.resource), wo);
  if (!w) return w.status();
  return from_write(*w);
}

Result<EntryResult> BundleProcessor::remove(store::Conn& c, EntryRequest& e, const BundleOptions& opt) {
  auto im = version_of(e.if_match, "ifMatch");
  if (!im) return im.status();
  WriteOptions wo;
  wo.if_match = *im;
  const Access& a = *opt.access;
  if (Status st = a.require(Interaction::del, e.type, e.id); !st) return st;
  std::vector<std::pair<std::string, std::string>> targets;
  if (e.conditional()) {
    if (!resolve_) return Status(Err::not_supported, "conditional delete needs search, which is not available");
    size_t max = std::max<size_t>(e.max_deletes, 1);
    auto m = resolve_(c, e.type, e.query, max + 1, a.view(Interaction::del));
    if (!m) return m.status();
    if (m->size() > max)
      return Status(Err::precondition, "the condition '" + e.type + "?" + e.query + "' matches more than " +
                                           std::to_string(max) + (max == 1 ? " resource" : " resources"));
    targets = std::move(*m);
  } else {
    targets.emplace_back(e.type, e.id);
  }
  EntryResult r;
  r.outcome = Outcome::deleted;
  r.type = e.type;
  if (!e.conditional()) r.id = e.id;
  for (const auto& t : targets) {
    bool vis = false;
    if (Status st = check_target(c, a, Interaction::del, t.first, t.second, &vis); !st) return st;
    if (!vis) continue;  // outside the caller's view: as if absent
    auto w = repo_.remove(c, t.first, t.second, wo);
    if (!w) return w.status();
    if (!w->unchanged) r.deleted.push_back(t);
    r.version = w->version;
    r.last_updated = w->last_updated;
  }
  if (targets.size() == 1) r.id = targets[0].second;
  return r;
}

Result<EntryResult> BundleProcessor::get(store::Conn& c, EntryRequest& e, const BundleOptions& opt) {
  const Access& a = *opt.access;
  EntryResult r;
  r.type = e.type;
  if (e.history) {
    auto params = fhir::parse_query_string(e.query, false);
    if (!params) return params.status();
    auto hq = parse_history_query(e.type, e.id, *params);
    if (!hq) return hq.status();
    auto page = history(c, a, repo_, *hq);
    if (!page) return page.status();
    r.outcome = Outcome::read;
    r.id = e.id;
    r.body = fhir::write_bundle("history", page->total, {}, history_entries(page->versions, opt.base_url), opt.now_ms,
                               false, Repository::new_id());
    return r;
  }
  if (e.id.empty()) {  // search: type, system, compartment
    auto params = fhir::parse_query_string(e.query, false);
    if (!params) return params.status();
    fhir::SearchParseOptions po;
    po.base_url = opt.base_url;
    po.now_ms = opt.now_ms;
    auto q = fhir::parse_search(e.type, *params, po);
    if (!q) return q.status();
    Interaction si = e.type.empty() ? Interaction::search_system : Interaction::search_type;
    if (!e.compartment_id.empty()) {
      si = Interaction::search_compartment;
      q->compartment_patient = e.compartment_id;
      if (e.type.empty() && q->types.empty())
        for (const std::string& t : fhir::registry().all_resource_types())
          if (t == "Patient" || !fhir::registry().compartment_params(t).empty()) q->types.push_back(t);
      if (!e.type.empty() && e.type != "Patient" && fhir::registry().compartment_params(e.type).empty())
        return Status(Err::invalid, e.type + " resources are not in the Patient compartment");
    }
    auto found = search(c, a, si, *q);
    if (!found) return found.status();
    if (found->count >= 0) {
      r.outcome = Outcome::read;
      r.body = fhir::write_bundle("searchset", found->count, {}, {}, opt.now_ms, false, Repository::new_id());
      return r;
    }
    store::SearchPage* page = &found->page;
    std::vector<fhir::BundleEntry> entries;
    auto add = [&](const store::SearchRow& row, const char* mode) {
      fhir::BundleEntry be;
      if (!opt.base_url.empty()) be.full_url = opt.base_url + "/" + row.type + "/" + row.id;
      be.resource_json = row.body;
      be.search_mode = mode;
      entries.push_back(std::move(be));
    };
    for (const auto& row : page->matches) add(row, "match");
    for (const auto& row : page->included) add(row, "include");
    r.outcome = Outcome::read;
    r.body = fhir::write_bundle("searchset", page->total, {}, entries, opt.now_ms, false, Repository::new_id());
    return r;
  }
  store::Version v;
  if (e.vid.empty()) {
    auto x = read_current(c, a, repo_, e.type, e.id);
    if (!x) return x.status();
    v = std::move(*x);
  } else {
    if (e.vid.empty() || e.vid.size() > 18 || e.vid.find_first_not_of("0123456789") != std::string::npos)
      return Status(Err::not_found, "'" + e.vid + "' is not a version of " + e.type + "/" + e.id);
    auto x = read_version(c, a, repo_, e.type, e.id, std::stoll(e.vid));
    if (!x) return x.status();
    v = std::move(*x);
  }
  r.id = e.id;
  r.version = v.version;
  r.last_updated = v.last_updated;
  r.outcome = Outcome::read;
  auto inm = version_of(e.if_none_match, "ifNoneMatch");
  if (!inm) return inm.status();
  if (*inm && **inm == v.version) r.outcome = Outcome::not_modified;
  if (!e.if_modified_since.empty()) {
    std::optional<int64_t> since;
    if (auto t = timefmt::parse_fhir_time(e.if_modified_since)) since = t->lo_ms;
    else since = timefmt::parse_http_date(e.if_modified_since);
    if (!since) return Status(Err::invalid, "ifModifiedSince '" + e.if_modified_since + "' is not an instant");
    // HTTP dates have second precision: compare at that precision.
    if (v.last_updated / 1000 <= *since / 1000) r.outcome = Outcome::not_modified;
  }
  if (r.outcome == Outcome::read) r.body = std::move(v.body);
  return r;
}

Result<EntryResult> BundleProcessor::execute(store::Conn& c, EntryRequest& e, const BundleOptions& opt,
                                             std::map<std::string, std::string>* refs) {
  std::map<std::string, std::string> none, cache;
  if (!refs) refs = &none;
  if (e.method == "DELETE") return remove(c, e, opt);
  if (e.method == "GET" || e.method == "HEAD") return get(c, e, opt);
  std::string target;
  bool exists = false;
  Status st = assign(c, e, opt, &target, &exists);
  if (!st) return st;
  if (!e.full_url.empty()) (*refs)[e.full_url] = e.type + "/" + target;
  return write(c, e, opt, target, exists, *refs, &cache);
}

// ---------------------------------------------------------------------------------------
// Drivers

static int phase_of(const std::string& m) {
  if (m == "DELETE") return 0;
  if (m == "POST") return 1;
  if (m == "PUT" || m == "PATCH") return 2;
  return 3;  // GET HEAD
}

static void tally(BundleResult& out) {
  for (const auto& r : out.results) {
    if (r.outcome == Outcome::failed) ++out.failed;
    else if (r.outcome == Outcome::created || r.outcome == Outcome::updated ||
             (r.outcome == Outcome::deleted && !r.deleted.empty()))
      ++out.written;
    else if (r.outcome == Outcome::unchanged || r.outcome == Outcome::exists)
      ++out.unchanged;
  }
}

// ---------------------------------------------------------------------------------------
// Bulk import in two halves (see the header)

bool BundleProcessor::prepare_import(std::vector<EntryRequest>& entries, const BundleOptions& opt, int64_t now_ms,
                                     std::vector<PreparedEntry>* out) const {
  if (!opt.ids_from_urn || !opt.access->is_unrestricted()) return false;
  // 1. Only creates the importer can decide alone, each target once (else transaction()
  //    decides, and reports what is wrong).
  std::vector<std::string> target(entries.size());
  std::set<std::string> urls, targets;
  for (size_t i = 0; i < entries.size(); ++i) {
    const EntryRequest& e = entries[i];
    if (!e.if_none_exist.empty() || !e.if_match.empty() || !e.if_none_match.empty() ||
        !e.if_modified_since.empty() || e.conditional() || !json::is_object(e.resource))
      return false;
    if (e.method == "POST") target[i] = urn_id(e);
    else if (e.method == "PUT") target[i] = e.id;
    if (target[i].empty() || !fhir::valid_id(target[i])) return false;
    if (!e.full_url.empty() && !urls.insert(e.full_url).second) return false;
    if (!targets.insert(e.type + "/" + target[i]).second) return false;
  }
  // 2. A conditional reference needs the database (checked before anything is changed).
  for (const EntryRequest& e : entries)
    if (has_conditional_reference(e.resource)) return false;
  // 3. References rewritten as transaction() would, and every check Repository::update
  //    makes before writing (a failure here fails transaction() the same way).
  std::map<std::string, std::string> refs, cache;
  for (size_t i = 0; i < entries.size(); ++i)
    if (!entries[i].full_url.empty()) refs[entries[i].full_url] = entries[i].type + "/" + target[i];
  for (size_t i = 0; i < entries.size(); ++i) {
    EntryRequest& e = entries[i];
    Rewriter w{refs, &cache, fhir::resource_type_of(e.resource), {}, {}};
    w.bp_resolve = [](const std::string&, const std::string&) -> Result<std::string> {
      return Status(Err::internal, "conditional reference");  // excluded by step 2
    };
    if (e.method == "POST") set_id(e.resource, target[i]);
    if (!w.walk(e.resource) || !fhir::check_type_and_id(e.resource, e.type, target[i], true)) return false;
    // validation.on_write: an entry the check refuses takes the general path, which names it.
    if (!repo_.check(e.resource, nullptr)) return false;
  }
  // 4. Stamped, serialised and indexed, POSTs before PUTs (the processing order).
  out->clear();
  out->reserve(entries.size());
  for (int phase = 1; phase <= 2; ++phase)
    for (size_t i = 0; i < entries.size(); ++i) {
      EntryRequest& e = entries[i];
      if (phase_of(e.method) != phase) continue;
      PreparedEntry pe;
      pe.prepared = repo_.prepare_create(e.type, target[i], std::move(e.resource), now_ms);
      pe.request = std::move(e);
      pe.request.resource = json::Value();
      out->push_back(std::move(pe));
    }
  return true;
}

Result<BundleResult> BundleProcessor::commit_prepared(store::Conn& c, std::vector<PreparedEntry> entries) {
  BundleResult out;
  out.type = "transaction";
  out.results.resize(entries.size());
  out.requests.resize(entries.size());
  for (PreparedEntry& pe : entries) {
    const Repository::Prepared& p = pe.prepared;
    const EntryRequest& e = pe.request;
    auto cur = repo_.resources().current(c, p.type, p.id);
    if (!cur) return cur.status();
    EntryResult& r = out.results[e.index];
    r.type = p.type;
    r.id = p.id;
    if (*cur && !(*cur)->deleted && e.method == "POST") {  // created by an earlier run or Bundle
      r.outcome = Outcome::exists;
      r.version = (*cur)->version;
      r.last_updated = (*cur)->last_updated;
      continue;
    }
    Result<WriteResult> w = Status(Err::internal, "not run");
    if (!*cur) {
      w = repo_.write_prepared(c, p, e.method);
    } else {  // an update (or a create over a deletion): the general path, from the prepared body
      auto doc = fhir::parse_resource(p.body);
      if (!doc) return Status(Err::internal, "a prepared resource cannot be parsed again: " + doc.status().message);
      WriteOptions wo;
      wo.method = e.method;
      w = repo_.update(c, p.type, p.id, std::move(*doc), wo);
    }
    if (!w) return at_entry(e, w.status());
    r.outcome = w->unchanged ? Outcome::unchanged : w->created ? Outcome::created : Outcome::updated;
    r.version = w->version;
    r.last_updated = w->last_updated;
  }
  for (PreparedEntry& pe : entries) {
    size_t i = pe.request.index;
    out.requests[i] = std::move(pe.request);
  }
  tally(out);
  return out;
}

static Status response_budget_spent(const BundleOptions& opt) {
  return Status(Err::too_large, "not run: the response would exceed " + std::to_string(opt.max_response_bytes) +
                                    " bytes (limits.max_response_bytes)");
}

Result<BundleResult> BundleProcessor::transaction(store::Conn& c, std::vector<EntryRequest> entries,
                                                  const BundleOptions& opt) {
  BundleResult out;
  out.type = "transaction";
  out.results.resize(entries.size());
  // One identity may be written once per transaction.
  {
    std::set<std::string> urls, targets;
    for (const auto& e : entries) {
      if (e.method == "GET" || e.method == "HEAD") continue;
      if (!e.full_url.empty() && !urls.insert(e.full_url).second)
        return at_entry(e, Status(Err::invalid, "fullUrl '" + e.full_url + "' appears more than once in the transaction"));
      if (!e.id.empty() && !targets.insert(e.type + "/" + e.id).second)
        return at_entry(e, Status(Err::invalid, e.type + "/" + e.id + " is the target of more than one entry"));
    }
  }
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return phase_of(entries[a].method) < phase_of(entries[b].method); });
  size_t k = 0;
  // 1. DELETE
  for (; k < order.size() && phase_of(entries[order[k]].method) == 0; ++k) {
    EntryRequest& e = entries[order[k]];
    auto r = remove(c, e, opt);
    if (!r) return at_entry(e, r.status());
    out.results[order[k]] = std::move(*r);
  }
  // 2. ids for every writing entry, so references can point forwards and backwards.
  std::map<std::string, std::string> refs;
  std::vector<std::string> target(entries.size());
  std::vector<char> exists(entries.size(), 0);
  std::set<std::string> written;
  for (size_t j = k; j < order.size() && phase_of(entries[order[j]].method) <= 2; ++j) {
    EntryRequest& e = entries[order[j]];
    bool ex = false;
    Status st = assign(c, e, opt, &target[order[j]], &ex);
    if (!st) return at_entry(e, st);
    exists[order[j]] = ex;
    if (!ex && !written.insert(e.type + "/" + target[order[j]]).second)
      return at_entry(e, Status(Err::invalid, e.type + "/" + target[order[j]] + " is the target of more than one entry"));
    if (!e.full_url.empty()) refs[e.full_url] = e.type + "/" + target[order[j]];
  }
  // 3. POST, then PUT/PATCH.
  std::map<std::string, std::string> cache;
  for (; k < order.size() && phase_of(entries[order[k]].method) <= 2; ++k) {
    size_t i = order[k];
    EntryRequest& e = entries[i];
    auto r = write(c, e, opt, target[i], exists[i], refs, &cache);
    if (!r) return at_entry(e, r.status());
    out.results[i] = std::move(*r);
  }
  // 4. GET
  size_t bytes = 0;
  for (; k < order.size(); ++k) {
    EntryRequest& e = entries[order[k]];
    if (opt.max_response_bytes && bytes > opt.max_response_bytes) return at_entry(e, response_budget_spent(opt));
    auto r = get(c, e, opt);
    if (!r) return at_entry(e, r.status());
    bytes += r->body.size();
    out.results[order[k]] = std::move(*r);
  }
  out.requests = std::move(entries);
  tally(out);
  return out;
}

BundleResult BundleProcessor::batch(std::vector<EntryRequest> entries, const BundleOptions& opt) {
  BundleResult out;
  out.type = "batch";
  out.results.resize(entries.size());
  std::map<std::string, std::string> refs;
  size_t bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    EntryRequest& e = entries[i];
    if (opt.max_response_bytes && bytes > opt.max_response_bytes) {
      out.results[i].outcome = Outcome::failed;
      out.results[i].error = response_budget_spent(opt);
      continue;
    }
    Result<EntryResult> r = Status(Err::internal, "not run");
    std::map<std::string, std::string> attempt = refs;
    Status st = repo_.db().write([&](store::Conn& c) -> Status {
      r = execute(c, e, opt, &attempt);
      return r.ok() ? Status() : r.status();
    });
    if (!st && r.ok()) r = st;  // the commit itself failed
    if (r.ok()) {
      bytes += r->body.size();
      out.results[i] = std::move(*r);
      refs = std::move(attempt);
    } else {
      out.results[i].outcome = Outcome::failed;
      out.results[i].error = r.status();
    }
  }
  out.requests = std::move(entries);
  tally(out);
  return out;
}

Result<BundleResult> BundleProcessor::process(json::Value bundle, const BundleOptions& opt) {
  std::string type;
  auto entries = parse(std::move(bundle), opt, &type);
  if (!entries) return entries.status();
  if (type == "batch") return batch(std::move(*entries), opt);
  Result<BundleResult> out = Status(Err::internal, "not run");
  Status st = repo_.db().write([&](store::Conn& c) -> Status {
    out = transaction(c, std::move(*entries), opt);
    return out.ok() ? Status() : out.status();
  });
  if (!st) return st;
  return out;
}

}  // namespace ef::service
