// service/bundle_entry.cpp — part of BundleProcessor (bundle_processor.h): one entry inside
// the caller's write transaction, the path of every write, conditional or not, whether from a
// Bundle or a direct HTTP request (execute()): assign() decides the id a POST/PUT/PATCH writes
// (resolving conditions and ifNoneExist), write() / remove() / get() run it, with the caller's
// Access applied to targets and proposed content (check_target(), check_content()).
// prepare_create() / write_prepared_create(): a plain create (Service::execute) with the same
// checks made before it queues for the writer, so that the writer only stores it.
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

using bundle_detail::set_id;
using bundle_detail::urn_id;

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

void bundle_detail::set_id(json::Value& res, const std::string& id) {
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
std::string bundle_detail::urn_id(const EntryRequest& e) {
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

// By value: a caller passing std::move(result) hands its body over without a copy.
static EntryResult from_write(WriteResult w) {
  EntryResult r;
  r.outcome = w.created ? Outcome::created : w.unchanged ? Outcome::unchanged : Outcome::updated;
  r.type = std::move(w.type);
  r.id = std::move(w.id);
  r.version = w.version;
  r.last_updated = w.last_updated;
  r.body = std::move(w.body);
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

bool BundleProcessor::prepare_create(EntryRequest& e, const BundleOptions& opt, Repository::Prepared* out) const {
  if (e.method != "POST" || !e.if_none_exist.empty() || opt.ids_from_urn || !json::is_object(e.resource) ||
      e.type.empty() || fhir::resource_type_of(e.resource) != e.type)
    return false;
  // Meta's id and extension come before versionId in definition order: the writer could not
  // restamp lastUpdated in place (Repository::Prepared::stamp_at).
  if (const json::Value* meta = json::get(e.resource, "meta"))
    if (json::get(*meta, "id") || json::get(*meta, "extension")) return false;
  const Access& a = *opt.access;
  if (!a.require(Interaction::create, e.type)) return false;
  // What write() does for a POST with no Bundle around it (refs empty): a conditional
  // reference needs the database; a urn placeholder is an error the general path reports.
  if (bundle_detail::has_conditional_reference(e.resource)) return false;
  // With no Bundle around it nothing is rewritten (refs empty): the walk only refuses urn
  // placeholders, and every check below leaves e.resource as it was for the general path.
  json::Value& res = e.resource;
  std::map<std::string, std::string> none, cache;
  if (!bundle_detail::rewrite_known_references(res, none, &cache)) return false;
  std::string target = Repository::new_id();
  if (!check_content(a, Interaction::create, res, target, true)) return false;
  // Repository::create's checks (type and id, validation.on_write).
  if (!fhir::check_type_and_id(res, e.type, "", false)) return false;
  if (!repo_.check(res, nullptr)) return false;
  *out = repo_.prepare_create(e.type, target, std::move(e.resource), repo_.clock().now_ms());
  e.resource = json::Value();
  return true;
}

Result<EntryResult> BundleProcessor::write_prepared_create(store::Conn& c, Repository::Prepared& p) {
  auto w = repo_.write_prepared_create(c, p);
  if (!w) return w.status();
  return from_write(std::move(*w));
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

}  // namespace ef::service
