// service/bundle_import.cpp — part of BundleProcessor (bundle_processor.h): bulk import in two
// halves for the import engine (service/import.cpp).  prepare_import() (any thread, no
// database) prepares a Bundle of plain creates the importer can decide alone; commit_prepared()
// (inside the writer's transaction) stores them as transaction() would.
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
using bundle_detail::has_conditional_reference;
using bundle_detail::phase_of;
using bundle_detail::rewrite_known_references;
using bundle_detail::set_id;
using bundle_detail::tally;
using bundle_detail::urn_id;


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
    if (e.method == "POST") set_id(e.resource, target[i]);
    if (!rewrite_known_references(e.resource, refs, &cache) || !fhir::check_type_and_id(e.resource, e.type, target[i], true)) return false;
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

}  // namespace ef::service
