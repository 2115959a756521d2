// http/search.cpp — see search.h.  https://hl7.org/fhir/R4/search.html
#include "http/search.h"

#include "fhir/outcome.h"
#include "fhir/search_params.h"
#include "fhir/search_query.h"
#include "http/operations.h"
#include "http/url.h"

namespace ef::http {

namespace {

// URL query parameters, then (POST) the form body's.
// (operations.h's operation_params, which search shares; any other POST body is refused).
Result<fhir::QueryParams> request_params(Ctx& c) {
  if (c.req.method == "POST" && !c.req.body.empty()) {
    const std::string ct = media_type(c.header("Content-Type"));
    if (ct != "application/x-www-form-urlencoded")
      return Status(Err::unsupported_media, "POST _search takes an application/x-www-form-urlencoded body" +
                                                std::string(ct.empty() ? "" : ", not '" + ct + "'"));
  }
  return operation_params(c);
}

bool strict_handling(const Ctx& c) { return prefer_strict(c); }

// `path`: the search URL without query (for links).  `types`: searched type ("" = system).
void run(Ctx& c, auth::Interaction interaction, const std::string& type, const std::string& path,
         const std::function<Status(fhir::SearchQuery&)>& adjust) {
  auto params = request_params(c);
  if (!params) return send_error(c, params.status());
  fhir::SearchParseOptions po;
  po.strict = strict_handling(c);
  po.base_url = c.app.base_url;
  po.now_ms = c.app.clock->now_ms();
  auto parsed = fhir::parse_search(type, *params, po);
  if (!parsed) return send_error(c, parsed.status());
  fhir::SearchQuery& q = *parsed;
  if (adjust) {
    Status st = adjust(q);
    if (!st) return send_error(c, st);
  }
  bool count_only = q.summary == fhir::Summary::count;
  if (count_only) q.total = fhir::Total::accurate;
  // The caller's view is applied by the interaction layer, in the SQL (service/reads.h).
  auto found = c.app.service->search(*c.access, interaction, q);
  if (!found) return send_error(c, found.status());

  std::vector<fhir::BundleLink> links;
  links.push_back({"self", with_query(path, q.canonical)});
  std::vector<fhir::BundleEntry> entries;
  int64_t bundle_total = -1;
  if (found->count >= 0) {
    bundle_total = found->count;
  } else {
    store::SearchPage& pg = found->page;
    bundle_total = pg.total;
    links = paging_links(path, q.canonical, q.cursor, pg.prev_cursor, pg.next_cursor);
    entries.reserve(pg.matches.size() + pg.included.size() + 1);
    for (store::SearchRow& r : pg.matches) {
      fhir::BundleEntry e;
      e.full_url = c.app.base_url + "/" + r.type + "/" + r.id;
      e.resource_json = fhir::subset_resource(r.body, q.summary, q.elements);
      e.search_mode = "match";
      entries.push_back(std::move(e));
    }
    for (store::SearchRow& r : pg.included) {
      fhir::BundleEntry e;
      e.full_url = c.app.base_url + "/" + r.type + "/" + r.id;
      e.resource_json = fhir::subset_resource(r.body, q.summary, {});
      e.search_mode = "include";
      entries.push_back(std::move(e));
    }
    if (pg.includes_truncated) {
      fhir::Issue i;
      i.severity = "warning";
      i.code = "too-costly";
      i.diagnostics = "more than " + std::to_string(store::kMaxIncludes) +
                      " resources matched _include/_revinclude on this page; the rest were left out (use a smaller _count)";
      fhir::BundleEntry e;
      e.resource_json = json::write(fhir::operation_outcome(i));
      e.search_mode = "outcome";
      entries.push_back(std::move(e));
    }
  }
  if (!q.ignored.empty()) {
    std::vector<fhir::Issue> issues;
    for (const auto& ig : q.ignored) {
      fhir::Issue i;
      i.severity = "warning";
      i.code = "not-supported";
      i.diagnostics = ig.second + "; the parameter was ignored";
      i.expression = ig.first;
      issues.push_back(i);
    }
    fhir::BundleEntry e;
    e.resource_json = json::write(fhir::operation_outcome(issues));
    e.search_mode = "outcome";
    entries.push_back(std::move(e));
  }
  send_json(c, 200, fhir::write_bundle("searchset", bundle_total, links, entries, c.app.clock->now_ms(), false));
}

}  // namespace

void handle_search(Ctx& c, const std::string& type) {
  run(c, auth::Interaction::search_type, type, c.app.base_url + "/" + type, nullptr);
}

void handle_system_search(Ctx& c) {
  run(c, auth::Interaction::search_system, "", c.app.base_url, nullptr);
}

void handle_compartment_search(Ctx& c, const std::string& ctype, const std::string& cid, const std::string& type) {
  if (ctype != "Patient")
    return send_error(c, Status(Err::not_supported, "only the Patient compartment is supported, not " + ctype));
  const auto& reg = fhir::registry();
  std::string path = c.app.base_url + "/Patient/" + cid + "/" + type;
  if (type == "*") {
    run(c, auth::Interaction::search_compartment, "", path, [&](fhir::SearchQuery& q) -> Status {
      if (q.types.empty()) {
        for (const std::string& t : reg.all_resource_types())
          if (patient_compartment_type(t)) q.types.push_back(t);
      }
      q.compartment_patient = cid;
      return Status();
    });
    return;
  }
  if (!reg.is_resource_type(type))
    return send_error(c, Status(Err::not_found, "'" + type + "' is not a FHIR R4 resource type"));
  if (type != "Patient" && reg.compartment_params(type).empty())
    return send_error(c, Status(Err::invalid, type + " resources are not in the Patient compartment"));
  run(c, auth::Interaction::search_compartment, type, path, [&](fhir::SearchQuery& q) -> Status {
    q.compartment_patient = cid;
    return Status();
  });
}

}  // namespace ef::http
